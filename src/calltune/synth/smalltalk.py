"""Requests that no catalogue tool can serve (chit-chat, general knowledge, writing): the "general" domain
of irrelevant examples, each with a short reply for a `target_content`. The generator also makes
irrelevant examples from real tool requests offered only tools of another family and answers them with
`decline`; see `generator.sample_irrelevant`.
"""

from __future__ import annotations

import random
import re

from calltune.synth import pools

GENERAL_DOMAIN = "general"

# Facts the replies state, for every value of the slot pools they use (a test checks the coverage).
AUTHORS = {"Moby-Dick": "Herman Melville", "Pride and Prejudice": "Jane Austen",
           "One Hundred Years of Solitude": "Gabriel García Márquez", "The Odyssey": "Homer",
           "Dune": "Frank Herbert", "Jane Eyre": "Charlotte Brontë", "Don Quixote": "Miguel de Cervantes",
           "Things Fall Apart": "Chinua Achebe", "The Little Prince": "Antoine de Saint-Exupéry",
           "War and Peace": "Leo Tolstoy"}
PLOTS = {"Moby-Dick": "Captain Ahab's obsessive hunt for the white whale that took his leg, told by the sailor "
                      "Ishmael",
         "Pride and Prejudice": "Elizabeth Bennet and Mr Darcy as they get past their first impressions of each "
                                "other in Regency England",
         "One Hundred Years of Solitude": "seven generations of the Buendía family in the fictional town of Macondo",
         "The Odyssey": "Odysseus on his ten-year journey home to Ithaca after the Trojan War",
         "Dune": "young Paul Atreides on the desert planet Arrakis, caught in a struggle over the precious spice",
         "Jane Eyre": "an orphaned governess who falls in love with her employer, Mr Rochester, and uncovers his "
                      "secret",
         "Don Quixote": "a country gentleman who reads so many tales of chivalry that he sets out as a knight, with "
                        "Sancho Panza as his squire",
         "Things Fall Apart": "Okonkwo, a proud Igbo leader whose life and village are upended by colonial rule",
         "The Little Prince": "a pilot stranded in the desert who meets a young prince visiting from a tiny asteroid",
         "War and Peace": "several Russian aristocratic families during Napoleon's invasion of Russia"}
SIMILAR = {"Moby-Dick": "Joseph Conrad's Heart of Darkness", "Pride and Prejudice": "Jane Austen's Emma",
           "One Hundred Years of Solitude": "Isabel Allende's The House of the Spirits",
           "The Odyssey": "Virgil's Aeneid", "Dune": "Ursula K. Le Guin's The Left Hand of Darkness",
           "Jane Eyre": "Emily Brontë's Wuthering Heights", "Don Quixote": "Laurence Sterne's Tristram Shandy",
           "Things Fall Apart": "Chinua Achebe's No Longer at Ease",
           "The Little Prince": "Richard Bach's Jonathan Livingston Seagull",
           "War and Peace": "Fyodor Dostoevsky's The Brothers Karamazov"}
CAPITALS = {"Portugal": "Lisbon", "Kenya": "Nairobi", "Peru": "Lima", "Vietnam": "Hanoi", "Norway": "Oslo",
            "Morocco": "Rabat", "Chile": "Santiago", "Iceland": "Reykjavik", "Nepal": "Kathmandu",
            "Canada": "Ottawa", "Greece": "Athens", "Ghana": "Accra", "Mongolia": "Ulaanbaatar",
            "Uruguay": "Montevideo"}
SPOKEN = {"Portugal": "Portuguese", "Kenya": "Swahili and English", "Peru": "Spanish, and also Quechua and Aymara",
          "Vietnam": "Vietnamese", "Norway": "Norwegian", "Morocco": "Arabic and Berber, and many also speak French",
          "Chile": "Spanish", "Iceland": "Icelandic", "Nepal": "Nepali", "Canada": "English and French",
          "Greece": "Greek", "Ghana": "English, alongside languages such as Twi and Ewe", "Mongolia": "Mongolian",
          "Uruguay": "Spanish"}
THANK_YOU = {"Spanish": "gracias", "French": "merci", "German": "danke", "Japanese": "arigatou",
             "Italian": "grazie", "Portuguese": "obrigado (or obrigada)", "Korean": "gamsahamnida",
             "Swahili": "asante"}
DIFFICULTY = {"Spanish": "one of the easier languages for English speakers",
              "French": "one of the easier languages for English speakers",
              "Italian": "one of the easier languages for English speakers",
              "Portuguese": "one of the easier languages for English speakers",
              "German": "moderately hard: the grammar has cases and genders, but much vocabulary is familiar",
              "Swahili": "moderately hard, though its spelling is regular and its pronunciation is easy",
              "Japanese": "among the hardest, mostly because of its writing system",
              "Korean": "among the hardest, though the Hangul alphabet itself can be learned in days"}
MEANINGS = {"serendipity": "finding something good by happy accident", "ephemeral": "lasting only a very short time",
            "quixotic": "idealistic in an impractical way",
            "sonder": "the realization that every passer-by has a life as vivid and complex as your own",
            "petrichor": "the pleasant, earthy smell after rain falls on dry ground",
            "ubiquitous": "present or found everywhere", "laconic": "using very few words",
            "hygge": "a cosy, contented feeling of comfort and togetherness"}
SENTENCES = {"serendipity": "Meeting my best friend on a delayed train was pure serendipity.",
             "ephemeral": "The beauty of cherry blossoms is ephemeral; they fall within a week.",
             "quixotic": "His quixotic plan to row across the Atlantic alone worried his family.",
             "sonder": "Watching the crowded station, she felt a wave of sonder.",
             "petrichor": "After the storm, the garden was full of petrichor.",
             "ubiquitous": "Smartphones have become ubiquitous in everyday life.",
             "laconic": "His laconic reply was just one word: \"No.\"",
             "hygge": "Candles, blankets and hot cocoa gave the cabin a real sense of hygge."}
ORIGINS = {"serendipity": "Horace Walpole coined it in 1754, after a Persian fairy tale, The Three Princes of "
                          "Serendip",
           "ephemeral": "it comes from the Greek ephemeros, 'lasting only a day'",
           "quixotic": "it comes from Don Quixote, Cervantes's idealistic would-be knight",
           "sonder": "it was coined by John Koenig for his Dictionary of Obscure Sorrows",
           "petrichor": "two Australian scientists coined it in 1964 from the Greek petra, 'stone', and ichor, the "
                        "fluid in the veins of the gods",
           "ubiquitous": "it comes from the Latin ubique, 'everywhere'",
           "laconic": "it comes from Laconia, the region of Sparta, whose people were known for terse speech",
           "hygge": "it is Danish, from an old Norse word for well-being"}
HAIKUS = {"autumn leaves": "Red leaves drift and fall\nthe old path is paved in gold\nwind hums a last song",
          "the ocean": "Endless grey-blue sea\nwaves fold over the pale sand\nsalt wind in my hair",
          "friendship": "Two cups on the sill\nlaughter older than our names\nstill warm when we part",
          "a rainy Sunday": "Rain taps the window\nslow pages and cooling tea\nSunday holds its breath",
          "city lights": "Towers hum with light\na thousand windows awake\nthe night never sleeps",
          "old libraries": "Dust on leather spines\nwhispers of forgotten hands\nthe quiet of time",
          "the first snow": "First snow on the roofs\nthe whole street has gone silent\nfootprints, then no more",
          "mountains at dawn": "Peaks turn rose and gold\nmist lifts slowly from the pines\nthe day climbs the ridge",
          "a lost umbrella": "One umbrella waits\nalone by the station door\nthe rain keeps falling",
          "coffee": "Dark steam curling up\nthe first sip before the day\nwarm hands, waking mind"}
FUN_FACTS = {"penguins": "emperor penguins can dive deeper than 500 metres", "cats": "cats sleep for about two-thirds "
             "of the day", "octopuses": "octopuses have three hearts and blue blood",
             "giraffes": "a giraffe's neck has seven vertebrae, the same number as ours",
             "owls": "owls can turn their heads about 270 degrees", "dolphins": "dolphins sleep with one half of "
             "their brain at a time", "hedgehogs": "a hedgehog has around 5,000 to 7,000 spines",
             "llamas": "llamas hum to communicate with each other",
             "bees": "honey bees tell each other where the flowers are with a waggle dance"}
SINGULAR = {"penguins": "penguin", "cats": "cat", "octopuses": "octopus", "giraffes": "giraffe", "owls": "owl",
            "dolphins": "dolphin", "hedgehogs": "hedgehog", "llamas": "llama", "bees": "bee"}

# (request, reply): the reply may use the request's slots and the facts above (`_facts`).
TEMPLATES = (
    ("Tell me a joke about {animal}.", "Why did the {one} bring a ladder to the party? Because it heard the drinks "
                                       "were on the house!"),
    ("Write a haiku about {topic}.", "{haiku}"),
    ("Write a short poem about {topic}, please.", "Here's a short one:\n\n{haiku}"),
    ("Who wrote {book}?", "{book} was written by {author}."),
    ("Can you summarize the plot of {book}?", "{book} follows {plot}."),
    ("What's {book} about, in two sentences?", "{book} follows {plot}. It was written by {author}."),
    ("How do I make {dish} at home?", "Happy to help with {dish}! Do you want a quick weeknight version or a more "
                                      "traditional one, and how many people are you cooking for?"),
    ("What's a good recipe for {dish}?", "There are many good takes on {dish}. Tell me what ingredients and how much "
                                         "time you have, and I'll suggest a recipe that fits."),
    ("Give me three tips for learning {skill}.", "1. Practise a little every day rather than a lot once a week. 2. "
                                                 "Master the basics slowly before going faster. 3. Keep track of your "
                                                 "progress so you know what to work on next."),
    ("How long does it take to get good at {skill}?", "It depends on how much you practise, but with 20 to 30 "
                                                      "minutes a day most people get comfortable with {skill} within "
                                                      "a few months, and keep improving for years."),
    ("What does the word '{word}' mean?", "'{word}' means {meaning}."),
    ("Use '{word}' in a sentence.", "{sentence}"),
    ("How do you say 'thank you' in {language}?", "In {language}, 'thank you' is \"{thanks}\"."),
    ("Is {language} hard to learn for English speakers?", "{language} is {difficulty}."),
    ("What's the capital of {country}?", "The capital of {country} is {capital}."),
    ("What language do people speak in {country}?", "In {country}, people mainly speak {spoken}."),
    ("Tell me something interesting about the history of {country}.",
     "{country} has a long and layered history. Is there a period you're most curious about, such as its early "
     "history or how the modern country took shape?"),
    ("Why do {animal} behave the way they do?", "Mostly instinct, shaped by where they live: what they eat, what "
                                                "hunts them and how they raise their young. Is there a particular "
                                                "behaviour of {animal} you're curious about?"),
    ("Are {animal} good pets?", "That depends on the species and on your situation. Before getting {animal}, check "
                                "how much space, time and care they need, and whether keeping them is legal and kind "
                                "where you live."),
    ("How are you today?", "I'm doing well, thanks for asking! How can I help you today?"),
    ("Thanks, that's all I needed!", "You're welcome! Have a great day."),
    ("What's your favourite book?", "I don't have personal favourites, but many readers love classics like Pride and "
                                    "Prejudice or The Little Prince. What kind of books do you enjoy?"),
    ("Can you explain how photosynthesis works?", "Plants use the energy of sunlight to turn water and carbon dioxide "
                                                  "into glucose, which feeds them, and release oxygen as a by-product. "
                                                  "It happens in the chloroplasts, where chlorophyll captures the "
                                                  "light."),
    ("Why is the sky blue?", "Sunlight is scattered by the molecules in the air, and blue light, with its shorter "
                             "wavelength, scatters much more than red. So blue light reaches your eyes from every "
                             "direction of the sky."),
    ("What's the difference between a virus and a bacterium?", "Bacteria are living single-celled organisms that "
                                                               "reproduce on their own, and antibiotics can kill many "
                                                               "of them. Viruses are much smaller, multiply only "
                                                               "inside a host's cells, and antibiotics don't work on "
                                                               "them."),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted the Mona Lisa in the early 1500s. It hangs in the "
                                   "Louvre in Paris."),
    ("Explain the rules of chess to a beginner.", "Each side starts with sixteen pieces: a king, a queen, two rooks, "
                                                  "two bishops, two knights and eight pawns. White moves first, then "
                                                  "the players alternate, and each piece moves in its own way. You win "
                                                  "by checkmate: attacking the enemy king so that it cannot escape."),
    ("What's the meaning of life, in your opinion?", "People answer that very differently: many find meaning in the "
                                                     "people they love, in work they care about, in curiosity or in "
                                                     "faith. What matters most to you?"),
    ("Suggest a name for my new podcast about {topic}.", "How about \"Notes on {topic}\" or \"Talking {topic}\"? Tell "
                                                         "me the tone you're going for and I can suggest more."),
    ("I feel a bit stressed today. Any advice?", "I'm sorry you're feeling stressed. A short walk, a minute of slow "
                                                 "breathing, or writing down what's on your mind so you can tackle "
                                                 "one thing at a time can all help. If it keeps up, talk to someone "
                                                 "you trust."),
    ("Recommend a classic novel similar to {book}.", "If you liked {book}, try {similar}."),
    ("What are some fun facts about {animal}?", "Here's one: {fact}."),
    ("Help me brainstorm a title for an essay on {topic}.", "A few ideas: \"Thinking About {topic}\", \"What {topic} "
                                                            "Teaches Us\" or \"In Praise of {topic}\"."),
    ("Write a limerick about {animal}.", "There once were some {animal} so bold,\nwho would never do what they were "
                                         "told;\nthey danced through the night,\ngave the neighbours a fright,\nand "
                                         "slept the whole morning, I'm told."),
    ("What's the origin of the word '{word}'?", "'{word}' has a nice story: {origin}."),
    ("Hi there!", "Hi! What can I do for you?"),
    ("Good morning! Just saying hello.", "Good morning to you too! Let me know if there's anything I can help with."),
    ("Can you proofread this sentence: 'Their going to the park tomorrow'?", "It should be: 'They're going to the "
                                                                             "park tomorrow.' 'Their' shows "
                                                                             "possession; 'they're' is short for "
                                                                             "'they are'."),
    ("What should I name my cat?", "How about Miso, Pepper or Luna? Tell me about your cat's colour or personality "
                                   "and I can suggest something that fits."),
    ("Describe {topic} in the style of Shakespeare.", "O {bare}, what gentle wonder dost thou bring,\nthat stirs the "
                                                      "heart as birdsong stirs the spring!"),
    ("Why do people celebrate new year with fireworks?", "The custom goes back to ancient China, where loud bangs "
                                                         "were believed to scare away evil spirits at the start of "
                                                         "the year. Today fireworks are mostly a joyful, shared way "
                                                         "to mark a fresh start."),
)
SLOTS = {"animal": pools.ANIMALS, "topic": pools.TOPICS, "book": pools.BOOKS, "dish": pools.DISHES,
         "skill": pools.SKILLS, "word": pools.WORDS, "language": pools.LANGUAGES, "country": pools.COUNTRIES}
DECLINES = (
    "Sorry, I can't help with that here: the tools I have ({names}) don't cover it.",
    "None of my available tools ({names}) can do that, so I can't handle this request right now.",
    "I don't have a tool for that. What I can use here is {names}, and none of them fits your request.",
    "Unfortunately that's outside what I can do with {names}. Is there anything else I can help with?",
)


def _facts(values: dict) -> dict:
    """The facts a reply may name for the slot values of a request."""
    out = {}
    if "book" in values:
        book = values["book"]
        out.update(author=AUTHORS[book], plot=PLOTS[book], similar=SIMILAR[book])
    if "country" in values:
        out.update(capital=CAPITALS[values["country"]], spoken=SPOKEN[values["country"]])
    if "language" in values:
        out.update(thanks=THANK_YOU[values["language"]], difficulty=DIFFICULTY[values["language"]])
    if "word" in values:
        word = values["word"]
        out.update(meaning=MEANINGS[word], sentence=SENTENCES[word], origin=ORIGINS[word])
    if "topic" in values:
        out.update(haiku=HAIKUS[values["topic"]], bare=re.sub(r"^(a|the) ", "", values["topic"]))
    if "animal" in values:
        out.update(one=SINGULAR[values["animal"]], fact=FUN_FACTS[values["animal"]])
    return out


def sample_smalltalk(rng: random.Random) -> tuple[str, str, str]:
    """Return `(template_id, request, reply)` for a request that needs no tool."""
    index = rng.randrange(len(TEMPLATES))
    request, reply = TEMPLATES[index]
    values = {name: rng.choice(pool) for name, pool in SLOTS.items() if "{" + name + "}" in request}
    return f"smalltalk{index}", request.format(**values), reply.format(**values, **_facts(values))


def decline(rng: random.Random, offered_names: list[str]) -> str:
    """A reply to a request that none of the offered tools (named as offered) can serve."""
    names = [f"`{n}`" for n in offered_names]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return rng.choice(DECLINES).format(names=listed)
