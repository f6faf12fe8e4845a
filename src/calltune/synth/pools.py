"""Word lists that slot generators draw realistic values from. Plain data, no logic."""

CITIES = (
    "Paris", "London", "Tokyo", "New York", "Berlin", "Madrid", "Rome", "Lisbon", "Amsterdam", "Vienna",
    "Prague", "Budapest", "Warsaw", "Stockholm", "Oslo", "Helsinki", "Copenhagen", "Dublin", "Edinburgh",
    "Zurich", "Geneva", "Brussels", "Barcelona", "Munich", "Milan", "Athens", "Istanbul", "Cairo",
    "Nairobi", "Lagos", "Cape Town", "Dubai", "Mumbai", "Delhi", "Bangalore", "Singapore", "Bangkok",
    "Hanoi", "Seoul", "Osaka", "Beijing", "Shanghai", "Hong Kong", "Taipei", "Manila", "Jakarta",
    "Sydney", "Melbourne", "Auckland", "Toronto", "Vancouver", "Montreal", "Chicago", "Boston",
    "San Francisco", "Los Angeles", "Seattle", "Denver", "Austin", "Miami", "Atlanta", "Mexico City",
    "Bogota", "Lima", "Santiago", "Buenos Aires", "Sao Paulo", "Rio de Janeiro", "Reykjavik", "Krakow",
    "Porto", "Seville", "Valencia", "Lyon", "Marseille", "Hamburg", "Cologne", "Kyoto", "Perth", "Quebec City",
)

AIRPORTS = ("CDG", "LHR", "HND", "JFK", "BER", "MAD", "FCO", "LIS", "AMS", "VIE", "PRG", "ARN", "OSL",
            "DUB", "ZRH", "BRU", "BCN", "MUC", "ATH", "IST", "DXB", "BOM", "SIN", "BKK", "ICN", "SYD",
            "YYZ", "ORD", "BOS", "SFO", "LAX", "SEA", "DEN", "MIA", "ATL", "MEX", "GRU", "EZE", "KEF")

FIRST_NAMES = (
    "Alice", "Bruno", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiroshi", "Ines", "Jamal", "Katya",
    "Liam", "Maya", "Nikolai", "Olivia", "Pedro", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Valentina",
    "Wei", "Ximena", "Yusuf", "Zoe", "Aisha", "Ben", "Carmen", "Dmitri", "Emma", "Felix", "Hannah",
    "Ivan", "Julia", "Kenji", "Lucia", "Marco", "Nadia", "Oscar", "Priya", "Rahul", "Sofia", "Tomas",
)

LAST_NAMES = (
    "Anderson", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quintero", "Rossi", "Schmidt",
    "Tanaka", "Usman", "Varga", "Walsh", "Xu", "Yilmaz", "Zhang", "Murphy", "Novak", "Silva", "Kim",
)

EMAIL_DOMAINS = ("example.com", "mail.com", "acme.io", "company.org", "studio.net", "uni.edu")

TICKERS = ("AAPL", "MSFT", "GOOGL", "AMZN", "TSLA", "NVDA", "META", "NFLX", "IBM", "ORCL", "INTC", "AMD",
           "KO", "PEP", "DIS", "NKE", "JPM", "V", "MA", "WMT", "SAP", "ASML", "SHOP", "UBER")

PRODUCTS = (
    "wireless headphones", "mechanical keyboard", "espresso machine", "running shoes", "yoga mat",
    "standing desk", "air fryer", "electric toothbrush", "hiking backpack", "smartwatch", "desk lamp",
    "robot vacuum", "water bottle", "noise-cancelling earbuds", "cast iron skillet", "gaming mouse",
    "portable charger", "bluetooth speaker", "office chair", "winter jacket", "e-reader", "blender",
    "tennis racket", "camping tent", "USB-C hub", "french press", "fitness tracker", "wool socks",
)

STREETS = ("Oak Street", "Maple Avenue", "Elm Road", "Baker Street", "Sunset Boulevard", "Main Street",
           "Church Lane", "Park Avenue", "River Road", "Hill Street", "Station Road", "Lake Drive")

PLACES = ("Louvre Museum", "Central Park", "Eiffel Tower", "Golden Gate Bridge", "Colosseum", "Big Ben",
          "Sagrada Familia", "Brandenburg Gate", "Sydney Opera House", "Times Square", "Acropolis",
          "Shibuya Crossing", "Tower Bridge", "Grand Central Terminal", "Stanley Park", "Blue Mosque")

CUISINES = ("Italian", "Japanese", "Mexican", "Indian", "Thai", "French", "Greek", "Korean", "Vietnamese",
            "Lebanese", "Ethiopian", "Spanish", "Turkish", "Peruvian", "Chinese", "vegan")

HOTELS = ("Grand Plaza Hotel", "Riverside Inn", "Hotel Aurora", "The Harbour Lodge", "Old Town Suites",
          "Park View Hotel", "Hotel Meridian", "Skyline Residences", "Casa Verde", "The Linden")

TEAMS = ("Lakers", "Celtics", "Warriors", "Bulls", "Arsenal", "Liverpool", "Real Madrid", "Barcelona FC",
         "Bayern Munich", "Juventus", "Yankees", "Red Sox", "Dodgers", "Patriots", "Packers", "Chiefs",
         "Maple Leafs", "Canadiens", "Ajax", "Benfica", "Celtic", "Boca Juniors", "Flamengo", "Inter Miami")

ATHLETES = ("Serena Walsh", "Marco Rossi", "Kenji Tanaka", "Lucia Costa", "Jamal Okafor", "Emma Lindqvist",
            "Ivan Petrov", "Priya Haddad", "Tomas Novak", "Aisha Usman")

ROOMS = ("living room", "kitchen", "bedroom", "office", "garage", "hallway", "bathroom", "nursery", "patio")

DEVICES = ("ceiling light", "floor lamp", "smart plug", "thermostat", "air purifier", "ceiling fan",
           "TV", "speaker", "space heater", "dehumidifier", "coffee maker", "desk lamp")

FOLDERS = ("documents", "reports", "photos", "projects", "invoices", "backups", "notes", "downloads",
           "music", "archive", "drafts", "taxes")

FILE_STEMS = ("budget", "meeting_notes", "resume", "vacation", "invoice_march", "thesis_draft", "roadmap",
              "slides", "contract", "inventory", "recipe", "changelog", "q3_summary", "guest_list")

CHANNELS = ("general", "engineering", "random", "design", "marketing", "support", "release-notes",
            "ops-alerts", "book-club", "data-team")

MEDICATIONS = ("ibuprofen", "paracetamol", "amoxicillin", "metformin", "lisinopril", "cetirizine",
               "omeprazole", "vitamin D", "melatonin", "aspirin", "loratadine", "atorvastatin")

FOODS = ("banana", "apple", "avocado", "oatmeal", "greek yogurt", "almonds", "brown rice", "salmon",
         "chicken breast", "broccoli", "lentils", "egg", "quinoa", "sweet potato", "peanut butter")

EXERCISES = ("running", "cycling", "swimming", "rowing", "hiking", "yoga", "weightlifting", "walking")

CHEMICALS = ("H2O", "NaCl", "CO2", "C6H12O6", "H2SO4", "NH3", "CH4", "CaCO3", "KMnO4", "C2H5OH",
             "NaHCO3", "HCl", "O2", "Fe2O3", "MgSO4")

ELEMENTS = ("hydrogen", "helium", "carbon", "nitrogen", "oxygen", "sodium", "magnesium", "aluminium",
            "silicon", "sulfur", "chlorine", "potassium", "calcium", "iron", "copper", "zinc", "silver",
            "gold", "mercury", "lead", "uranium", "neon", "argon", "titanium")

COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella Labs", "Stark Industries", "Wayne Enterprises",
             "Hooli", "Vandelay Imports", "Soylent Foods", "Cyberdyne Systems")

# Irrelevant (no-call) requests draw from these.
ANIMALS = ("penguins", "cats", "octopuses", "giraffes", "owls", "dolphins", "hedgehogs", "llamas", "bees")
TOPICS = ("autumn leaves", "the ocean", "friendship", "a rainy Sunday", "city lights", "old libraries",
          "the first snow", "mountains at dawn", "a lost umbrella", "coffee")
COUNTRIES = ("Portugal", "Kenya", "Peru", "Vietnam", "Norway", "Morocco", "Chile", "Iceland", "Nepal",
             "Canada", "Greece", "Ghana", "Mongolia", "Uruguay")
BOOKS = ("Moby-Dick", "Pride and Prejudice", "One Hundred Years of Solitude", "The Odyssey", "Dune",
         "Jane Eyre", "Don Quixote", "Things Fall Apart", "The Little Prince", "War and Peace")
DISHES = ("risotto", "banana bread", "pad thai", "shakshuka", "sourdough", "ramen broth", "paella",
          "guacamole", "pancakes", "lasagna")
SKILLS = ("juggling", "knitting", "chess openings", "touch typing", "public speaking", "watercolor painting",
          "meditation", "playing the ukulele")
WORDS = ("serendipity", "ephemeral", "quixotic", "sonder", "petrichor", "ubiquitous", "laconic", "hygge")
LANGUAGES = ("Spanish", "French", "German", "Japanese", "Italian", "Portuguese", "Korean", "Swahili")
