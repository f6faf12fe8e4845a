"""`calltune serve`: load the model, start the engine, run the app on uvicorn until interrupted.

    calltune serve --adapter runs/hermes --port 8000
    calltune serve --model embedded --decoding greedy --api-key "$KEY" --host 0.0.0.0
"""

from __future__ import annotations

import ipaddress
import sys

from calltune.serve.config import ServeConfig


def load_for_serving(config: ServeConfig):
    """`(model, tokenizer)`: `models.load_model`, with the adapter merged into unquantized weights
    (the same function, one matrix product per layer fewer at every decode step)."""
    from calltune.models import load_model, resolve_quantization

    model, tokenizer, _ = load_model(config.model, config.adapter, quantization=config.quantization)
    if config.adapter is not None and resolve_quantization(config.quantization, config.adapter) == "none":
        model = model.merge_and_unload()
        model.eval()
    return model, tokenizer


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_server(config: ServeConfig) -> int:
    """Serve until Ctrl-C; returns the exit code."""
    import uvicorn

    from calltune.serve.api import create_app
    from calltune.serve.engine import Engine

    if not is_loopback(config.host) and config.api_key is None:
        print(f"warning: binding {config.host} without --api-key: anyone who can reach it can use the model",
              file=sys.stderr)
    model, tokenizer = load_for_serving(config)
    engine = Engine(model, tokenizer, config.engine)
    engine.warm_up()
    engine.start()
    margin = config.engine.abstain_margin
    try:
        print(f"calltune serve: model '{config.served_model_name}' ({config.model}"
              f"{', adapter ' + config.adapter if config.adapter else ''}, {config.engine.decoding} decoding"
              f"{'' if margin is None else f', abstain margin {margin:g}'}"
              f"{'' if config.engine.num_beams == 1 else f', {config.engine.num_beams} beams'}) on "
              f"http://{config.host}:{config.port}/v1", file=sys.stderr)
        uvicorn.run(create_app(engine, config), host=config.host, port=config.port, log_level=config.log_level)
    finally:
        engine.stop()
    return 0
