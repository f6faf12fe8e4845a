"""Tasks of their own: requests that need no tool because the assistant can answer them itself (a computation
with the numbers it states, a question of fact, a how-to), for irrelevant examples offered tools that cannot
serve them (`generator.sample_irrelevant` with `irrelevant_task_rate`).

Small talk and requests for another catalogue tool teach the model to abstain when the request has nothing to
do with the offered tools. These teach it to abstain when the request looks like work for a tool (numbers to
compute with, a precise question) and the offered tools take numbers too, but do something else. No catalogue
tool, hand-written or composed, performs any of these tasks (`SUBJECTS` names each one's subject words, and a
test checks that no catalogue tool's name holds one), so a null target is right whatever tools are offered.
Every computation's reply states the result, computed here. BFCL is evaluation data only: no task is taken from
it, three that happened to share a topic with a BFCL irrelevance question were replaced (a Fibonacci number, the
largest planet, the Declaration of Independence), and a test checks the wording against those questions.

The same tasks also come with a tool that performs them (`task_tool`, for the generator's `task_call_rate`): a
computation's own calculator, a lookup for a fact (or a general reference search), a how-to guide search, each
called with values copied from the request. Asked with such a tool the task is a call; offered only catalogue
tools it is answered in text. Together they teach that a question of fact or a sum is answered by a tool when one
fits and by the assistant when none does, rather than that such questions are never a tool's. These tools live
here, not in the catalogue: nothing else offers them, so no irrelevant example is offered one.

Each task also has a sibling (`sibling`, for `task_near_miss_rate`): a tool of its own topic that does something
else (the cube's surface area for its volume), offered to an irrelevant task so that words shared by the request
and a tool's name are not by themselves a reason to call.
"""

from __future__ import annotations

import math
import random

from calltune.synth.catalogue import ToolDef, tool
from calltune.synth.slots import integer, number, text
from calltune.synth.smalltalk import GENERAL_DOMAIN

TASK_DOMAIN = GENERAL_DOMAIN


def _num(x: float) -> str:
    """A result as a person writes it: 12, 12.5, 0.33 (at most two decimals, no trailing zeros)."""
    text = f"{x:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# (id, request templates, values(rng) -> dict, reply(values) -> str)
COMPUTATIONS = (
    ("percent_of", ("What is {p}% of {x}?", "Can you work out {p} percent of {x} for me?", "How much is {p}% of {x}?"),
     lambda r: {"p": r.choice((5, 12, 15, 20, 25, 30, 40, 75)), "x": r.randrange(20, 2000, 10)},
     lambda v: f"{v['p']}% of {v['x']} is {_num(v['p'] * v['x'] / 100)}."),
    ("trapezoid", ("What is the area of a trapezoid with parallel sides of {a} cm and {b} cm and a height of {h} cm?",
                   "What's the area of a trapezoid whose bases are {a} and {b} and whose height is {h}?"),
     lambda r: {"a": r.randint(2, 30), "b": r.randint(2, 30), "h": r.randint(2, 20)},
     lambda v: f"The area is ({v['a']} + {v['b']}) / 2 × {v['h']} = {_num((v['a'] + v['b']) / 2 * v['h'])}."),
    ("cube", ("What's the volume of a cube with edges of {s} m?", "How big is a cube of side {s} in volume?"),
     lambda r: {"s": r.randint(2, 25)},
     lambda v: f"The volume is {v['s']}³ = {_num(v['s'] ** 3)}."),
    ("average_speed", ("A cyclist rides {d} km in {t} hours. What was the average speed?",
                       "If a train covers {d} km in {t} hours, how fast did it go on average?"),
     lambda r: {"d": r.randrange(20, 600, 5), "t": r.randint(2, 8)},
     lambda v: f"The average speed is {v['d']} / {v['t']} = {_num(v['d'] / v['t'])} km/h."),
    ("sum_to_n", ("What is the sum of all whole numbers from 1 to {n}?", "Please add up every integer from 1 to {n}."),
     lambda r: {"n": r.randint(10, 500)},
     lambda v: f"1 + 2 + ... + {v['n']} = {v['n']} × {v['n'] + 1} / 2 = {_num(v['n'] * (v['n'] + 1) // 2)}."),
    ("digit_sum", ("What is the sum of the digits of {x}?", "Add up the digits of {x} for me, please."),
     lambda r: {"x": r.randint(100, 999999)},
     lambda v: f"{' + '.join(str(v['x']))} = {sum(int(d) for d in str(v['x']))}."),
    ("bill_split", ("My dinner with friends came to ${x}. How much does each of {n} people pay if we split it evenly?",
                    "If we split a ${x} bill evenly between {n} friends, what does each one owe?"),
     lambda r: {"x": r.randrange(30, 600, 2), "n": r.randint(2, 9)},
     lambda v: f"Each person pays ${v['x'] / v['n']:.2f}."),
    ("tip", ("How much is a {p}% tip on a ${x} bill?", "What tip should I leave on ${x} at {p} percent?"),
     lambda r: {"p": r.choice((10, 15, 18, 20, 22, 25)), "x": r.randrange(12, 300, 2)},
     lambda v: f"A {v['p']}% tip on ${v['x']} is ${v['p'] * v['x'] / 100:.2f}."),
    ("power", ("What is {a} to the power of {b}?", "Can you compute {a} raised to the {bth} power?"),
     lambda r: {"a": r.randint(2, 12), "b": (b := r.randint(3, 6)), "bth": _ordinal(b)},
     lambda v: f"{v['a']} to the power of {v['b']} is {_num(v['a'] ** v['b'])}."),
    ("momentum", ("What is the momentum of a {m} kg object moving at {v} m/s?",
                  "A {m} kg cart rolls at {v} m/s. How much momentum does it have?"),
     lambda r: {"m": r.randint(1, 90), "v": r.randint(1, 40)},
     lambda v: f"Momentum is mass × velocity: {v['m']} × {v['v']} = {_num(v['m'] * v['v'])} kg·m/s."),
    ("work", ("How much work does a force of {f} N do over {d} m?",
              "Could you calculate the work done pushing a box {d} metres with a force of {f} newtons?"),
     lambda r: {"f": r.randint(5, 500), "d": r.randint(1, 50)},
     lambda v: f"Work is force × distance: {v['f']} × {v['d']} = {_num(v['f'] * v['d'])} J."),
    ("third_angle", ("If two angles of a triangle are {a}° and {b}°, what is the third angle?",
                     "A triangle has angles of {a} and {b} degrees. What's the remaining one?"),
     lambda r: {"a": (a := r.randint(20, 100)), "b": r.randint(10, 150 - a)},
     lambda v: f"The angles add up to 180°, so the third is {180 - v['a'] - v['b']}°."),
    ("age", ("How old does someone born in {y} turn in {z}?", "If I was born in {y}, how old will I be in {z}?"),
     lambda r: {"y": (y := r.randint(1930, 2015)), "z": r.randint(y + 5, 2040)},
     lambda v: f"{v['z']} − {v['y']} = {v['z'] - v['y']} (on the birthday that year)."),
    ("ellipse", ("What's the area of an ellipse with semi-axes of {a} and {b}?",
                 "Can you compute the area of an ellipse whose semi-major axis is {a} cm and semi-minor axis is {b} cm?"),
     lambda r: {"a": r.randint(3, 30), "b": r.randint(1, 3)},
     lambda v: f"The area is π × {v['a']} × {v['b']} ≈ {_num(math.pi * v['a'] * v['b'])}."),
)

FACTS = (
    ("Who discovered penicillin?", "Alexander Fleming discovered penicillin in 1928."),
    ("When did the Berlin Wall fall?", "The Berlin Wall fell on 9 November 1989."),
    ("How many bones are in the adult human body?", "An adult human has 206 bones."),
    ("Which planet is closest to the Sun?", "Mercury is the planet closest to the Sun."),
    ("Who was the first person to walk on the Moon?", "Neil Armstrong, on 20 July 1969, during Apollo 11."),
    ("What is the longest river in Africa?", "The Nile is the longest river in Africa."),
    ("What year did the Second World War end?", "The Second World War ended in 1945."),
    ("Which organ of the body produces insulin?", "The pancreas produces insulin."),
    ("What does DNA stand for?", "DNA stands for deoxyribonucleic acid."),
    ("Who is credited with inventing the telephone?",
     "Alexander Graham Bell is credited with it; he patented the telephone in 1876."),
    ("How many chambers does the human heart have?", "The human heart has four chambers: two atria and two "
                                                     "ventricles."),
    ("Which gas do plants take in from the air to make food?", "Plants take in carbon dioxide."),
    ("Which is the largest ocean on Earth?", "The Pacific is the largest ocean."),
    ("Who developed the first successful polio vaccine?", "Jonas Salk; his vaccine was declared safe in 1955."),
    ("What is the hardest natural material?", "Diamond is the hardest natural material."),
    ("Who invented the movable-type printing press in Europe?", "Johannes Gutenberg, around 1440."),
    ("Who proposed the theory of evolution by natural selection?",
     "Charles Darwin, with Alfred Russel Wallace; Darwin's On the Origin of Species appeared in 1859."),
    ("What is the tallest mountain above sea level?", "Mount Everest, at about 8,849 metres."),
    ("How long does light from the Sun take to reach Earth?", "About 8 minutes and 20 seconds."),
    ("What is the smallest prime number?", "2 is the smallest prime number."),
    ("Who painted The Starry Night?", "Vincent van Gogh painted The Starry Night in 1889."),
    ("What is the main gas in Earth's atmosphere?", "Nitrogen, about 78% of the air."),
)

HOWTOS = (
    ("How do I fix a flat bicycle tyre?",
     "Take the wheel off, lever the tyre off the rim, find the hole in the tube, then patch it or fit a new tube, "
     "put the tyre back and pump it to the pressure printed on its side."),
    ("How can I fall asleep faster?",
     "Keep a regular bedtime, avoid screens and caffeine late in the day, keep the room dark and cool, and if you "
     "can't sleep after twenty minutes, get up and do something calm until you feel sleepy."),
    ("How do I get a red wine stain out of a carpet?",
     "Blot it (don't rub), pour on a little cold water or a mix of dish soap and water, keep blotting, and finish "
     "with a paste of baking soda that you vacuum up once it's dry."),
    ("How do I boil an egg so the yolk stays runny?",
     "Lower the egg into boiling water, cook it for about six minutes, then put it in cold water for a minute "
     "before peeling."),
    ("How should I prepare for a job interview?",
     "Read up on the company, match your experience to the job description, prepare short stories about your "
     "achievements, and have a few questions of your own ready."),
    ("How do I unclog a kitchen sink?",
     "Try a plunger first; if that fails, pour in baking soda and then vinegar, wait fifteen minutes and flush "
     "with hot water, or clean the trap under the sink."),
    ("How do I start learning to program?",
     "Pick one beginner-friendly language such as Python, follow a free course, and build small projects you "
     "care about from the first week."),
    ("How do I grow basil indoors?",
     "Give it a sunny window with at least six hours of light, water it when the top of the soil is dry, and pinch "
     "off the tips so it grows bushy."),
    ("How do I tie a bowline knot?",
     "Make a small loop in the rope, pass the end up through it, around behind the standing part, and back down "
     "through the loop, then pull tight."),
    ("What's the best way to memorise a speech?",
     "Learn it in sections, say it out loud rather than reading it, practise with the key points on a card, and "
     "rehearse in front of someone."),
    ("How do I write a good cover letter?",
     "Address it to a person, open with why you want this job, give two or three concrete achievements that fit "
     "the role, and keep it under a page."),
    ("How can I make my phone battery last longer?",
     "Lower the screen brightness, turn off what you aren't using (location, Bluetooth), close apps that run in "
     "the background, and avoid very hot or cold places."),
)

# The subject words of the tasks, as whole words of a tool name: a catalogue tool named with one could serve a
# task (a test checks that none is). The tasks leave out what a catalogue tool does (a percent change is a return
# on investment; a square root, the root of x^2 - N).
SUBJECTS = ("percent", "percentage", "trapezoid", "cube", "speed", "digit", "digits", "split", "bill", "tip",
            "exponent", "exponentiate", "momentum", "work", "angle", "angles", "age", "birth", "ellipse", "sum",
            "series", "fact", "facts", "trivia", "howto", "advice", "answer", "question", "knowledge")

def _draw(rng: random.Random) -> tuple[str, int, int, dict]:
    """`(kind, index in its table, request template index, values)`: a computation half of the time."""
    kind = rng.choice(("compute", "compute", "fact", "howto"))
    if kind == "compute":
        index = rng.randrange(len(COMPUTATIONS))
        _, requests, values, _ = COMPUTATIONS[index]
        v = values(rng)
        return kind, index, rng.randrange(len(requests)), v
    return kind, rng.randrange(len(FACTS if kind == "fact" else HOWTOS)), 0, {}


def _request(kind: str, index: int, template: int, values: dict) -> tuple[str, str, str]:
    """`(template_id, request, reply)` of a drawn task."""
    if kind == "compute":
        name, requests, _, reply = COMPUTATIONS[index]
        return f"task_{name}{template}", requests[template].format(**values), reply(values)
    question, answer = (FACTS if kind == "fact" else HOWTOS)[index]
    return f"task_{kind}{index}", question, answer


def sample_task(rng: random.Random) -> tuple[str, str, str, str]:
    """Return `(kind, template_id, request, reply)`: a computation (half of the time), a fact or a how-to."""
    return sample_task_drawn(rng)[0]


def sample_task_drawn(rng: random.Random) -> tuple[tuple[str, str, str, str], tuple[str, int]]:
    """`sample_task`'s result and `(kind, index)`, which names the task's `sibling`."""
    kind, index, template, values = _draw(rng)
    return (kind, *_request(kind, index, template, values)), (kind, index)


# The tools that perform the tasks. A computation's: (name, description, ((parameter, kind, description, value
# key), ...)), its values those the request states.
COMPUTE_TOOLS = {
    "percent_of": ("percentage_of_amount", "Compute a given percentage of an amount.",
                   (("percent", "number", "The percentage, e.g. 15 for 15%", "p"),
                    ("amount", "number", "The amount to take it of", "x"))),
    "trapezoid": ("trapezoid_area", "Area of a trapezoid from its two parallel sides and its height.",
                  (("base_a", "number", "Length of one parallel side", "a"),
                   ("base_b", "number", "Length of the other parallel side", "b"),
                   ("height", "number", "Distance between the parallel sides", "h"))),
    "cube": ("cube_volume", "Volume of a cube from the length of its edge.",
             (("edge", "number", "Edge length", "s"),)),
    "average_speed": ("average_speed_of_trip", "Average speed of a trip from its distance (km) and duration (hours).",
                      (("distance_km", "number", "Distance travelled in km", "d"),
                       ("hours", "number", "Time taken in hours", "t"))),
    "sum_to_n": ("sum_of_integers_up_to", "Sum of the whole numbers from 1 to n.",
                 (("n", "integer", "The last number of the sum", "n"),)),
    "digit_sum": ("sum_of_digits", "Add up the decimal digits of a whole number.",
                  (("number", "integer", "The whole number", "x"),)),
    "bill_split": ("split_bill_evenly", "Each person's share when a bill is split evenly.",
                   (("total", "number", "The bill's total", "x"),
                    ("people", "integer", "How many people share it", "n"))),
    "tip": ("tip_for_bill", "The tip to leave on a bill at a given percentage.",
            (("bill_amount", "number", "The bill before the tip", "x"),
             ("tip_percent", "number", "Tip percentage, e.g. 18", "p"))),
    "power": ("raise_to_power", "Raise a base to a whole-number exponent.",
              (("base", "integer", "The base", "a"), ("exponent", "integer", "The exponent", "b"))),
    "momentum": ("linear_momentum", "Momentum of a moving object: mass (kg) times velocity (m/s).",
                 (("mass_kg", "number", "Mass in kilograms", "m"), ("velocity", "number", "Velocity in m/s", "v"))),
    "work": ("work_done_by_force", "Work done by a constant force along a distance, in joules.",
             (("force_newtons", "number", "The force in newtons", "f"),
              ("distance_m", "number", "The distance in metres", "d"))),
    "third_angle": ("remaining_triangle_angle", "The third angle of a triangle from the other two, in degrees.",
                    (("first_angle", "number", "One known angle in degrees", "a"),
                     ("second_angle", "number", "The other known angle in degrees", "b"))),
    "age": ("age_in_year", "How old a person born in one year is in another year.",
            (("birth_year", "integer", "Year of birth", "y"), ("year", "integer", "The year to compute the age in", "z"))),
    "ellipse": ("ellipse_area", "Area of an ellipse from its two semi-axes.",
                (("semi_major_axis", "number", "The longer semi-axis", "a"),
                 ("semi_minor_axis", "number", "The shorter semi-axis", "b"))),
}

# Per entry of FACTS: (name, description, ((parameter, description, value), ...)), each value a part of the
# question (or the whole question).
FACT_TOOLS = (
    ("lookup_discoverer", "Find out who discovered a substance, a law or a phenomenon.",
     (("discovery", "What was discovered", "penicillin"),)),
    ("historical_event_date", "Return the date on which a historical event happened.",
     (("event", "The event", "Berlin Wall fall"),)),
    ("count_in_human_body", "Count how many of a kind of structure the adult human body has.",
     (("structure", "The kind of structure, e.g. teeth", "bones"),)),
    ("solar_system_question", "Answer a question about the Sun and the planets.",
     (("question", "The question", "Which planet is closest to the Sun?"),)),
    ("space_history_search", "Search the history of space exploration.",
     (("query", "What to look for", "first person to walk on the Moon"),)),
    ("longest_river_in", "Find the longest river of a continent or a country.",
     (("region", "The continent or country", "Africa"),)),
    ("war_end_year", "Find the year in which a war ended.", (("war", "The war's name", "Second World War"),)),
    ("hormone_source", "Find the organ or gland that produces a hormone.", (("hormone", "The hormone", "insulin"),)),
    ("expand_acronym", "Spell out what an acronym or abbreviation stands for.",
     (("acronym", "The acronym, e.g. NASA", "DNA"),)),
    ("find_inventor", "Look up who invented something.", (("invention", "The invention", "telephone"),)),
    ("anatomy_question", "Answer a question about human anatomy.",
     (("question", "The question", "How many chambers does the human heart have?"),)),
    ("biology_reference", "Answer a question about living things.",
     (("question", "The question", "Which gas do plants take in from the air to make food?"),)),
    ("geography_record", "Find the record holder among geographic features of a kind.",
     (("feature", "The kind of feature, e.g. river", "ocean"), ("record", "The record, e.g. longest", "largest"))),
    ("vaccine_developer", "Find who developed the vaccine against a disease.", (("disease", "The disease", "polio"),)),
    ("materials_search", "Search properties of materials.", (("query", "What to look for", "hardest natural material"),)),
    ("find_inventor", "Look up who invented something.",
     (("invention", "The invention", "movable-type printing press"),)),
    ("theory_originator", "Find who proposed a scientific theory.",
     (("theory", "The theory", "evolution by natural selection"),)),
    ("geography_record", "Find the record holder among geographic features of a kind.",
     (("feature", "The kind of feature, e.g. river", "mountain"), ("record", "The record, e.g. longest", "tallest"))),
    ("light_arrival_delay", "How long light takes to reach Earth from a body of the solar system.",
     (("body", "The Sun, a planet or a moon", "Sun"),)),
    ("number_question", "Answer a question about whole numbers.",
     (("question", "The question", "What is the smallest prime number?"),)),
    ("artwork_lookup", "Find who made a painting or another work of art, and when.",
     (("title", "The work's title", "The Starry Night"),)),
    ("atmosphere_composition", "List the gases of a planet's atmosphere and their shares.",
     (("planet", "The planet", "Earth"),)),
)
# A fact may instead go to a general reference search with the whole question (a third of the time).
REFERENCE_SEARCH = ("reference_search", "Search an encyclopedia and return the passage that answers a question.",
                    (("query", "The question to answer", None),))
HOWTO_TOOL = ("search_how_to_guides", "Search step-by-step guides for a practical task.",
              (("task", "The task, e.g. change a car tyre", None),))
HOWTO_TASKS = ("fix a flat bicycle tyre", "fall asleep faster", "get a red wine stain out of a carpet",
               "boil an egg so the yolk stays runny", "prepare for a job interview", "unclog a kitchen sink",
               "start learning to program", "grow basil indoors", "tie a bowline knot", "memorise a speech",
               "write a good cover letter", "make my phone battery last longer")


def _tool(name: str, description: str, params: dict) -> ToolDef:
    return tool(name, TASK_DOMAIN, description, params)


def _param(kind: str, description: str, hi: int | None = None):
    """A task tool's or a sibling's parameter (`string`, `integer` or `number`, at least 0; integers at most `hi`).
    Only its schema matters: values come from the request, never from sampling."""
    if kind == "string":
        return text(description, ())
    return integer(description, 0, hi, words=False) if kind == "integer" else number(description, 0, hi)


def task_tool(rng: random.Random) -> tuple[str, str, ToolDef, dict]:
    """A task with a tool that performs it: `(template_id, request, tool, arguments)`, the arguments copied from
    the request. The tasks are `sample_task`'s; template ids are theirs with a `call_` prefix."""
    kind, index, template, values = _draw(rng)
    template_id, request, _ = _request(kind, index, template, values)
    if kind == "compute":
        name, description, spec = COMPUTE_TOOLS[COMPUTATIONS[index][0]]
        params = {p: _param(k, d, 10 ** 7) for p, k, d, _ in spec}
        return "call_" + template_id, request, _tool(name, description, params), {p: values[key]
                                                                                  for p, _, _, key in spec}
    if kind == "fact" and rng.random() < 1 / 3:
        name, description, spec = REFERENCE_SEARCH
        spec = ((spec[0][0], spec[0][1], request),)
    elif kind == "fact":
        name, description, spec = FACT_TOOLS[index]
    else:
        name, description, spec = HOWTO_TOOL
        spec = ((spec[0][0], spec[0][1], HOWTO_TASKS[index]),)
    params = {p: _param("string", d) for p, d, _ in spec}
    return "call_" + template_id, request, _tool(name, description, params), {p: v for p, _, v in spec}


def takes_numbers(tool) -> bool:
    """Whether a catalogue tool has a number or integer parameter: the offered tools a computation tempts."""
    return any(p.kind in ("number", "integer") for p in tool.params.values())


# Siblings: per task, a tool of its own topic that does something else (the cube's surface area for its volume,
# the year of a discovery for who made it), so that a tool named like the request is not by itself a reason to
# call: (name, description, ((parameter, kind, description), ...)). Nothing calls them.
COMPUTE_SIBLINGS = {
    "percent_of": ("percentage_change", "Percent change from an old value to a new one.",
                   (("old_value", "number", "The earlier value"), ("new_value", "number", "The later value"))),
    "trapezoid": ("trapezoid_perimeter", "Perimeter of a trapezoid from its four sides.",
                  (("side_a", "number", "First side"), ("side_b", "number", "Second side"),
                   ("side_c", "number", "Third side"), ("side_d", "number", "Fourth side"))),
    "cube": ("cube_surface_area", "Total surface area of a cube from its edge length.",
             (("edge", "number", "Edge length"),)),
    "average_speed": ("travel_time_at_speed", "Time needed to cover a distance at a constant speed (hours).",
                      (("distance_km", "number", "Distance in km"), ("speed_kmh", "number", "Speed in km/h"))),
    "sum_to_n": ("sum_of_squares_up_to", "Sum of the squares 1^2 + 2^2 + ... + n^2.",
                 (("n", "integer", "The last number whose square is added"),)),
    "digit_sum": ("count_digits", "How many decimal digits a whole number has.",
                  (("number", "integer", "The whole number"),)),
    "bill_split": ("bill_with_sales_tax", "A bill's total once sales tax is added.",
                   (("subtotal", "number", "The bill before tax"), ("tax_rate", "number", "Tax rate in percent"))),
    "tip": ("tip_share_of_bill", "What percentage of the bill a tip that was left amounts to.",
            (("bill_amount", "number", "The bill before the tip"), ("tip_amount", "number", "The tip left"))),
    "power": ("nth_root", "The n-th root of a number.",
              (("value", "number", "The number"), ("n", "integer", "Which root, e.g. 3 for the cube root"))),
    "momentum": ("kinetic_energy", "Kinetic energy of a moving object from its mass (kg) and velocity (m/s).",
                 (("mass_kg", "number", "Mass in kilograms"), ("velocity", "number", "Velocity in m/s"))),
    "work": ("power_from_work", "Power in watts from the work done and the time it took.",
             (("work_joules", "number", "Work in joules"), ("seconds", "number", "Time taken in seconds"))),
    "third_angle": ("is_right_triangle", "Check whether three side lengths form a right triangle.",
                    (("side_a", "number", "First side"), ("side_b", "number", "Second side"),
                     ("side_c", "number", "Third side"))),
    "age": ("weekday_of_date", "The day of the week a calendar date falls on.",
            (("date", "string", "The date, YYYY-MM-DD"),)),
    "ellipse": ("ellipse_perimeter", "Approximate perimeter of an ellipse from its two semi-axes.",
                (("semi_major_axis", "number", "The longer semi-axis"), ("semi_minor_axis", "number", "The shorter"))),
}
FACT_SIBLINGS = (  # per entry of FACTS
    ("discovery_year", "Find the year in which something was discovered.", (("discovery", "string", "What was discovered"),)),
    ("historical_event_location", "Find where a historical event took place.", (("event", "string", "The event"),)),
    ("organ_weight", "Average weight of an adult human organ in grams.", (("organ", "string", "The organ"),)),
    ("planet_moons", "List the known moons of a planet.", (("planet", "string", "The planet"),)),
    ("rocket_launch_schedule", "Upcoming rocket launches of a space agency.", (("agency", "string", "The agency"),)),
    ("river_flow_rate", "Average discharge of a river in cubic metres per second.", (("river", "string", "The river"),)),
    ("war_casualties", "Estimated casualties of a war.", (("war", "string", "The war's name"),)),
    ("hormone_normal_range", "Normal blood level range of a hormone.", (("hormone", "string", "The hormone"),)),
    ("acronyms_for_phrase", "Find acronyms that stand for a given phrase.", (("phrase", "string", "The phrase"),)),
    ("invention_patent_count", "Count patents filed for an invention's kind in a year.",
     (("invention", "string", "The kind of invention"), ("year", "integer", "The year"))),
    ("heart_rate_zones", "Training heart-rate zones for a person's age.", (("age", "integer", "Age in years"),)),
    ("plant_watering_schedule", "How often to water a house plant.", (("plant", "string", "The plant"),)),
    ("ocean_surface_temperature", "Current surface temperature of an ocean.", (("ocean", "string", "The ocean"),)),
    ("vaccination_schedule", "Recommended vaccines for a child's age.", (("age_months", "integer", "Age in months"),)),
    ("material_price", "Current market price of a material per kilogram.", (("material", "string", "The material"),)),
    ("book_price_lookup", "Price of a book in online shops.", (("title", "string", "The book's title"),)),
    ("species_population", "Estimated wild population of a species.", (("species", "string", "The species"),)),
    ("mountain_weather", "Weather forecast at a mountain's summit.", (("mountain", "string", "The mountain"),)),
    ("sunrise_hour_for_city", "Time of sunrise in a city on a date.",
     (("city_name", "string", "The city"), ("on_day", "string", "The date, YYYY-MM-DD"))),
    ("factorize_into_primes", "Factor a whole number into primes.", (("number", "integer", "The number to factor"),)),
    ("museum_opening_hours", "Opening hours of a museum.", (("museum", "string", "The museum"),)),
    ("air_pressure_at_altitude", "Atmospheric pressure at an altitude above sea level.",
     (("altitude_m", "number", "Altitude in metres"),)),
)
HOWTO_SIBLING = ("rate_how_to_guide", "Rate a step-by-step guide you followed.",
                 (("guide_id", "string", "The guide's identifier"), ("stars", "integer", "Rating from 1 to 5")))


def sibling(kind: str, index: int) -> ToolDef:
    """The tool of a task's topic that does not perform it (`sample_task_drawn` gives `kind, index`)."""
    if kind == "compute":
        name, description, spec = COMPUTE_SIBLINGS[COMPUTATIONS[index][0]]
    else:
        name, description, spec = FACT_SIBLINGS[index] if kind == "fact" else HOWTO_SIBLING
    return _tool(name, description, {p: _param(k, d) for p, k, d in spec})
