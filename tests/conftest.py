"""Shared fixtures: a tiny random GPT-2 with a small byte-level BPE tokenizer, built locally.

Nothing here touches the network: HF_HUB_OFFLINE is forced on for the whole session.
"""

from __future__ import annotations

import json
import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SEED_TEXT_PATH = os.path.join(os.path.dirname(__file__), "..", "src", "calltune", "seed", "all.jsonl")


def tiny_tokenizer(directory: str):
    """Train a ~500-token byte-level BPE on the seed data and save it as a GPT-2 tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2TokenizerFast

    with open(SEED_TEXT_PATH, encoding="utf-8") as handle:
        corpus = [line for line in handle]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    hf = GPT2TokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                           unk_token="<|endoftext|>")
    hf.save_pretrained(directory)
    return hf


def build_tiny_gpt2(directory: str, seed: int = 0, n_embd: int = 32, n_positions: int = 1024) -> str:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = tiny_tokenizer(directory)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=n_positions, n_embd=n_embd, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    GPT2LMHeadModel(config).save_pretrained(directory)
    return directory


def build_tiny_llama(directory: str, seed: int = 0) -> str:
    """A 2-layer random Llama-style model (q/k/v/o_proj, RMSNorm, rotary) with the tiny tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer(directory)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                         tie_word_embeddings=True)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> str:
    """Path of a 2-layer random Llama-style model with its tokenizer."""
    return build_tiny_llama(str(tmp_path_factory.mktemp("tiny-llama")))


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> str:
    """Path of a 2-layer random GPT-2 (Conv1D layers) with its tokenizer."""
    return build_tiny_gpt2(str(tmp_path_factory.mktemp("tiny-gpt2")))


@pytest.fixture(scope="module")
def one_thread():
    """torch on one thread for a module's tests (the serving engine's modules), restored after them."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_loaded(tiny_gpt2):
    """`load_model(tiny_gpt2)`, loaded once for the modules that only decode with it (never train it)."""
    from calltune.models import load_model

    return load_model(tiny_gpt2)


@pytest.fixture
def write_jsonl_lines(tmp_path):
    """Write raw lines (strings or objects) to a file and return its path."""
    def write(name: str, rows: list) -> str:
        path = tmp_path / name
        path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
        return str(path)
    return write


# the tiny GPT-2's tokenizer and a grammar cache over it (module scope: each module compiles its own grammars)

@pytest.fixture(scope="module")
def tok(tiny_gpt2):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_gpt2)


@pytest.fixture(scope="module")
def cache(tok):
    from calltune.constrain import GrammarCache

    return GrammarCache(tok, len(tok))
