"""Requests that no catalogue tool can serve (chit-chat, general knowledge, writing): the "general" domain
of irrelevant examples. The generator also makes irrelevant examples from real tool requests offered only
tools of another family; see `generator.sample_irrelevant`.
"""

from __future__ import annotations

import random

from calltune.synth import pools

GENERAL_DOMAIN = "general"

TEMPLATES = (
    "Tell me a joke about {animal}.", "Write a haiku about {topic}.", "Write a short poem about {topic}, please.",
    "Who wrote {book}?", "Can you summarize the plot of {book}?", "What's {book} about, in two sentences?",
    "How do I make {dish} at home?", "What's a good recipe for {dish}?", "Give me three tips for learning {skill}.",
    "How long does it take to get good at {skill}?", "What does the word '{word}' mean?", "Use '{word}' in a sentence.",
    "How do you say 'thank you' in {language}?", "Is {language} hard to learn for English speakers?",
    "What's the capital of {country}?", "What language do people speak in {country}?",
    "Tell me something interesting about the history of {country}.", "Why do {animal} behave the way they do?",
    "Are {animal} good pets?", "How are you today?", "Thanks, that's all I needed!", "What's your favourite book?",
    "Can you explain how photosynthesis works?", "Why is the sky blue?",
    "What's the difference between a virus and a bacterium?", "Who painted the Mona Lisa?",
    "Explain the rules of chess to a beginner.", "What's the meaning of life, in your opinion?",
    "Suggest a name for my new podcast about {topic}.", "I feel a bit stressed today. Any advice?",
    "Recommend a classic novel similar to {book}.", "What are some fun facts about {animal}?",
    "Help me brainstorm a title for an essay on {topic}.", "Write a limerick about {animal}.",
    "What's the origin of the word '{word}'?", "Hi there!", "Good morning! Just saying hello.",
    "Can you proofread this sentence: 'Their going to the park tomorrow'?", "What should I name my cat?",
    "Describe {topic} in the style of Shakespeare.", "Why do people celebrate new year with fireworks?",
)
SLOTS = {"animal": pools.ANIMALS, "topic": pools.TOPICS, "book": pools.BOOKS, "dish": pools.DISHES,
         "skill": pools.SKILLS, "word": pools.WORDS, "language": pools.LANGUAGES, "country": pools.COUNTRIES}


def sample_smalltalk(rng: random.Random) -> tuple[str, str]:
    """Return `(template_id, instruction)` for a request that needs no tool."""
    index = rng.randrange(len(TEMPLATES))
    template = TEMPLATES[index]
    values = {name: rng.choice(pool) for name, pool in SLOTS.items() if "{" + name + "}" in template}
    return f"smalltalk{index}", template.format(**values)
