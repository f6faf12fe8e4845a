"""Tool results for the computing tools (math, statistics, geometry, physics, chemistry, conversion,
finance formulas, health formulas): the true value of each computation and replies that state it."""

from __future__ import annotations

import math
import re
import statistics

from calltune.synth.results import join, num, ordinal

ATOMIC_MASS = {"H": 1.008, "C": 12.011, "N": 14.007, "O": 15.999, "Na": 22.990, "Mg": 24.305, "S": 32.06,
               "Cl": 35.45, "K": 39.098, "Ca": 40.078, "Mn": 54.938, "Fe": 55.845}
BALANCED = {"H2 + O2 -> H2O": "2H2 + O2 -> 2H2O", "CH4 + O2 -> CO2 + H2O": "CH4 + 2O2 -> CO2 + 2H2O",
            "Fe + O2 -> Fe2O3": "4Fe + 3O2 -> 2Fe2O3", "N2 + H2 -> NH3": "N2 + 3H2 -> 2NH3",
            "C3H8 + O2 -> CO2 + H2O": "C3H8 + 5O2 -> 3CO2 + 4H2O", "Al + O2 -> Al2O3": "4Al + 3O2 -> 2Al2O3",
            "Na + Cl2 -> NaCl": "2Na + Cl2 -> 2NaCl", "KClO3 -> KCl + O2": "2KClO3 -> 2KCl + 3O2",
            "C6H12O6 + O2 -> CO2 + H2O": "C6H12O6 + 6O2 -> 6CO2 + 6H2O",
            "Zn + HCl -> ZnCl2 + H2": "Zn + 2HCl -> ZnCl2 + H2"}
METERS = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048, "yd": 0.9144, "mi": 1609.344}
MILLILITERS = {"cup": 236.588, "tbsp": 14.787, "tsp": 4.929, "ml": 1.0, "fl_oz": 29.574}
DATA_POWER = {"KB": 1, "MB": 2, "GB": 3, "TB": 4}
ACTIVITY = {"sedentary": 1.2, "light": 1.375, "moderate": 1.55, "very_active": 1.725}
GRAVITY = 9.81
GAS_CONSTANT = 8.314  # J/(mol K); with liters it gives kPa
G = 6.674e-11


def _molar_mass(formula: str) -> float:
    return sum(ATOMIC_MASS[el] * int(n or 1) for el, n in re.findall(r"([A-Z][a-z]?)(\d*)", formula))


def _to_celsius(t: float, scale: str) -> float:
    return {"celsius": t, "fahrenheit": (t - 32) * 5 / 9, "kelvin": t - 273.15}[scale]


def _from_celsius(t: float, scale: str) -> float:
    return {"celsius": t, "fahrenheit": t * 9 / 5 + 32, "kelvin": t + 273.15}[scale]


def _percentile(values: list[float], p: int) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    xs, pos = sorted(values), p / 100 * (len(values) - 1)
    lo = math.floor(pos)
    return xs[lo] + (xs[min(lo + 1, len(xs) - 1)] - xs[lo]) * (pos - lo)


def factorial(rng, a):
    r = {"n": a["n"], "factorial": math.factorial(a["n"])}
    return r, (f"{a['n']}! = {r['factorial']}.", f"The factorial of {a['n']} is {r['factorial']}.")


def gcd(rng, a):
    x, y = a["first_number"], a["second_number"]
    r = {"gcd": math.gcd(x, y)}
    return r, (f"The greatest common divisor of {x} and {y} is {r['gcd']}.", f"gcd({x}, {y}) = {r['gcd']}.")


def lcm(rng, a):
    r = {"lcm": math.lcm(*a["numbers"])}
    return r, (f"The least common multiple of {join(a['numbers'])} is {r['lcm']}.",)


def quadratic(rng, a):
    qa, qb, qc = a["coef_a"], a["coef_b"], a["coef_c"]
    d = qb * qb - 4 * qa * qc
    if d < 0:
        return {"discriminant": d, "roots": []}, (f"There are no real roots: the discriminant is {d}.",)
    roots = sorted({num((-qb - math.sqrt(d)) / (2 * qa), 4), num((-qb + math.sqrt(d)) / (2 * qa), 4)})
    r = {"discriminant": d, "roots": roots}
    if len(roots) == 1:
        return r, (f"There is one real root, x = {roots[0]}.",)
    return r, (f"The real roots are x = {roots[0]} and x = {roots[1]}.", f"x = {roots[0]} or x = {roots[1]}.")


def prime(rng, a):
    n = a["number"]
    factor = next((f for f in range(2, math.isqrt(n) + 1) if n % f == 0), None)
    r = {"number": n, "is_prime": factor is None, "smallest_factor": factor}
    if factor is None:
        return r, (f"Yes, {n} is a prime number.", f"{n} is prime.")
    return r, (f"No, {n} is not prime: it is divisible by {factor}.", f"{n} is not a prime; {factor} divides it.")


def number_base(rng, a):
    n, base, digits = a["number"], a["base"], ""
    while n:
        n, d = divmod(n, base)
        digits = "0123456789ABCDEF"[d] + digits
    r = {"number": a["number"], "base": base, "digits": digits}
    return r, (f"{a['number']} in base {base} is {digits}.", f"In base {base}, {a['number']} is written {digits}.")


def mean(rng, a):
    r = {"count": len(a["numbers"]), "mean": num(statistics.fmean(a["numbers"]), 4)}
    return r, (f"The mean of those {r['count']} numbers is {r['mean']}.", f"The average is {r['mean']}.")


def median(rng, a):
    r = {"count": len(a["numbers"]), "median": num(statistics.median(a["numbers"]), 4)}
    return r, (f"The median is {r['median']}.", f"The median of those {r['count']} values is {r['median']}.")


def std_dev(rng, a):
    sample = a.get("sample", False)
    value = (statistics.stdev if sample else statistics.pstdev)(a["numbers"])
    r = {"std_dev": num(value, 4), "formula": "sample" if sample else "population"}
    return r, (f"The {r['formula']} standard deviation is {r['std_dev']}.",)


def percentile(rng, a):
    r = {"percentile": a["percentile"], "value": num(_percentile(a["numbers"], a["percentile"]), 4)}
    return r, (f"The {ordinal(a['percentile'])} percentile is {r['value']}.",)


def binomial(rng, a):
    n, k, p = a["trials"], a["successes"], a["probability"]
    r = {"probability": num(math.comb(n, k) * p ** k * (1 - p) ** (n - k), 6)}
    return r, (f"The probability of exactly {k} successes in {n} trials is {r['probability']}.",
               f"P(X = {k}) = {r['probability']}.")


def z_score(rng, a):
    r = {"z_score": num((a["value"] - a["mean"]) / a["std_dev"], 3)}
    return r, (f"The z-score is {r['z_score']}.", f"{a['value']} is {r['z_score']} standard deviations from the mean.")


def confidence(rng, a):
    level = a.get("confidence_level", 0.95)
    margin = statistics.NormalDist().inv_cdf(0.5 + level / 2) * a["std_dev"] / math.sqrt(a["sample_size"])
    r = {"confidence_percent": num(level * 100, 1), "lower": num(a["mean"] - margin), "upper": num(a["mean"] + margin)}
    return r, (f"The {r['confidence_percent']}% confidence interval for the mean is {r['lower']} to {r['upper']}.",)


def circle(rng, a):
    unit = a.get("length_unit", "m")
    r = {"area": num(math.pi * a["radius"] ** 2), "unit": f"{unit}^2"}
    return r, (f"A circle with radius {a['radius']} {unit} has an area of {r['area']} {unit}^2.",
               f"The area is {r['area']} {unit}^2.")


def triangle(rng, a):
    r = {"area": num(a["base_length"] * a["height"] / 2)}
    return r, (f"The triangle's area is {r['area']}.", f"Area = {r['area']}.")


def hypotenuse(rng, a):
    r = {"hypotenuse": num(math.hypot(a["side_a"], a["side_b"]), 3)}
    return r, (f"The hypotenuse is {r['hypotenuse']}.", f"The third side measures {r['hypotenuse']}.")


def distance(rng, a):
    p, q = a["first_point"], a["second_point"]
    r = {"distance": num(math.hypot(p["x"] - q["x"], p["y"] - q["y"]), 3)}
    return r, (f"The points are {r['distance']} apart.", f"The distance between them is {r['distance']}.")


def rectangle(rng, a):
    w, h = a["dimensions"]["width"], a["dimensions"]["height"]
    r = {"area": num(w * h), "perimeter": num(2 * (w + h)), "diagonal": num(math.hypot(w, h), 3)}
    return r, (f"Area {r['area']}, perimeter {r['perimeter']}, diagonal {r['diagonal']}.",
               f"The rectangle has an area of {r['area']}, a perimeter of {r['perimeter']} and a diagonal of "
               f"{r['diagonal']}.")


def cylinder(rng, a):
    r = {"volume": num(math.pi * a["base_radius"] ** 2 * a["height"])}
    return r, (f"The cylinder's volume is {r['volume']}.",)


def sphere(rng, a):
    r = {"surface_area": num(4 * math.pi * a["radius"] ** 2)}
    return r, (f"The sphere's surface area is {r['surface_area']}.",)


def kinetic(rng, a):
    r = {"energy_j": num(0.5 * a["mass_kg"] * a["velocity_m_s"] ** 2)}
    return r, (f"The kinetic energy is {r['energy_j']} J.", f"That body carries {r['energy_j']} joules.")


def projectile(rng, a):
    g = a.get("gravity", GRAVITY)
    value = a["initial_velocity"] ** 2 * math.sin(math.radians(2 * a["launch_angle_deg"])) / g
    r = {"range_m": num(value), "gravity": g}
    return r, (f"The projectile lands {r['range_m']} m away.", f"Its horizontal range is {r['range_m']} meters.")


def power(rng, a):
    r = {"power_w": num(a["voltage"] * a["current"])}
    return r, (f"The power is {r['power_w']} W.", f"That draws {r['power_w']} watts.")


def velocity(rng, a):
    r = {"final_velocity_m_s": num(a["initial_velocity"] + a["acceleration"] * a["time_s"])}
    return r, (f"The final velocity is {r['final_velocity_m_s']} m/s.",)


def wavelength(rng, a):
    speed = a.get("wave_speed", 343)
    r = {"wavelength_m": num(speed / a["frequency_hz"], 4), "wave_speed": speed}
    return r, (f"The wavelength is {r['wavelength_m']} m.",)


def density(rng, a):
    r = {"density_g_cm3": num(a["mass_g"] / a["volume_cm3"], 3)}
    return r, (f"The density is {r['density_g_cm3']} g/cm^3.",)


def gravitational(rng, a):
    r = {"force_n": float(f"{G * a['mass1_kg'] * a['mass2_kg'] / a['distance_m'] ** 2:.3g}")}
    return r, (f"The gravitational force between them is {r['force_n']} N.",)


def molar_mass(rng, a):
    r = {"formula": a["formula"], "molar_mass_g_mol": num(_molar_mass(a["formula"]), 3)}
    return r, (f"The molar mass of {a['formula']} is {r['molar_mass_g_mol']} g/mol.",)


def ph(rng, a):
    r = {"ph": num(-math.log10(a["h_concentration"]))}
    return r, (f"The pH is {r['ph']}.", f"That solution has a pH of {r['ph']}.")


def dilution(rng, a):
    value = a["initial_concentration"] * a["initial_volume_ml"] / a["final_volume_ml"]
    r = {"final_concentration_mol_l": num(value, 4)}
    return r, (f"The final concentration is {r['final_concentration_mol_l']} mol/L.",)


def balance(rng, a):
    r = {"balanced": BALANCED[a["equation"]]}
    return r, (f"Balanced: {r['balanced']}", f"The balanced equation is {r['balanced']}.")


def gas(rng, a):
    r = {"pressure_kpa": num(a["moles"] * GAS_CONSTANT * a["temperature_k"] / a["volume_l"])}
    return r, (f"The pressure is {r['pressure_kpa']} kPa.",)


def length(rng, a):
    value = a["length"] * METERS[a["from_unit"]] / METERS[a["to_unit"]]
    r = {"value": num(value, 4), "unit": a["to_unit"]}
    return r, (f"{a['length']} {a['from_unit']} is {r['value']} {a['to_unit']}.",)


def temperature(rng, a):
    value = _from_celsius(_to_celsius(a["temperature"], a["from_scale"]), a["to_scale"])
    r = {"value": num(value), "scale": a["to_scale"]}
    return r, (f"That's {r['value']} degrees {a['to_scale'].capitalize()}.",)


def cooking(rng, a):
    value = a["amount"] * MILLILITERS[a["from_unit"]] / MILLILITERS[a["to_unit"]]
    r = {"value": num(value), "unit": a["to_unit"]}
    return r, (f"{a['amount']} {a['from_unit']} is about {r['value']} {a['to_unit']}.",)


def data_size(rng, a):
    base = 1000 if a.get("decimal_units") else 1024
    value = a["value"] * base ** (DATA_POWER[a["from_unit"]] - DATA_POWER[a["to_unit"]])
    r = {"value": num(value, 4), "unit": a["to_unit"], "base": base}
    return r, (f"{a['value']} {a['from_unit']} is {r['value']} {a['to_unit']}.",)


def compound(rng, a):
    k = a.get("compounds_per_year", 1)
    r = {"final_balance": num(a["principal"] * (1 + a["annual_rate"] / k) ** (k * a["years"]))}
    years = f"{a['years']} year" + ("s" if a["years"] != 1 else "")
    return r, (f"After {years} the balance would be {r['final_balance']}.",)


def loan(rng, a):
    rate, n = a["annual_rate"] / 12, a["term_months"]
    r = {"monthly_payment": num(a["loan_amount"] * rate / (1 - (1 + rate) ** -n))}
    return r, (f"The monthly payment would be {r['monthly_payment']}.",
               f"You'd pay {r['monthly_payment']} a month for {n} months.")


def roi(rng, a):
    r = {"roi_percent": num((a["final_value"] - a["initial_investment"]) / a["initial_investment"] * 100)}
    return r, (f"The return on investment is {r['roi_percent']}%.",)


def npv(rng, a):
    flows = a["yearly_cash_flows"]
    value = -a["initial_investment"] + sum(cf / (1 + a["discount_rate"]) ** t for t, cf in enumerate(flows, 1))
    r = {"npv": num(value)}
    return r, (f"The net present value is {r['npv']}.",)


def break_even(rng, a):
    r = {"units": math.ceil(a["fixed_costs"] / (a["price_per_unit"] - a["variable_cost_per_unit"]))}
    return r, (f"You'd need to sell {r['units']} units to break even.",)


def bmi(rng, a):
    value = num(a["weight_kilograms"] / a["height_meters"] ** 2, 1)
    band = "underweight" if value < 18.5 else "normal" if value < 25 else "overweight" if value < 30 else "obese"
    r = {"bmi": value, "category": band}
    return r, (f"The BMI is {value}, which counts as {band}.",)


def calories(rng, a):
    bmr = 10 * a["weight_kg"] + 6.25 * a["height_cm"] - 5 * a["age"] + (5 if a["sex"] == "male" else -161)
    r = {"calories_per_day": round(bmr * ACTIVITY[a.get("activity_level", "sedentary")])}
    return r, (f"That's about {r['calories_per_day']} calories a day.",)


OUTCOMES = {
    "factorial_of_integer": factorial, "greatest_common_divisor": gcd, "calculate_least_common_multiple": lcm,
    "real_roots_of_quadratic": quadratic, "check_prime": prime, "convert_number_base": number_base,
    "calculate_mean": mean, "calculate_median": median, "spread_std_dev": std_dev,
    "calculate_percentile": percentile, "binomial_pmf": binomial, "calculate_z_score": z_score,
    "calculate_confidence_interval": confidence, "circle_area_from_radius": circle,
    "triangle_area_base_times_height": triangle, "calculate_hypotenuse": hypotenuse,
    "calculate_distance_between_points": distance, "calculate_rectangle_properties": rectangle,
    "cylinder_volume": cylinder, "calculate_sphere_surface_area": sphere, "calculate_kinetic_energy": kinetic,
    "projectile_flight_range": projectile, "calculate_electrical_power": power,
    "velocity_after_acceleration": velocity, "calculate_wavelength": wavelength,
    "density_from_mass_volume": density, "calculate_gravitational_force": gravitational,
    "calculate_molar_mass": molar_mass, "calculate_ph": ph, "calculate_dilution": dilution,
    "balance_chemical_equation": balance, "calculate_ideal_gas_pressure": gas, "length_unit_conversion": length,
    "convert_temperature": temperature, "convert_cooking_measure": cooking, "convert_data_size": data_size,
    "compound_interest_growth": compound, "calculate_loan_payment": loan, "return_on_investment": roi,
    "net_present_value": npv, "calculate_break_even_point": break_even, "body_mass_index": bmi,
    "calculate_daily_calories": calories,
}
