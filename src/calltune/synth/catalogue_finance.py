"""Catalogue: finance and e-commerce tools."""

from calltune.synth import pools
from calltune.synth.catalogue import tool
from calltune.synth.slots import array, choice, date, flag, ident, integer, number, obj, text, zip_code

CURRENCIES = {"USD": ("US dollars", "dollars"), "EUR": ("euros",), "GBP": ("British pounds", "pounds sterling"),
              "JPY": ("Japanese yen", "yen"), "CHF": ("Swiss francs",), "CAD": ("Canadian dollars",),
              "AUD": ("Australian dollars",), "INR": ("Indian rupees", "rupees"), "MXN": ("Mexican pesos",)}
PERIODS = {"1m": ("past month", "last month"), "6m": ("past six months", "last 6 months"),
           "1y": ("past year", "last twelve months"), "5y": ("past five years", "last 5 years")}
ORDER = "Order id, e.g. \"ORD-48213\""


def coupon(rng):
    return rng.choice(("SAVE", "SPRING", "WELCOME", "VIP", "FLASH", "HOLIDAY")) + str(rng.randint(5, 50))


def street(rng):
    return f"{rng.randint(1, 999)} {rng.choice(pools.STREETS)}"


ADDRESS = {"street": text("Street and number", street), "city": text("City", pools.CITIES),
           "zip": text("Postal code", zip_code)}

TOOLS = [
    tool("stock_quote", "finance", "Get the latest trading price of a stock by ticker symbol.",
         {"ticker": text("Ticker symbol, e.g. \"AAPL\"", pools.TICKERS)},
         commands=["get the current price of {ticker}", "look up {ticker} stock", "check how {ticker} is trading",
                   "pull the latest quote for {ticker}"],
         phrases=["What's {ticker} trading at?", "How much is one share of {ticker} right now?",
                  "Where is {ticker} stock today?", "Quote for {ticker}?"]),
    tool("compare_stock_performance", "finance", "Compare the price performance of several stocks over a period.",
         {"tickers": array("Ticker symbols", text("Ticker", pools.TICKERS), lo=2, hi=4),
          "period": choice("Look-back period", PERIODS)},
         commands=["compare how {tickers} did over the {period}",
                   "show the performance of {tickers} for the {period}",
                   "chart {tickers} against each other over the {period}"],
         phrases=["Which did better over the {period}: {tickers}?", "How have {tickers} performed in the {period}?"]),
    tool("exchange_money", "finance", "Convert an amount of money from one currency to another at today's rate.",
         {"amount": number("Amount to convert", 1, 20000),
          "currency_from": choice("Currency of the amount", CURRENCIES),
          "currency_to": choice("Currency to convert into", CURRENCIES)},
         commands=["convert {amount} {currency_from} to {currency_to}",
                   "change {amount} {currency_from} into {currency_to}",
                   "work out what {amount} {currency_from} is in {currency_to}"],
         phrases=["How much is {amount} {currency_from} in {currency_to}?",
                  "What do {amount} {currency_from} come to in {currency_to}?",
                  "I have {amount} {currency_from}. How many {currency_to} is that?"]),
    tool("currency_pair_rate", "finance", "Get the exchange rate between two currencies, today or on a past date.",
         {"base": choice("Currency to convert from", CURRENCIES),
          "quote": choice("Currency to convert to", CURRENCIES),
          "date": date("Date of the rate, YYYY-MM-DD; omit for today", required=False)},
         commands=["get the exchange rate from {base} to {quote}", "look up the {base} to {quote} rate"],
         phrases=["What's the exchange rate between {base} and {quote}?",
                  "How many {quote} do I get for one unit of {base}?"],
         clauses={"date": [" on {date}", " as of {date}"]}),
    tool("compound_interest_growth", "finance",
         "Compute the final balance of an investment with compound interest.",
         {"principal": number("Initial amount", 500, 100000, decimals=0),
          "annual_rate": number("Annual interest rate as a decimal, e.g. 0.05", 0.5, 12, decimals=2, percent=True),
          "years": integer("Number of years", 1, 40),
          "compounds_per_year": integer("Compounding periods per year", 2, 12, required=False, default=1)},
         commands=["calculate compound interest on {principal} at {annual_rate} for {years} years",
                   "work out what {principal} grows to at {annual_rate} a year over {years} years",
                   "compute the balance after {years} years for {principal} invested at {annual_rate}"],
         phrases=["If I invest {principal} at {annual_rate} annual interest, how much will I have after {years} years?",
                  "What does {principal} become in {years} years at a {annual_rate} yearly rate?"],
         clauses={"compounds_per_year": [", compounded {compounds_per_year} times a year",
                                         " with {compounds_per_year} compounding periods per year"]}),
    tool("calculate_loan_payment", "finance", "Compute the fixed monthly payment of an amortizing loan.",
         {"loan_amount": number("Amount borrowed", 1000, 800000, decimals=0),
          "annual_rate": number("Annual interest rate as a decimal", 1, 15, decimals=2, percent=True),
          "term_months": integer("Loan term in months", 12, 360, words=False)},
         commands=["calculate the monthly payment on a {loan_amount} loan at {annual_rate} over {term_months} months",
                   "work out my monthly installment for borrowing {loan_amount} at {annual_rate} for {term_months} "
                   "months"],
         phrases=["What would I pay per month on {loan_amount} borrowed at {annual_rate} for {term_months} months?",
                  "I'm taking a {loan_amount} loan at {annual_rate} over {term_months} months. What's the monthly "
                  "payment?"]),
    tool("return_on_investment", "finance", "Compute the return on investment as a percentage.",
         {"initial_investment": number("Amount invested", 100, 50000, decimals=2),
          "final_value": number("Value at the end", 100, 90000, decimals=2)},
         commands=["calculate the ROI if I put in {initial_investment} and it's now worth {final_value}",
                   "compute my return on investment: bought for {initial_investment}, now {final_value}"],
         phrases=["I invested {initial_investment} and now have {final_value}. What's my return?",
                  "What's the ROI on {initial_investment} turning into {final_value}?"]),
    tool("net_present_value", "finance", "Compute the net present value of a series of yearly cash flows.",
         {"initial_investment": number("Up-front cost", 1000, 100000, decimals=0),
          "yearly_cash_flows": array("Cash flow of each year", number("Cash flow", 100, 30000, decimals=0), lo=3, hi=6),
          "discount_rate": number("Discount rate as a decimal", 2, 15, decimals=1, percent=True)},
         commands=["calculate the NPV of a project costing {initial_investment} with yearly cash flows of "
                   "{yearly_cash_flows} at {discount_rate}",
                   "find the net present value: outlay {initial_investment}, cash flows {yearly_cash_flows}, discount rate "
                   "{discount_rate}"],
         phrases=["Is a project worth it if it costs {initial_investment} and returns {yearly_cash_flows} over the years, "
                  "discounted at {discount_rate}?"]),
    tool("calculate_break_even_point", "finance", "Compute how many units must be sold to cover fixed costs.",
         {"fixed_costs": number("Total fixed costs", 1000, 200000, decimals=0),
          "price_per_unit": number("Selling price per unit", 5, 500),
          "variable_cost_per_unit": number("Variable cost per unit", 1, 4)},
         commands=["calculate the break-even point with fixed costs of {fixed_costs}, a price of {price_per_unit} "
                   "and a unit cost of {variable_cost_per_unit}",
                   "find break-even volume: fixed {fixed_costs}, price {price_per_unit} per unit, variable cost "
                   "{variable_cost_per_unit} per unit"],
         phrases=["How many units do I need to sell to break even if fixed costs are {fixed_costs}, each sells for "
                  "{price_per_unit} and costs {variable_cost_per_unit} to make?"]),
    tool("search_products", "ecommerce", "Search the shop's catalogue for products.",
         {"query": text("What to search for", pools.PRODUCTS),
          "max_price": number("Highest acceptable price", 10, 800, decimals=0, required=False),
          "sort_by": choice("Result order", {"price_asc": ("cheapest first", "lowest price first"),
                                             "price_desc": ("most expensive first",),
                                             "rating": ("best rated first", "top rated first"),
                                             "newest": ("newest first",)}, required=False, default="rating")},
         commands=["search for {query}", "find me a {query}", "show me {query} options", "look for a good {query}"],
         phrases=["Do you sell a {query}?", "I'm shopping for a {query}.", "What {query} models do you have?"],
         clauses={"max_price": [" under {max_price}", " for at most {max_price}",
                                " that costs no more than {max_price}"],
                  "sort_by": [", sorted {sort_by}", ", {sort_by}"]}),
    tool("track_order", "ecommerce", "Get the shipping status of an order.",
         {"order_id": text(ORDER, ident("ORD-", 5))},
         commands=["track order {order_id}", "check where my order {order_id} is",
                   "get the shipping status for {order_id}"],
         phrases=["Where's my package {order_id}?", "Has order {order_id} shipped yet?",
                  "When will {order_id} arrive?"]),
    tool("add_to_cart", "ecommerce", "Add a product to the shopping cart.",
         {"product_id": text("Product SKU, e.g. \"SKU-482913\"", ident("SKU-", 6)),
          "quantity": integer("How many", 1, 10),
          "gift_wrap": flag("Gift-wrap the item", required=False, default=False,
                            true=("gift-wrapped", "with gift wrapping"), false=("no gift wrap",))},
         commands=["add {quantity} of {product_id} to my cart", "put {quantity} units of {product_id} in the basket",
                   "add item {product_id} to the cart, quantity {quantity}"],
         phrases=["I'll take {quantity} of {product_id}.", "Can I get {quantity} x {product_id} in my cart?"],
         clauses={"gift_wrap": [", {gift_wrap}", " ({gift_wrap})"]}),
    tool("return_item", "ecommerce", "Start a return for an order.",
         {"order_id": text(ORDER, ident("ORD-", 5)),
          "reason": choice("Why it is returned", {"damaged": ("it arrived damaged", "it's broken"),
                                                  "wrong_item": ("they sent the wrong item",
                                                                 "it's not what I ordered"),
                                                  "not_as_described": ("it doesn't match the description",),
                                                  "no_longer_needed": ("I no longer need it", "I changed my mind")})},
         commands=["start a return for order {order_id} because {reason}", "return {order_id}; {reason}"],
         phrases=["I want to send back {order_id} because {reason}.",
                  "Order {order_id}: {reason}. How do I return it?"]),
    tool("apply_coupon", "ecommerce", "Apply a discount code to the current cart.",
         {"code": text("Coupon code", coupon)},
         commands=["apply the coupon {code}", "use discount code {code} on my cart", "redeem promo code {code}"],
         phrases=["I have a promo code, {code}. Can it go on my order?", "Does {code} work on my cart?"]),
    tool("check_product_availability", "ecommerce",
         "Check whether a product is in stock at stores near a postal code.",
         {"product": text("Product name", pools.PRODUCTS), "zip_code": text("Postal code", zip_code)},
         commands=["check if the {product} is in stock near {zip_code}",
                   "see whether stores around {zip_code} have the {product}"],
         phrases=["Is the {product} available in any store near {zip_code}?",
                  "Can I pick up a {product} near {zip_code} today?"]),
    tool("update_shipping_address", "ecommerce", "Change the delivery address of an order that has not shipped.",
         {"order_id": text(ORDER, ident("ORD-", 5)),
          "address": obj("New delivery address", ADDRESS, fmt="{street}, {city} {zip}")},
         commands=["change the shipping address of {order_id} to {address}",
                   "send order {order_id} to {address} instead"],
         phrases=["I moved. Please deliver {order_id} to {address}.", "Can {order_id} go to {address}?"]),
]

CONTEXTS = {
    "finance": ("I'm reviewing my investments.", "My accountant asked me about this.", "I'm doing some budgeting.",
                "I'm preparing a report for my manager."),
    "ecommerce": ("I'm doing some online shopping.", "My birthday is coming up.", "I ordered something last week.",
                  "I'm on your shop's website."),
}
