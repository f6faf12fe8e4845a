"""Greedy decoding of a GGUF export through llama.cpp (llama-cpp-python, the optional `llama` extra).

    llm = LlamaCpp("model.gguf")
    ids = llm.tokenize(prompt_text)             # llama.cpp's tokenizer, from the GGUF metadata
    answer = llm.greedy(ids, max_new_tokens=128)
    text = llm.chat(messages, tools, max_new_tokens=128)   # the GGUF's own chat template

It is the check that an export serves what calltune trained: the prompt text calltune renders,
tokenized by llama.cpp and decoded greedily, should give calltune's own answer; and so should
llama-cpp-python's OpenAI-style chat completion, which renders the conversation with the template
stored in the GGUF (`benchmarks/llamacpp_parity.py`, `tests/test_export*.py`). An answer ends, as
in calltune's hermes decoding (`generate.py`), at an end-of-generation token (EOS, `<|im_end|>`)
or at the text `<|im_end|>` (tokenizers without it as a token spell it out).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from calltune.errors import CalltuneError
from calltune.generate import END_OF_TURN, cut_turn


@dataclass(frozen=True)
class LlamaCppAnswer:
    text: str
    """The answer's text up to (without) its end of turn."""
    ids: tuple[int, ...]
    """The generated token ids, without the end-of-generation token."""


class LlamaCpp:
    """One GGUF file loaded by llama.cpp on the CPU."""

    def __init__(self, path: str, n_ctx: int = 0, n_threads: int | None = None, logits: bool = False,
                 cache: str = "f16"):
        """`n_ctx` 0: the model's context length; `n_threads` default: every core; `logits`: keep every
        position's logits (`logits()`), slower; `cache`: the KV cache's type, `f16` (llama.cpp's
        default, what its server runs) or `f32` (llama.cpp computes as transformers does, to float
        rounding: for checking the weights)."""
        try:
            import llama_cpp
        except ImportError:
            raise CalltuneError("llama.cpp checks need llama-cpp-python: pip install 'calltune[llama]' "
                                "(builds llama.cpp from source)") from None
        threads = n_threads or os.cpu_count() or 1
        kv = {"f16": llama_cpp.GGML_TYPE_F16, "f32": llama_cpp.GGML_TYPE_F32}[cache]
        self.llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                                   logits_all=logits, type_k=kv, type_v=kv, verbose=False)

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text` with special tokens (`<|im_start|>`) read as such, no BOS added."""
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def detokenize(self, ids) -> str:
        return self.llm.detokenize(list(ids), special=True).decode("utf-8", errors="replace")

    def logits(self, ids: list[int]):
        """`(T, vocab)` float32 logits at every position of `ids` (needs `logits=True`)."""
        import numpy as np

        self.llm.reset()
        self.llm.eval(list(ids))
        return np.array(self.llm.scores[: len(ids)], dtype=np.float32)

    def greedy(self, prompt_ids: list[int], max_new_tokens: int) -> LlamaCppAnswer:
        """Greedy-decode after `prompt_ids` (no cache reuse across calls: each prompt from scratch)."""
        from llama_cpp import llama_vocab_is_eog

        self.llm.reset()
        ids: list[int] = []
        for token in self.llm.generate(prompt_ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0,
                                       reset=True):
            if llama_vocab_is_eog(self.llm._model.vocab, token):  # EOS, <|im_end|>, ...: where llama.cpp stops
                break
            ids.append(token)
            if len(ids) >= max_new_tokens or END_OF_TURN in self.detokenize(ids[-8:]):
                break
        return LlamaCppAnswer(cut_turn(self.detokenize(ids)), tuple(ids))

    def render_chat(self, messages: list[dict], tools: list[dict] | None) -> str:
        """The prompt text llama-cpp-python's chat completion builds from the GGUF's
        `tokenizer.chat_template` (what `chat` sends to the model), without generating."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        model = self.llm._model  # as `Llama.__init__` builds its chat handler from the metadata
        text = lambda token: model.token_get_text(token) if token != -1 else ""  # noqa: E731
        formatter = Jinja2ChatFormatter(template=self.llm.metadata["tokenizer.chat_template"],
                                        eos_token=text(model.token_eos()), bos_token=text(model.token_bos()))
        return formatter(messages=messages, tools=tools or None).prompt

    def chat(self, messages: list[dict], tools: list[dict] | None, max_new_tokens: int) -> str:
        """The assistant's text from `create_chat_completion` at temperature 0: the conversation and
        tools rendered by the GGUF's `tokenizer.chat_template`, as an OpenAI-style client would ask."""
        self.llm.reset()
        out = self.llm.create_chat_completion(messages=messages, tools=tools or None, temperature=0.0, top_k=1,
                                              top_p=1.0, min_p=0.0, repeat_penalty=1.0, max_tokens=max_new_tokens)
        return cut_turn(out["choices"][0]["message"]["content"] or "")
