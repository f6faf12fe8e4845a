"""`calltune serve`: an OpenAI-compatible tool-calling server with constrained decoding.

    calltune serve --adapter runs/hermes          # http://127.0.0.1:8000/v1, model id "calltune"

Any OpenAI client can call it (`POST /v1/chat/completions` with `tools`, `tool_choice`,
`parallel_tool_calls`, `stream`; `GET /v1/models`; `GET /health`). Prompts are rendered with the
chat template the model was trained with (`calltune.chat`), and under constrained decoding (the
default) every tool call it returns parses and obeys its tool's schema.

- `config`: `ServeConfig` (model, HTTP, request limits) and `EngineConfig` (batching, queue,
  prefix cache); every field is a command-line option.
- `schema`: requests checked and normalized, OpenAI-shaped responses, chunks and errors.
- `stream`: answer text -> content and tool calls, whole or as stream deltas.
- `api`: the FastAPI app (`create_app(engine, config)`); never touches tensors.
- `engine`: the model, the continuous-batching scheduler thread and the prefix cache; never sees HTTP.
- `kv_batch`, `prefix_cache`: the engine's left-padded batch KV and its reusable prompt prefixes.
- `draft`: the guesses of the engine's speculative decode steps (grammar-forced tokens, prompt lookup).
- `server`: `run_server(config)`, what the command runs.
"""

from calltune.serve.config import EngineConfig, ServeConfig

__all__ = ["Engine", "EngineConfig", "ServeConfig", "create_app", "run_server"]


def __getattr__(name):  # the heavy parts (torch, fastapi) load on first use, not at import
    if name == "Engine":
        from calltune.serve.engine import Engine

        return Engine
    if name == "create_app":
        from calltune.serve.api import create_app

        return create_app
    if name == "run_server":
        from calltune.serve.server import run_server

        return run_server
    raise AttributeError(name)
