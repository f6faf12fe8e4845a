"""Word lists of the procedural tool composer (`composer.py`): domains, the things their tools act on,
and parameter slots. Plain data, no logic.

A slot is `(name, label, param, mentions)`: the snake_case parameter name, a short noun phrase for
descriptions and replies ("bed number"), a `slots.Param` without description (the composer writes it),
and how a user states a value, `{v}` standing for the value (" in bed {v}"). A domain is
`(key, label, objects, slots)`, objects being `(singular, plural)` pairs.
"""

from calltune.synth import pools
from calltune.synth.slots import (array, choice, date, email, flag, integer, number, obj, person, street, text, time,
                                  zip_code)


def s(name: str, label: str, param, *mentions: str) -> tuple:
    return name, label, param, mentions


PRIORITY = {"low": (), "medium": ("normal",), "high": (), "urgent": ("critical",)}

# Filters and options any domain's tools may take.
GENERIC = {
    "limit": s("limit", "maximum number of results", integer("", 1, 50), ", showing at most {v} results",
               " (no more than {v} results)", ", limited to {v} results"),
    "page": s("page", "page of results", integer("", 2, 20), ", page {v} of the results", " (results page {v})"),
    "sort_order": s("sort_order", "sort order", choice("", {"ascending": ("oldest first", "in ascending order"),
                                                              "descending": ("newest first", "in descending order")}),
                    ", sorted {v}", " sorted {v}"),
    "include_archived": s("include_archived", "include archived records",
                          flag("", ("including archived ones", "archived ones too"),
                               ("excluding archived ones", "leaving out archived ones")), ", {v}", " ({v})"),
    "created_after": s("created_after", "earliest creation date", date(""), " created after {v}",
                       " added since {v}"),
    "tags": s("tags", "tags", array("", text("", ("urgent", "draft", "review", "q3", "internal", "followup",
                                                   "backlog", "vip", "seasonal")), lo=2, hi=3),
              " tagged {v}", ", with the tags {v}"),
    "notify": s("notify", "notify the people involved",
                flag("", ("and notify everyone involved", "and send a notification"),
                     ("without notifying anyone", "and don't send any notification")), " {v}", ", {v}"),
    "reason": s("reason", "reason", text("", ("duplicate entry", "no longer needed", "entered by mistake",
                                               "customer request", "budget cut", "plans changed")),
                " (reason: {v})", ", giving the reason {v}"),
    "file_format": s("file_format", "file format",
                     choice("", {"csv": ("a CSV file",), "pdf": ("a PDF",), "xlsx": ("an Excel sheet", "a spreadsheet"),
                                 "json": ("a JSON file",)}), " as {v}"),
    "recipient": s("recipient", "recipient's email address", text("", email), " with {v}", " to {v}"),
    "access": s("access", "access level", choice("", {"read_only": ("read-only access", "view-only access"),
                                                    "read_write": ("edit access", "write access"),
                                                    "full_control": ("admin rights", "full control")}),
                " with {v}", ", giving {v}"),
}

DOMAINS = (
    ("garden", "garden planner", (("seed order", "seed orders"), ("planting plan", "planting plans"),
                                  ("watering schedule", "watering schedules")), (
        s("plant", "plant", text("", ("tomato", "basil", "lavender", "sunflower", "kale", "courgette", "mint",
                                      "chili pepper", "rosemary")), " for {v}", " for the {v}"),
        s("bed_number", "bed number", integer("", 1, 40), " in bed {v}", " for bed number {v}"),
        s("area_sqm", "area in square meters", number("", 1, 60, decimals=1), " covering {v} square meters"),
        s("organic_only", "use organic supplies only", flag("", ("organic only", "using organic supplies only"),
                                                            ("organic or not", "any supplies, not only organic")),
          ", {v}"))),
    ("fleet", "vehicle fleet tracker", (("vehicle", "vehicles"), ("service ticket", "service tickets"),
                                        ("fuel log", "fuel logs")), (
        s("plate_number", "licence plate", text("", ("KX-4821", "BR-1177", "MT-9034", "LV-6620", "QD-3158", "ZN-7749")),
          " for plate {v}", " with licence plate {v}"),
        s("odometer_km", "odometer reading in kilometres", integer("", 1000, 250000, words=False),
          " at {v} km", " with {v} km on the clock"),
        s("vehicle_class", "vehicle class", choice("", {"van": ("delivery van",), "truck": ("lorry",),
                                                         "sedan": ("saloon car",), "motorbike": ("motorcycle",)}),
          " for a {v}", " ({v})"),
        s("driver", "driver's name", text("", person), " driven by {v}", " assigned to {v}"))),
    ("kitchen", "meal planning app", (("meal plan", "meal plans"), ("recipe card", "recipe cards"),
                                      ("pantry item", "pantry items")), (
        s("ingredient", "main ingredient", text("", pools.FOODS), " with {v}", " using {v}"),
        s("servings", "number of servings", integer("", 1, 12), " for {v} servings", " serving {v} people"),
        s("diet", "diet", choice("", {"vegan": ("plant-based",), "vegetarian": ("meat-free",), "keto": ("low-carb",),
                                      "halal": (), "pescatarian": ("fish but no meat",)}),
          " that is {v}", " ({v})"),
        s("prep_minutes", "preparation time in minutes", integer("", 5, 120, words=False),
          " taking {v} minutes", " with {v} minutes of prep"),
        s("cuisine", "cuisine", text("", pools.CUISINES), " in the {v} style", " ({v} cuisine)"))),
    ("playlist", "music library", (("playlist", "playlists"), ("listening session", "listening sessions"),
                                   ("concert reminder", "concert reminders")), (
        s("artist", "artist", text("", ("Nina Vale", "The Copper Owls", "Marta Reyes", "Blue Harbor",
                                        "DJ Kestrel", "Orchid Lane", "Ravi & the Tides")), " by {v}", " featuring {v}"),
        s("genre", "genre", choice("", {"jazz": (), "rock": (), "ambient": ("chill-out",), "folk": (),
                                        "classical": ("orchestral",), "hiphop": ("hip-hop", "rap")}),
          " of {v} music", " in the {v} genre"),
        s("duration_minutes", "length in minutes", integer("", 10, 240, words=False), " lasting {v} minutes"),
        s("songs", "song titles", array("", text("", ("Northern Lights", "Paper Boats", "Slow River", "Neon Rain",
                                                      "Glass Garden", "Last Ferry", "Summer Static")), lo=2, hi=3),
          " with the songs {v}", " containing {v}"))),
    ("staffing", "HR system", (("leave request", "leave requests"), ("job posting", "job postings"),
                               ("onboarding checklist", "onboarding checklists")), (
        s("employee_id", "employee ID", text("", lambda rng: f"E{rng.randint(10000, 99999)}"),
          " for employee {v}", " for staff member {v}"),
        s("department", "department", choice("", {"sales": (), "engineering": ("the engineering team",),
                                                  "finance": ("accounting",), "legal": (), "marketing": ()}),
          " in {v}", " for the {v} department"),
        s("start_date", "start date", date(""), " starting {v}", " beginning on {v}"),
        s("annual_salary", "annual salary", number("", 30000, 150000, decimals=0), " paying {v} a year",
          " with a salary of {v}"),
        s("remote", "allow remote work", flag("", ("remote-friendly", "fully remote"), ("office-based", "on-site only")),
          ", {v}"))),
    ("warehouse", "warehouse system", (("stock item", "stock items"), ("purchase order", "purchase orders"),
                                       ("shelf slot", "shelf slots")), (
        s("sku", "SKU code", text("", lambda rng: f"SKU-{rng.randint(1000, 9999)}{rng.choice('ABCDEF')}"),
          " for {v}", " for item {v}"),
        s("quantity", "quantity", integer("", 1, 500, words=False), " of {v} units", " with a quantity of {v}"),
        s("aisle", "aisle", text("", ("A1", "B4", "C2", "D7", "E3", "F5")), " in aisle {v}", " at aisle {v}"),
        s("unit_cost", "unit cost", number("", 0.5, 400, decimals=2), " at {v} per unit", " costing {v} each"),
        s("supplier", "supplier", text("", pools.COMPANIES), " from {v}", " supplied by {v}"))),
    ("helpdesk", "customer support desk", (("support ticket", "support tickets"), ("complaint", "complaints"),
                                           ("callback request", "callback requests")), (
        s("customer_email", "customer's email", text("", email), " for {v}", " from customer {v}"),
        s("priority", "priority", choice("", PRIORITY), " at {v} priority"),
        s("product", "product", text("", pools.PRODUCTS), " about the {v}", " concerning the {v}"),
        s("callback_time", "callback time", time(""), " at {v}", " for {v}"))),
    ("campus", "course portal", (("course enrolment", "course enrolments"), ("assignment", "assignments"),
                                 ("exam grade", "exam grades")), (
        s("course_code", "course code", text("", lambda rng: f"{rng.choice(('CS', 'MA', 'BIO', 'HIS', 'ECO'))}"
                                                             f"{rng.randint(100, 499)}"),
          " for {v}", " in course {v}"),
        s("student_name", "student's name", text("", person), " for {v}", " for the student {v}"),
        s("score", "score out of 100", number("", 20, 100, decimals=1), " with a score of {v}", " scoring {v}"),
        s("due_date", "due date", date(""), " due {v}", " due on {v}"),
        s("semester", "semester", choice("", {"spring": (), "summer": (), "autumn": ("fall",), "winter": ()}),
          " in the {v} semester", " for {v} term"))),
    ("clinic", "veterinary clinic", (("vet visit", "vet visits"), ("pet profile", "pet profiles"),
                                     ("vaccination record", "vaccination records")), (
        s("pet_name", "pet's name", text("", ("Biscuit", "Luna", "Milo", "Pepper", "Rocket", "Nala", "Toffee")),
          " for {v}", " for my pet {v}"),
        s("species", "species", choice("", {"dog": ("puppy",), "cat": ("kitten",), "rabbit": ("bunny",),
                                            "parrot": ()}), " (a {v})", ", who is a {v}"),
        s("weight_kg", "weight in kilograms", number("", 0.5, 60, decimals=1), " weighing {v} kg"),
        s("visit_date", "visit date", date(""), " on {v}", " for {v}"))),
    ("venue", "event venue manager", (("venue booking", "venue bookings"), ("guest list", "guest lists"),
                                      ("catering order", "catering orders")), (
        s("event_name", "event name", text("", ("Spring Gala", "Team Offsite", "Book Launch", "Alumni Dinner",
                                                "Charity Run", "Product Demo Day")), " for the {v}", " for {v}"),
        s("guests", "number of guests", integer("", 10, 400, words=False), " for {v} guests", " with {v} attendees"),
        s("event_date", "event date", date(""), " on {v}", " for {v}"),
        s("contact", "contact person", obj("", {"name": text("", person), "phone": text("", lambda rng:
              f"+44 {rng.randint(7000, 7999)} {rng.randint(100000, 999999)}")}, fmt="{name} at {phone}"),
          ", with {v} as the contact", " (contact: {v})"))),
    ("photos", "photo studio", (("photo album", "photo albums"), ("print order", "print orders"),
                                ("shoot booking", "shoot bookings")), (
        s("album_title", "album title", text("", ("Lake Weekend", "Grandma's 80th", "Harbour Sunsets",
                                                  "First Steps", "Road Trip 2025")), " called {v}", " named {v}"),
        s("print_size", "print size", choice("", {"small": ("4x6",), "medium": ("8x10",), "large": ("poster-size",)}),
          " in {v} size", " at {v}"),
        s("copies", "number of copies", integer("", 1, 30), " with {v} copies", ", {v} copies"),
        s("print_dims", "print dimensions", obj("", {"width_cm": integer("", 10, 90, words=False),
                                                    "height_cm": integer("", 10, 90, words=False)},
                                               fmt="{width_cm} cm wide and {height_cm} cm tall"),
          " measuring {v}"))),
    ("observatory", "observatory scheduler", (("telescope session", "telescope sessions"),
                                              ("observation log", "observation logs")), (
        s("target_object", "sky object", text("", ("Andromeda Galaxy", "Orion Nebula", "Saturn", "Jupiter",
                                                   "Pleiades", "Crab Nebula", "Vega")), " of the {v}", " for {v}"),
        s("exposure_seconds", "exposure in seconds", number("", 0.5, 600, decimals=1), " with {v} second exposures"),
        s("session_time", "start time", time(""), " at {v}", " starting at {v}"),
        s("filters", "filter wavelengths in nanometres", array("", number("", 380, 900, decimals=0), lo=2, hi=3),
          " using filters at {v} nm"))),
    ("farm", "farm records", (("harvest record", "harvest records"), ("crop field", "crop fields"),
                              ("irrigation job", "irrigation jobs")), (
        s("crop", "crop", text("", ("wheat", "barley", "maize", "potatoes", "sugar beet", "oats", "rapeseed")),
          " for {v}", " of {v}"),
        s("field_hectares", "field size in hectares", number("", 0.5, 120, decimals=1), " over {v} hectares"),
        s("yield_tonnes", "yield in tonnes", number("", 1, 900, decimals=1), " yielding {v} tonnes"),
        s("field_code", "field code", text("", ("North-3", "Riverside-1", "Hilltop-7", "East-12", "Mill-4")),
          " on field {v}", " in {v}"))),
    ("legal", "case management system", (("case file", "case files"), ("contract review", "contract reviews"),
                                         ("court filing", "court filings")), (
        s("case_number", "case number", text("", lambda rng: f"{rng.randint(2019, 2026)}-CV-{rng.randint(100, 9999)}"),
          " for case {v}", " under case number {v}"),
        s("client", "client", text("", pools.COMPANIES), " for {v}", " on behalf of {v}"),
        s("billable_hours", "billable hours", number("", 0.5, 80, decimals=1), " billing {v} hours"),
        s("confidential", "mark as confidential", flag("", ("marked confidential", "as a confidential matter"),
                                                       ("not confidential", "as a public matter")), ", {v}"))),
    ("energy", "home energy dashboard", (("meter reading", "meter readings"), ("solar panel report", "solar panel reports"),
                                         ("tariff alert", "tariff alerts")), (
        s("meter_id", "meter ID", text("", lambda rng: f"MTR{rng.randint(100000, 999999)}"), " for meter {v}",
          " on {v}"),
        s("kwh", "energy in kWh", number("", 1, 2500, decimals=1), " of {v} kWh", " showing {v} kWh"),
        s("reading_date", "reading date", date(""), " on {v}", " dated {v}"),
        s("tariff", "tariff", choice("", {"standard": ("flat rate",), "economy": ("night rate", "off-peak"),
                                          "green": ("renewable",)}), " on the {v} tariff"))),
    ("club", "sports club manager", (("training session", "training sessions"), ("match fixture", "match fixtures"),
                                     ("member pass", "member passes")), (
        s("squad", "squad", choice("", {"juniors": ("the under-12s",), "seniors": ("the first team",),
                                        "veterans": ("the over-40s",)}), " for {v}", " with {v}"),
        s("pitch", "pitch", text("", ("Pitch 1", "Pitch 2", "Main Court", "Astro Field", "Indoor Hall")),
          " on {v}", " at {v}"),
        s("session_date", "date", date(""), " on {v}", " for {v}"),
        s("kickoff", "start time", time(""), " at {v}", " kicking off at {v}"),
        s("opponent", "opponent", text("", ("Riverside Rovers", "Hill Town FC", "Old Bridge United", "Northgate")),
          " against {v}", " versus {v}"))),
    ("shipping", "shipping desk", (("shipment", "shipments"), ("delivery route", "delivery routes"),
                                   ("customs form", "customs forms")), (
        s("destination_city", "destination city", text("", pools.CITIES), " to {v}", " bound for {v}"),
        s("parcel_weight", "parcel weight in kilograms", number("", 0.2, 70, decimals=1), " weighing {v} kg"),
        s("service_level", "service level", choice("", {"express": ("next-day",), "standard": ("regular",),
                                                        "economy": ("budget",)}), " by {v} delivery"),
        s("insured", "add insurance", flag("", ("with insurance", "fully insured"), ("uninsured", "without insurance")),
          ", {v}", " {v}"))),
    ("servers", "cloud console", (("server instance", "server instances"), ("backup job", "backup jobs"),
                                  ("deployment", "deployments")), (
        s("region", "region", choice("", {"europe": ("the EU region",), "america": ("the US region",),
                                          "asia": ("the APAC region",)}), " in {v}", " located in {v}"),
        s("cpu_cores", "number of CPU cores", integer("", 1, 64, words=False), " with {v} cores", " using {v} vCPUs"),
        s("service_name", "service name", text("", ("billing-api", "auth-gateway", "search-indexer", "report-worker",
                                                    "image-resizer")), " for {v}", " of {v}"),
        s("retention_days", "retention in days", integer("", 1, 365, words=False), " keeping {v} days of history"),
        s("env_labels", "environment labels", array("", text("", ("staging", "canary", "prod-eu", "blue", "green")),
                                                      lo=2, hi=3), " labelled {v}"))),
    ("accounts", "bookkeeping app", (("expense claim", "expense claims"), ("invoice draft", "invoice drafts"),
                                     ("budget line", "budget lines")), (
        s("amount", "amount", number("", 5, 20000, decimals=2), " for {v}", " of {v}"),
        s("currency", "currency", choice("", {"EUR": ("euros",), "USD": ("US dollars",), "GBP": ("pounds",),
                                              "JPY": ("yen",)}), " in {v}"),
        s("cost_center", "cost centre", text("", ("CC-100", "CC-205", "CC-310", "CC-420")), " on cost centre {v}",
          " charged to {v}"),
        s("line_amounts", "line amounts", array("", number("", 1, 900, decimals=2), lo=2, hi=4),
          " with the line amounts {v}"))),
    ("social", "social media scheduler", (("scheduled post", "scheduled posts"), ("ad campaign", "ad campaigns"),
                                          ("follower report", "follower reports")), (
        s("platform", "platform", choice("", {"mastodon": (), "linkedin": ("LinkedIn",), "instagram": ("Insta",),
                                              "youtube": ("YouTube",)}), " on {v}", " for {v}"),
        s("caption", "caption", text("", ("Big news coming Friday", "Meet our new team", "Thanks for 10k followers",
                                          "Summer sale starts now", "Behind the scenes")), " saying {v}",
          " with the caption {v}"),
        s("publish_time", "publishing time", time(""), " at {v}", " going out at {v}"),
        s("daily_budget", "daily budget", number("", 5, 500, decimals=2), " with a daily budget of {v}"))),
    ("museum", "museum bookings", (("guided tour", "guided tours"), ("exhibition pass", "exhibition passes"),
                                   ("school visit", "school visits")), (
        s("exhibition", "exhibition", text("", ("Ancient Egypt", "Impressionist Gardens", "Dinosaurs Alive",
                                                "Art of the Silk Road", "Ocean Depths")), " for {v}", " to {v}"),
        s("group_size", "group size", integer("", 2, 40), " for a group of {v}", " for {v} people"),
        s("tour_language", "tour language", choice("", {"english": ("English",), "spanish": ("Spanish",),
                                                        "german": ("German",), "japanese": ("Japanese",)}),
          " in {v}"),
        s("tour_date", "date", date(""), " on {v}", " for {v}"))),
    ("insurance", "insurance portal", (("policy quote", "policy quotes"), ("claim", "claims"),
                                       ("coverage note", "coverage notes")), (
        s("policy_number", "policy number", text("", lambda rng: f"POL-{rng.randint(100000, 999999)}"),
          " under policy {v}", " for {v}"),
        s("claim_amount", "claimed amount", number("", 50, 50000, decimals=2), " for {v}", " worth {v}"),
        s("incident_date", "incident date", date(""), " for an incident on {v}", " dated {v}"),
        s("coverage", "coverage type", choice("", {"basic": ("third-party",), "full": ("comprehensive",)}),
          " with {v} cover"))),
    ("restaurant", "restaurant back office", (("table reservation", "table reservations"),
                                              ("menu item", "menu items"), ("supplier delivery", "supplier deliveries")), (
        s("party_size", "party size", integer("", 1, 20), " for {v} diners", " for a party of {v}"),
        s("seating", "seating area", choice("", {"terrace": ("outdoor",), "window": (), "bar": ()}),
          " with {v} seating"),
        s("dish", "dish", text("", ("mushroom risotto", "lamb tagine", "miso ramen", "beet salad", "fish tacos")),
          " for the {v}", " with the {v}"),
        s("price", "price", number("", 3, 90, decimals=2), " priced at {v}", " at {v}"))),
    ("games", "game server admin", (("gamer profile", "gamer profiles"), ("leaderboard entry", "leaderboard entries"),
                                    ("tournament bracket", "tournament brackets")), (
        s("gamertag", "gamertag", text("", ("NightOwl42", "PixelMage", "TurboSloth", "FrostByte", "LuckyLynx")),
          " for {v}", " for player {v}"),
        s("points", "points", integer("", 10, 99999, words=False), " with {v} points", " at {v} points"),
        s("game_mode", "game mode", choice("", {"solo": ("single-player",), "duo": ("two-player",),
                                               "squad": ("team",)}), " in {v} mode"),
        s("ranked", "ranked play only", flag("", ("ranked only", "for ranked play"), ("casual play", "unranked")),
          ", {v}", " ({v})"))),
    ("realestate", "property listings desk", (("property listing", "property listings"),
                                              ("viewing appointment", "viewing appointments")), (
        s("street_address", "street address", text("", lambda rng: f"{rng.randint(1, 299)} {rng.choice(pools.STREETS)}"),
          " at {v}", " for {v}"),
        s("bedrooms", "number of bedrooms", integer("", 1, 6), " with {v} bedrooms"),
        s("asking_price", "asking price", number("", 80000, 2000000, decimals=0), " at {v}", " listed for {v}"),
        s("viewing_time", "viewing time", time(""), " at {v}"))),
    ("transit", "city transit office", (("parking permit", "parking permits"), ("bus pass", "bus passes"),
                                        ("route alert", "route alerts")), (
        s("zone", "zone", choice("", {"central": ("zone one", "the city centre"), "outer": ("the suburbs",)}),
          " for {v}", " covering {v}"),
        s("holder", "holder's name", text("", person), " for {v}", " in the name of {v}"),
        s("valid_from", "first valid day", date(""), " valid from {v}", " starting {v}"),
        s("route_numbers", "route numbers", array("", integer("", 1, 299, words=False), lo=2, hi=3),
          " for routes {v}"))),
    ("lab", "lab inventory", (("sample batch", "sample batches"), ("freezer slot", "freezer slots"),
                              ("reagent request", "reagent requests")), (
        s("batch_code", "batch code", text("", lambda rng: f"BX-{rng.randint(100, 999)}-{rng.choice('ABCDE')}"),
          " for batch {v}", " for {v}"),
        s("temperature_c", "storage temperature in degrees Celsius", integer("", -80, 8, words=False),
          " stored at {v} °C"),
        s("reagent", "reagent", text("", pools.CHEMICALS), " of {v}", " for {v}"),
        s("volume_ml", "volume in millilitres", number("", 0.5, 2000, decimals=1), " of {v} ml", " totalling {v} ml"))),
    ("library", "library desk", (("book hold", "book holds"), ("reading list", "reading lists"),
                                 ("room booking", "room bookings")), (
        s("book_title", "book title", text("", pools.BOOKS), " for {v}", " of {v}"),
        s("card_number", "library card number", text("", lambda rng: f"LC{rng.randint(1000000, 9999999)}"),
          " on card {v}", " for card {v}"),
        s("pickup_branch", "pickup branch", choice("", {"central": ("the main branch",), "harbour": ("the harbour branch",),
                                                        "university": ("the campus branch",)}),
          " at {v}", " for pickup at {v}"),
        s("hold_days", "hold period in days", integer("", 3, 21), " for {v} days"))),
)

# Options whose values users state in words, added to composed tools only when the generator's
# word_value_rate is above 0 (`composer.with_word_options`): operation -> options; a period is a year or a
# maximum age with the unit its clauses carry ("from the last {max_age} {age_unit}").
INCLUDE_NOUNS = ("photos", "attachments", "notes", "comments", "history", "totals")
DETAIL = s("detail_level", "level of detail", choice("", {"brief": ("a short summary", "the brief version"),
                                                          "full": ("a full report", "the full version")}),
           ", {v}", " ({v})", ", just {v}")
YEAR = s("year", "year the records are from", integer("", 2000, 2026, words=False), " from {v}", " in {v}",
         " for the year {v}", " during {v}")
AGE = (s("max_age", "maximum age of a record", integer("", 2, 12), " from the last {v} {u}", " no older than {v} {u}",
         " within the past {v} {u}"),
       s("age_unit", "unit of the maximum age", choice("", {"days": (), "weeks": (), "months": ()}), " in {v}"))
WORD_OPTIONS = {"search": ("include", "detail", "period"), "list": ("include", "detail", "period"),
                "get": ("include", "detail"), "export": ("include", "detail", "period"), "count": ("period",)}


def include_slot(noun: str) -> tuple:
    return s(f"include_{noun}", f"include {noun}", flag("", (f"with {noun}", f"including {noun}"),
                                                        (f"without {noun}", f"excluding {noun}")), ", {v}", " {v}")


# Object-valued parameters, added to composed tools only when the generator's object_param_rate is above 0
# (`composer.with_object_params`): common shapes under several spellings, so that a model must read each
# schema's field names rather than learn one. The user states a value in the object's `fmt`.
def _address(names: tuple) -> object:
    street_key, city_key, postal_key = names  # not `street`: that is the slot generator the street draws from
    fields = {street_key: text("Street and number", street), city_key: text("City", pools.CITIES),
              postal_key: text("Postal code", zip_code)}
    return obj("", fields, fmt=f"{{{street_key}}}, {{{city_key}}} {{{postal_key}}}")


CURRENCIES = {"USD": ("dollars", "US dollars"), "EUR": ("euros",), "GBP": ("pounds", "British pounds"),
              "JPY": ("yen",)}
OBJECT_SLOTS = (
    s("address", "postal address", _address(("street", "city", "zip")), " at {v}", ", address {v}"),
    s("location", "location", _address(("street_address", "city", "postal_code")), " at {v}", " located at {v}"),
    s("site_address", "site address", _address(("line1", "town", "postcode")), " at {v}", " for the site at {v}"),
    s("contact", "contact person", obj("", {"name": text("Full name", person), "email": text("Email address", email)},
                                       fmt="{name} ({email})"), ", with {v} as the contact", " (contact: {v})"),
    s("owner", "owner", obj("", {"full_name": text("Full name", person), "email": text("Email address", email)},
                            fmt="{full_name} <{email}>"), " owned by {v}", ", owner {v}"),
    s("dimensions", "dimensions in centimetres",
      obj("", {"length_cm": integer("Length in cm", 5, 200, words=False),
               "width_cm": integer("Width in cm", 5, 200, words=False),
               "height_cm": integer("Height in cm", 5, 200, words=False)},
          fmt="{length_cm} x {width_cm} x {height_cm} cm"), " measuring {v}", " sized {v}"),
    s("coordinates", "geographic coordinates",
      obj("", {"latitude": number("Latitude in degrees", -60, 70, decimals=4),
               "longitude": number("Longitude in degrees", -170, 170, decimals=4)}, fmt="{latitude}, {longitude}"),
      " at coordinates {v}", " near lat/long {v}"),
    s("budget", "budget", obj("", {"amount": number("Amount", 10, 5000, decimals=2),
                                   "currency": choice("Currency code", CURRENCIES)}, fmt="{amount} {currency}"),
      " with a budget of {v}", " for up to {v}"),
)
OBJECT_OPS = ("search", "list", "count", "create")  # operations whose tools may take one
