"""Tool results for lookups and actions (weather, travel, maps, shopping, calendar, messaging, files,
devices, sports): sampled values that agree with the call (the forecast is for the asked city and date,
a booking echoes its dates), and replies that report them."""

from __future__ import annotations

import datetime as dt

from calltune.synth import pools
from calltune.synth.catalogue_personal import EVENT_TITLES, SUBJECTS
from calltune.synth.catalogue_travel import flight_number
from calltune.synth.results import code, day, join, num
from calltune.synth.slots import email

CONDITIONS = ("sunny", "partly cloudy", "overcast", "light rain", "heavy rain", "foggy", "windy", "snowing",
              "clear")
CARRIERS = ("DHL", "UPS", "FedEx", "La Poste", "Royal Mail", "DPD")
BRANDS = ("Acme", "Nordic", "Zenith", "Orbit", "Kestrel", "Lumen", "Vertex", "Aurora", "Summit", "Pixel")
PLACE_NOUNS = {"restaurant": ("Bistro", "Trattoria", "Kitchen", "Grill"), "cafe": ("Cafe", "Coffee Bar", "Espresso"),
               "pharmacy": ("Pharmacy", "Chemist"), "gas_station": ("Fuel", "Gas Station"),
               "atm": ("Bank ATM", "Savings ATM"), "parking": ("Parking", "Car Park")}
PLACE_WORDS = {"restaurant": "restaurant", "cafe": "cafe", "pharmacy": "pharmacy", "gas_station": "gas station",
               "atm": "ATM", "parking": "parking garage"}
ROOM_WORDS = {"single": "single room", "double": "double room", "suite": "suite"}
CAR_WORDS = {"compact": "compact car", "suv": "SUV", "van": "minivan", "convertible": "convertible"}
STATUS_WORDS = {"on time": "is on time", "boarding": "is boarding", "landed": "has landed"}
MODE_WORDS = {"driving": "by car", "walking": "on foot", "bicycling": "by bike", "transit": "by public transport"}
KMH = {"driving": 55, "walking": 5, "bicycling": 16, "transit": 28}
USD_RATE = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 150.0, "CHF": 0.88, "CAD": 1.36, "AUD": 1.52, "INR": 83.0,
            "MXN": 17.0}
PERIOD_WORDS = {"1m": "past month", "6m": "past six months", "1y": "past year", "5y": "past five years"}
KCAL_PER_100G = {"banana": 89, "apple": 52, "avocado": 160, "oatmeal": 68, "greek yogurt": 59, "almonds": 579,
                 "brown rice": 112, "salmon": 208, "chicken breast": 165, "broccoli": 34, "lentils": 116, "egg": 155,
                 "quinoa": 120, "sweet potato": 86, "peanut butter": 588}
KCAL_PER_MINUTE = {"running": 11, "cycling": 8, "swimming": 9, "rowing": 8, "hiking": 7, "yoga": 4,
                   "weightlifting": 6, "walking": 4}
SPORTS = {"basketball": ("Lakers", "Celtics", "Warriors", "Bulls"),
          "football": ("Arsenal", "Liverpool", "Real Madrid", "Barcelona FC", "Bayern Munich", "Juventus", "Ajax",
                       "Benfica", "Celtic", "Boca Juniors", "Flamengo", "Inter Miami"),
          "baseball": ("Yankees", "Red Sox", "Dodgers"), "american_football": ("Patriots", "Packers", "Chiefs"),
          "hockey": ("Maple Leafs", "Canadiens")}
SCORES = {"basketball": (85, 130), "football": (0, 4), "baseball": (0, 9), "american_football": (3, 38),
          "hockey": (0, 6)}


def _time(rng, lo: int = 6, hi: int = 22) -> str:
    return f"{rng.randint(lo, hi):02d}:{rng.choice((0, 10, 15, 20, 30, 40, 45, 50)):02d}"


def _later(hhmm: str, minutes: int) -> str:
    total = (int(hhmm[:2]) * 60 + int(hhmm[3:]) + minutes) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"


def _date(rng, after: str | None = None) -> str:
    start = dt.date.fromisoformat(after) if after else dt.date(2025, 1, 1)
    return (start + dt.timedelta(days=rng.randint(1, 14 if after else 700))).isoformat()


def _sport(team: str) -> str:
    return next((s for s, teams in SPORTS.items() if team in teams), "football")


# -- weather -------------------------------------------------------------------------------------

def weather_now(rng, a):
    fahrenheit = a.get("temperature_unit") == "fahrenheit"
    celsius = rng.randint(-5, 34)
    r = {"location": a["location"], "temperature": round(celsius * 9 / 5 + 32) if fahrenheit else celsius,
         "unit": "°F" if fahrenheit else "°C", "conditions": rng.choice(CONDITIONS), "wind_kph": rng.randint(0, 45),
         "humidity_percent": rng.randint(20, 95)}
    t = f"{r['temperature']}{r['unit']}"
    return r, (f"It's {t} and {r['conditions']} in {a['location']} right now, with wind at {r['wind_kph']} km/h.",
               f"{a['location']}: {t}, {r['conditions']}, humidity {r['humidity_percent']}%.")


def forecast(rng, a):
    low = rng.randint(-8, 24)
    r = {"location": a["location"], "date": a["date"], "high_c": low + rng.randint(3, 12), "low_c": low,
         "conditions": rng.choice(CONDITIONS), "chance_of_rain_percent": rng.choice(range(0, 101, 5))}
    return r, (f"On {day(a['date'])} {a['location']} should be {r['conditions']}, with a high of {r['high_c']}°C, "
               f"a low of {r['low_c']}°C and a {r['chance_of_rain_percent']}% chance of rain.",
               f"Forecast for {a['location']} on {day(a['date'])}: {r['conditions']}, {r['low_c']} to "
               f"{r['high_c']}°C.")


def air_quality(rng, a):
    aqi = rng.randint(8, 180)
    band = "good" if aqi <= 50 else "moderate" if aqi <= 100 else "unhealthy for sensitive groups" \
        if aqi <= 150 else "unhealthy"
    r = {"city": a["city"], "aqi": aqi, "category": band,
         "pollutant": a.get("pollutant") or rng.choice(("pm25", "pm10", "ozone", "no2"))}
    return r, (f"The air quality index in {a['city']} is {aqi}, which is {band}.",
               f"{a['city']} currently has an AQI of {aqi} ({band}).")


def daylight(rng, a):
    rise, hours = _time(rng, 5, 8), rng.randint(8, 16)
    r = {"place": a["place"], "sunrise": rise, "sunset": _later(rise, hours * 60 + rng.randint(0, 59))}
    return r, (f"In {a['place']} the sun rises at {r['sunrise']} and sets at {r['sunset']}.",)


def alerts(rng, a):
    if rng.random() < 0.5:
        return {"region": a["region"], "alerts": []}, (f"There are no active weather warnings for {a['region']}.",)
    alert = {"type": rng.choice(("thunderstorm", "flood", "heat", "wind", "snow")),
             "severity": rng.choice(("moderate", "severe", "extreme")), "until": _time(rng, 12, 23)}
    return {"region": a["region"], "alerts": [alert]}, (
        f"There is a {alert['severity']} {alert['type']} warning for {a['region']} until {alert['until']}.",)


# -- travel and maps -----------------------------------------------------------------------------

def flights(rng, a):
    found = []
    for _ in range(rng.randint(2, 4)):
        dep = _time(rng)
        found.append({"flight_number": flight_number(rng), "departure": dep,
                      "arrival": _later(dep, rng.randint(50, 720)),
                      "stops": 0 if a.get("nonstop_only") else rng.choice((0, 0, 1)),
                      "price": rng.randint(49, 900), "currency": "EUR"})
    cheapest = min(found, key=lambda f: f["price"])
    r = {"origin": a["origin"], "destination": a["destination"], "date": a["date"], "count": len(found),
         "flights": found}
    return r, (f"I found {len(found)} flights from {a['origin']} to {a['destination']} on {day(a['date'])}. The "
               f"cheapest is {cheapest['flight_number']} at {cheapest['price']} EUR, leaving at "
               f"{cheapest['departure']}.",)


def hotel(rng, a):
    room = a.get("room_type", "double")
    r = {"confirmation": code(rng, "HTL-"), "hotel": a["hotel_name"], "check_in": a["check_in"],
         "nights": a["nights"], "room_type": room, "total_price": a["nights"] * rng.randint(70, 320), "currency": "EUR"}
    return r, (f"You're booked at {a['hotel_name']}: a {ROOM_WORDS[room]} from {day(a['check_in'])} for {a['nights']} "
               f"nights, {r['total_price']} EUR in total. Confirmation number {r['confirmation']}.",)


def visa(rng, a):
    if rng.random() < 0.4:
        r = {"visa_required": True, "visa_type": rng.choice(("e-visa", "tourist visa")), "max_stay_days": None}
        return r, (f"Yes, {a['citizenship']} citizens need a visa ({r['visa_type']}) to visit {a['destination']}.",)
    r = {"visa_required": False, "visa_type": None, "max_stay_days": rng.choice((30, 90, 180))}
    return r, (f"No visa is needed: {a['citizenship']} citizens can stay in {a['destination']} for up to "
               f"{r['max_stay_days']} days.",)


def car(rng, a):
    r = {"reservation_id": code(rng, "CAR-"), "pickup_city": a["pickup_city"], "pickup_date": a["pickup_date"],
         "days": a["days"], "car_type": a.get("car_type", "compact"), "total_price": a["days"] * rng.randint(25, 120),
         "currency": "EUR"}
    return r, (f"Your {CAR_WORDS[r['car_type']]} is reserved in {a['pickup_city']} from {day(a['pickup_date'])} for "
               f"{a['days']} days ({r['total_price']} EUR). Reservation {r['reservation_id']}.",)


def flight_status(rng, a):
    status = rng.choice(("on time", "delayed", "boarding", "landed"))
    r = {"flight_number": a["flight_number"], "status": status, "gate": f"{rng.choice('ABCDE')}{rng.randint(1, 40)}",
         "delay_minutes": rng.choice((15, 25, 40, 70)) if status == "delayed" else 0}
    if status == "delayed":
        return r, (f"{a['flight_number']} is delayed by {r['delay_minutes']} minutes; it leaves from gate "
                   f"{r['gate']}.",)
    return r, (f"{a['flight_number']} {STATUS_WORDS[status]} (gate {r['gate']}).",)


def directions(rng, a):
    mode = a.get("mode", "driving")
    km = num(rng.uniform(0.5, 4) if mode == "walking" else rng.uniform(1, 30), 1)
    r = {"origin": a["origin"], "destination": a["destination"], "mode": mode, "distance_km": km,
         "duration_minutes": max(2, round(km / KMH[mode] * 60)), "steps": rng.randint(3, 12)}
    return r, (f"From {a['origin']} to {a['destination']} {MODE_WORDS[mode]} it's {km} km, about "
               f"{r['duration_minutes']} minutes.",)


def nearby(rng, a):
    places = []
    for _ in range(rng.randint(2, 4)):
        last, noun = rng.choice(pools.LAST_NAMES), rng.choice(PLACE_NOUNS[a["category"]])
        name = f"{last} {noun}" if rng.random() < 0.5 else f"{noun} {last}"
        if name not in [p["name"] for p in places]:
            places.append({"name": name, "distance_m": rng.randint(80, a.get("radius_m", 1000)),
                           "rating": num(rng.uniform(3.2, 5.0), 1), "open_now": True if a.get("open_now") else
                           rng.random() < 0.8})
    places.sort(key=lambda p: p["distance_m"])
    r = {"location": a["location"], "category": a["category"], "count": len(places), "places": places}
    return r, (f"The closest {PLACE_WORDS[a['category']]} to {a['location']} is {places[0]['name']}, "
               f"{places[0]['distance_m']} m away.",
               f"I found {len(places)} options near {a['location']}; {places[0]['name']} is the nearest at "
               f"{places[0]['distance_m']} m.")


def road_distance(rng, a):
    unit, km = a.get("distance_unit", "km"), rng.randint(40, 2500)
    r = {"distance": km if unit == "km" else round(km / 1.609), "unit": unit, "driving_hours": num(km / 80, 1)}
    return r, (f"{a['origin']} to {a['destination']} is {r['distance']} {unit} by road, about {r['driving_hours']} "
               f"hours of driving.",)


def multi_stop(rng, a):
    order = list(a["stops"])
    rng.shuffle(order)
    order += order[:1] if a.get("return_to_start") else []
    r = {"order": order, "total_km": num(rng.uniform(2, 25), 1)}
    return r, (f"The most efficient order is {' -> '.join(order)}, about {r['total_km']} km in total.",)


# -- shopping ------------------------------------------------------------------------------------

def products(rng, a):
    found, cap = [], a.get("max_price", 800)
    for _ in range(rng.randint(2, 4)):
        found.append({"product_id": code(rng, "SKU-"), "name": f"{rng.choice(BRANDS)} {a['query']}",
                      "price": num(rng.uniform(max(5, cap / 8), cap)), "rating": num(rng.uniform(3.0, 5.0), 1)})
    key = {"price_asc": lambda p: p["price"], "price_desc": lambda p: -p["price"],
           "rating": lambda p: -p["rating"]}.get(a.get("sort_by", "rating"))
    if key is not None:  # "newest" keeps the shop's order
        found.sort(key=key)
    r = {"query": a["query"], "count": len(found), "results": found}
    top = found[0]
    return r, (f"I found {len(found)} results for {a['query']}. The first is the {top['name']} "
               f"({top['product_id']}) at "
               f"{top['price']}, rated {top['rating']}.",)


def track(rng, a):
    status = rng.choice(("processing", "shipped", "in transit", "out for delivery", "delivered"))
    r = {"order_id": a["order_id"], "status": status, "carrier": rng.choice(CARRIERS),
         "estimated_delivery": None if status == "delivered" else _date(rng)}
    if status == "delivered":
        return r, (f"Order {a['order_id']} has been delivered by {r['carrier']}.",)
    return r, (f"Order {a['order_id']} is {status} with {r['carrier']}; expected delivery "
               f"{day(r['estimated_delivery'])}.",)


def cart(rng, a):
    r = {"product_id": a["product_id"], "quantity": a["quantity"], "cart_items": a["quantity"] + rng.randint(0, 6)}
    return r, (f"Added {a['quantity']} of {a['product_id']} to your cart, which now holds {r['cart_items']} items.",)


def return_item(rng, a):
    r = {"return_id": code(rng, "RET-"), "order_id": a["order_id"], "refund": rng.choice(("original payment",
                                                                                         "store credit"))}
    return r, (f"Return {r['return_id']} is open for order {a['order_id']}; the refund goes to your {r['refund']}.",)


def coupon(rng, a):
    if rng.random() < 0.2:
        return {"code": a["code"], "valid": False}, (f"Sorry, the code {a['code']} isn't valid.",)
    r = {"code": a["code"], "valid": True, "discount_percent": rng.choice((5, 10, 15, 20, 25))}
    return r, (f"Code {a['code']} applied: {r['discount_percent']}% off your cart.",)


def availability(rng, a):
    stores = [{"store": f"{rng.choice(pools.CITIES)} {rng.choice(('Central', 'Mall', 'Station', 'Outlet'))}",
               "in_stock": rng.randint(0, 12)} for _ in range(rng.randint(1, 3))]
    r = {"product": a["product"], "zip_code": a["zip_code"], "stores": stores}
    stocked = [s for s in stores if s["in_stock"]]
    if not stocked:
        return r, (f"No store near {a['zip_code']} has the {a['product']} in stock right now.",)
    return r, (f"{stocked[0]['store']} has {stocked[0]['in_stock']} in stock near {a['zip_code']}.",)


def new_address(rng, a):
    ad = a["address"]
    r = {"order_id": a["order_id"], "updated": True}
    return r, (f"Order {a['order_id']} will now ship to {ad['street']}, {ad['city']} {ad['zip']}.",)


# -- calendar and messaging ----------------------------------------------------------------------

def create_event(rng, a):
    r = {"event_id": code(rng, "EVT-"), "title": a["title"], "date": a["date"], "start_time": a["start_time"]}
    return r, (f"\"{a['title']}\" is on your calendar for {day(a['date'])} at {a['start_time']} (id {r['event_id']}).",)


def list_events(rng, a):
    titles = list(EVENT_TITLES)
    rng.shuffle(titles)
    events, start = [], rng.randint(8, 12)
    for title in titles[:rng.randint(1, 3)]:
        begin = f"{start:02d}:{rng.choice((0, 30)):02d}"
        events.append({"event_id": code(rng, "EVT-"), "title": title, "start_time": begin,
                       "end_time": _later(begin, rng.choice((30, 60, 90)))})
        start += rng.randint(2, 3)
    r = {"date": a["date"], "count": len(events), "events": events}
    count = "one event" if len(events) == 1 else f"{len(events)} events"
    return r, (f"You have {count} on {day(a['date'])}: " +
               join([f"{e['title']} at {e['start_time']}" for e in events]) + ".",)


def cancel_event(rng, a):
    notify = a.get("notify_attendees", True)
    r = {"event_id": a["event_id"], "cancelled": True, "attendees_notified": rng.randint(1, 8) if notify else 0}
    return r, (f"Event {a['event_id']} is cancelled" + (f" and {r['attendees_notified']} attendees were notified."
                                                        if notify else "."),)


def free_slot(rng, a):
    slots, start = [], rng.randint(9, 11) * 60
    for _ in range(rng.randint(1, 3)):
        begin = f"{start // 60:02d}:{start % 60:02d}"
        slots.append({"start": begin, "end": _later(begin, a["duration_minutes"])})
        start += a["duration_minutes"] + rng.choice((30, 60, 120))
    r = {"date": a["date"], "slots": slots}
    return r, (f"Everyone is free on {day(a['date'])} at " + join([s["start"] for s in slots]) + ".",)


def reminder(rng, a):
    r = {"reminder_id": code(rng, "REM-"), "date": a["date"], "time": a["time"]}
    return r, (f"I'll remind you to {a['message']} on {day(a['date'])} at {a['time']}.",)


def send_email(rng, a):
    r = {"message_id": code(rng, "MSG-"), "status": "sent"}
    return r, (f"Your email to {a['to']} (\"{a['subject']}\") has been sent.",)


def send_sms(rng, a):
    r = {"message_id": code(rng, "SMS-"), "status": "delivered"}
    return r, (f"Your text to {a['phone_number']} was delivered.",)


def post_message(rng, a):
    r = {"channel": a["channel"], "message_id": code(rng, "POST-"), "pinned": bool(a.get("pin"))}
    return r, (f"Posted in #{a['channel']}" + (" and pinned." if r["pinned"] else "."),)


def inbox(rng, a):
    mails = [{"from": email(rng), "subject": rng.choice(SUBJECTS), "date": _date(rng), "unread": rng.random() < 0.5}
             for _ in range(rng.randint(1, 3))]
    if a.get("sender"):
        for mail in mails:
            mail["from"] = a["sender"]
    r = {"query": a["query"], "count": len(mails), "messages": mails}
    return r, (f"I found {len(mails)} message(s) about {a['query']}; the latest is \"{mails[0]['subject']}\" from "
               f"{mails[0]['from']}.",)


# -- health --------------------------------------------------------------------------------------

def meal(rng, a):
    r = {"entry_id": code(rng, "MEAL-"), "calories": round(a["grams"] * KCAL_PER_100G.get(a["food"], 150) / 100)}
    return r, (f"Logged {a['grams']} g of {a['food']} for {a['meal']}: about {r['calories']} kcal.",)


def workout(rng, a):
    r = {"entry_id": code(rng, "FIT-"),
         "calories_burned": a["duration_minutes"] * KCAL_PER_MINUTE.get(a["activity"], 6)}
    return r, (f"Logged {a['duration_minutes']} minutes of {a['activity']}, roughly {r['calories_burned']} kcal "
               "burned.",)


def doctor(rng, a):
    r = {"appointment_id": code(rng, "APT-"), "doctor": f"Dr. {rng.choice(pools.LAST_NAMES)}", "date": a["date"],
         "time": a.get("time") or _time(rng, 8, 17)}
    return r, (f"You're booked with {r['doctor']} on {day(a['date'])} at {r['time']}.",)


# -- files and devices ---------------------------------------------------------------------------

def listing(rng, a):
    stems = list(pools.FILE_STEMS)
    rng.shuffle(stems)
    files = [{"name": f"{stem}.{rng.choice(('pdf', 'csv', 'txt', 'docx', 'md'))}", "size_kb": rng.randint(1, 900)}
             for stem in stems[:rng.randint(2, 5)]]
    for f in files:
        f["path"] = f"{a['path']}/{f['name']}"
    r = {"path": a["path"], "count": len(files), "files": files}
    return r, (f"{a['path']} contains {len(files)} files: " + join([f["name"] for f in files]) + ".",)


def move(rng, a):
    r = {"new_path": f"{a['destination']}/{a['source'].rsplit('/', 1)[-1]}", "moved": True}
    return r, (f"Moved it; the file is now at {r['new_path']}.",)


def find_files(rng, a):
    ext = a.get("file_type") or rng.choice(("pdf", "csv", "docx", "xlsx", "txt"))
    names = [f"{a['name_contains']}{suffix}.{ext}" for suffix in ("", "_old", "_2024", "_final", "_v2")]
    rng.shuffle(names)
    matches = [f"{a['directory']}/{name}" for name in names[:rng.randint(1, 3)]]
    r = {"directory": a["directory"], "count": len(matches), "matches": matches}
    return r, (f"I found {len(matches)} matching file(s): " + join(matches) + ".",)


def archive(rng, a):
    r = {"archive": a["archive_name"], "files": len(a["paths"]), "size_kb": rng.randint(20, 5000)}
    return r, (f"Created {a['archive_name']} with {r['files']} files ({r['size_kb']} KB).",)


def delete(rng, a):
    r = {"path": a["path"], "deleted": True, "in_trash": not a.get("permanent", False)}
    return r, (f"Deleted {a['path']}" + (" (it's in the trash)." if r["in_trash"] else " permanently."),)


def thermostat(rng, a):
    r = {"room": a["room"], "target_c": a["temperature"], "mode": a.get("mode", "auto"),
         "current_c": num(rng.uniform(15, 27), 1)}
    return r, (f"The {a['room']} thermostat is set to {a['temperature']}°C; it's {r['current_c']}°C in there now.",)


def device_power(rng, a):
    state = "on" if a["on"] else "off"
    return {"device": a["device"], "room": a["room"], "state": state}, (
        f"The {a['device']} in the {a['room']} is now {state}.",)


def lights(rng, a):
    r = {"room": a["room"], "brightness_percent": a["brightness_percent"], "color": a.get("color")}
    return r, (f"The {a['room']} lights are at {a['brightness_percent']}%.",)


def lock(rng, a):
    return {"door": a["door"], "locked": True}, (f"The {a['door']} door is locked.",)


def vacuum(rng, a):
    r = {"rooms": a["rooms"], "estimated_minutes": 12 * len(a["rooms"]) + rng.randint(0, 15)}
    return r, (f"The vacuum is cleaning the {join(a['rooms'])}; it should take about {r['estimated_minutes']} "
               "minutes.",)


def battery(rng, a):
    r = {"device_id": a["device_id"], "battery_percent": rng.randint(3, 100), "charging": rng.random() < 0.3}
    charging = " and charging." if r["charging"] else "."
    return r, (f"{a['device_id']} is at {r['battery_percent']}% battery{charging}",)


# -- sports --------------------------------------------------------------------------------------

def match(rng, a):
    sport = _sport(a["team"])
    lo, hi = SCORES[sport]
    opponent = rng.choice([t for t in SPORTS[sport] if t != a["team"]])
    ours, theirs = rng.randint(lo, hi), rng.randint(lo, hi)
    r = {"team": a["team"], "opponent": opponent, "date": a.get("date") or _date(rng), "score": f"{ours}-{theirs}"}
    verb = "beat" if ours > theirs else "lost to" if ours < theirs else "drew with"
    return r, (f"{a['team']} {verb} {opponent} {ours}-{theirs} on {day(r['date'])}.",)


def fixtures(rng, a):
    sport = _sport(a["team"])
    others = [t for t in SPORTS[sport] if t != a["team"]]
    rng.shuffle(others)
    when, games = _date(rng), []
    for opponent in (others * 3)[:a.get("count", 3)]:
        games.append({"opponent": opponent, "date": when, "home": rng.random() < 0.5})
        when = _date(rng, when)
    r = {"team": a["team"], "fixtures": games}
    return r, (f"Next up for {a['team']}: {games[0]['opponent']} on {day(games[0]['date'])}.",)


def head_to_head(rng, a):
    n = a.get("last_n", rng.randint(6, 20))
    wins_a = rng.randint(0, n)
    wins_b = rng.randint(0, n - wins_a)
    r = {"team_a": a["team_a"], "team_b": a["team_b"], "meetings": n, "wins_a": wins_a, "wins_b": wins_b,
         "draws": n - wins_a - wins_b}
    return r, (f"In {n} meetings {a['team_a']} won {wins_a}, {a['team_b']} won {wins_b}, and {r['draws']} "
               f"ended level.",)


# -- finance lookups -----------------------------------------------------------------------------

def _rate(rng, base: str, quote: str) -> float:
    return num(USD_RATE[quote] / USD_RATE[base] * rng.uniform(0.98, 1.02), 4)


def quote(rng, a):
    r = {"ticker": a["ticker"], "price": num(rng.uniform(8, 900)), "currency": "USD",
         "change_percent": num(rng.uniform(-4, 4))}
    return r, (f"{a['ticker']} is trading at {r['price']} USD ({r['change_percent']:+}% today).",)


def performance(rng, a):
    returns = {t: num(rng.uniform(-30, 60), 1) for t in a["tickers"]}
    best, worst = max(returns, key=returns.get), min(returns, key=returns.get)
    r = {"period": a["period"], "returns_percent": returns}
    return r, (f"Over the {PERIOD_WORDS[a['period']]}, {best} did best ({returns[best]}%) and {worst} worst "
               f"({returns[worst]}%).",)


def exchange(rng, a):
    rate = _rate(rng, a["currency_from"], a["currency_to"])
    r = {"rate": rate, "converted": num(a["amount"] * rate), "currency": a["currency_to"]}
    return r, (f"{a['amount']} {a['currency_from']} is {r['converted']} {a['currency_to']} at a rate of {rate}.",)


def pair_rate(rng, a):
    r = {"base": a["base"], "quote": a["quote"], "rate": _rate(rng, a["base"], a["quote"]), "date": a.get("date")}
    when = f" on {day(a['date'])}" if a.get("date") else " today"
    return r, (f"The {a['base']} to {a['quote']} exchange rate{when} is {r['rate']}.",)


OUTCOMES = {
    "current_weather_report": weather_now, "get_weather_forecast": forecast, "city_air_pollution_level": air_quality,
    "daylight_times": daylight, "get_weather_alerts": alerts, "search_flights": flights, "reserve_hotel_room": hotel,
    "get_visa_requirements": visa, "rent_car": car, "get_flight_status": flight_status,
    "route_directions": directions, "find_nearby_places": nearby, "road_distance_between": road_distance,
    "plan_multi_stop_route": multi_stop, "search_products": products, "track_order": track, "add_to_cart": cart,
    "return_item": return_item, "apply_coupon": coupon, "check_product_availability": availability,
    "update_shipping_address": new_address, "create_calendar_event": create_event,
    "list_calendar_events": list_events, "cancel_calendar_event": cancel_event, "find_free_slot": free_slot,
    "set_reminder": reminder, "compose_email": send_email, "send_text_message": send_sms,
    "post_channel_message": post_message, "search_inbox": inbox, "log_meal": meal, "log_workout": workout,
    "book_doctor_appointment": doctor, "list_directory": listing, "move_file": move, "search_files": find_files,
    "compress_files": archive, "delete_file": delete, "set_thermostat": thermostat, "set_device_power": device_power,
    "set_light_brightness": lights, "lock_door": lock, "start_robot_vacuum": vacuum, "get_device_battery": battery,
    "get_match_result": match, "get_upcoming_fixtures": fixtures, "get_head_to_head": head_to_head,
    "stock_quote": quote, "compare_stock_performance": performance, "exchange_money": exchange,
    "currency_pair_rate": pair_rate,
}
