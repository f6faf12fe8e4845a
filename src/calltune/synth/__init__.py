"""Procedural synthetic tool-call data: a catalogue of tools with phrasing templates, a seeded generator,
augmentations (renaming, property shuffling, distractors, irrelevant requests with text answers),
parallel requests (`parallel.py`), dialogues over synthesized tool results (`dialogue.py`, `results.py`,
`followups.py`), an unambiguity check and a data card. Run it as
`calltune data synth --n 5000 --seed 0 --out synth.jsonl` and `calltune data stats synth.jsonl`.
"""
