"""calltune: teach small language models to make reliable tool calls.

Pipeline: data (examples.py, seed/) -> prompts.py -> models.py -> generate.py
-> extract.py -> score.py -> bfcl.py / demo.py; the command line is cli.py.
"""

__version__ = "0.1.0"
