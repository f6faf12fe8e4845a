"""`calltune serve` under load: N concurrent clients over loopback for a bounded time.

    python benchmarks/serve.py [--model embedded] [--adapter RUN] [--clients 8] [--seconds 60]
        [--max-tokens 64] [--threads 2] [--draft-tokens 8] [--draft-step-overhead X]
        [--data seed:all] [--toolbox N] [--servers one-at-a-time,batched+prefix] [--quick]
        [--out serve-bench.json]

Each client runs agent loops on calltune's seed examples: a first turn with the example's tools;
if the answer calls tools, a second turn that resends the same tools and history plus a canned
tool result; then the next example. `--toolbox N`: every conversation offers the same N tools
(an agent's toolbox: a longer prompt, the same every turn). Four servers run the same loops in turn (each a
`calltune serve` subprocess, so clients and server do not share a Python interpreter):

    one-at-a-time           1 client,  --max-batch-size 1, --prefix-cache-mb 0
    one-at-a-time + prefix  1 client,  --max-batch-size 1, prefix cache on
    batched                 N clients, --max-batch-size N, --prefix-cache-mb 0
    batched + prefix        N clients, --max-batch-size N, prefix cache on

and report requests/s, p50/p95 latency, completion tokens/s, the share of prompt tokens
served from the prefix cache and the engine's decode steps (tokens fed per step, draft tokens
kept; `--servers` runs a subset). Then, on the batched + prefix server, one client measures
conversations whose first turn is cold (a unique first line makes nothing reusable) against
their second turn (same tools, the first turn's history): the second-to-first latency ratio
(the first turn is asked with `tool_choice: "required"`, so that every conversation has a
second turn), both the whole turn and the prompt alone (the same turn asked with max_tokens 1,
in a copy of the conversation that shares nothing with the first in the cache, whose first turn
is decoded whole before its second turn is asked, as a real first turn leaves the cache); `--turns-only`
measures just that, with the prefix cache on and off. The targets (issue #12): batched + prefix >= 3x the requests/s of one-at-a-time
with 8 clients; a second turn <= 1/3 of the first turn's latency. Run it on a quiet machine;
one warm-up request per server is not counted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time

TOOL_RESULT = '{"status": "ok", "result": 42}'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(port: int, body: dict, timeout: float = 600) -> tuple[float, dict]:
    """(seconds, decoded response) of one chat completion; raises on a non-200 answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = json.loads(response.read())
    seconds = time.perf_counter() - start
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {data}")
    return seconds, data


class Server:
    """A `calltune serve` subprocess on a free loopback port."""

    def __init__(self, args, batch: int, prefix_mb: float):
        self.port = free_port()
        command = [sys.executable, "-m", "calltune", "serve", "--model", args.model, "--port", str(self.port),
                   "--max-batch-size", str(batch), "--prefix-cache-mb", str(prefix_mb), "--log-level", "warning",
                   "--max-queue", str(4 * args.clients), "--draft-tokens", str(args.draft_tokens)]
        if args.draft_step_overhead is not None:
            command += ["--draft-step-overhead", str(args.draft_step_overhead)]
        if args.adapter:
            command += ["--adapter", args.adapter]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        self.process = subprocess.Popen(command, env=env)
        deadline = time.monotonic() + 600
        while True:
            try:
                health(self.port, timeout=5)
                return
            except (OSError, ValueError):  # not listening yet, or not answering JSON yet
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("calltune serve did not start")
            time.sleep(0.5)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)


def toolbox_of(examples, n: int):
    """(examples, tools): the first `n` distinct tools of `examples` in order (an agent's toolbox),
    and the examples whose tools are all among them."""
    tools = {}
    for example in examples:
        for tool in example.tools:
            if len(tools) < n:
                tools.setdefault(tool.name, tool)
    chosen = [e for e in examples if all(t.name in tools for t in e.tools)]
    return chosen, list(tools.values())


def conversations(examples, max_tokens: int, seed: int, cold: bool = False, toolbox=None):
    """Endless (first-turn body, second-turn maker) pairs over `examples`, in a seeded order; each
    offers its example's tools, or all of `toolbox`."""
    rng = random.Random(seed)
    while True:
        example = rng.choice(examples)
        messages = example.conversation()
        if cold:  # a unique first line: nothing of this prompt is in the prefix cache
            messages = [{"role": "system", "content": f"Session {rng.getrandbits(64):x}."}] + \
                [m for m in messages if m["role"] != "system"]
        tools = [{"type": "function", "function": t.spec()} for t in (toolbox or example.tools)]
        body = {"model": "calltune", "messages": messages, "tools": tools, "max_tokens": max_tokens}

        def second(answer, body=body):
            calls = answer["choices"][0]["message"].get("tool_calls")
            if not calls:
                return None
            results = [{"role": "tool", "tool_call_id": c["id"], "content": TOOL_RESULT} for c in calls]
            history = body["messages"] + [{"role": "assistant", "content": None, "tool_calls": calls}] + results
            return {**body, "messages": history}

        yield body, second


def health(port: int, timeout: float = 60) -> dict:
    """The server's /health counters; raises OSError while it is not up."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        if response.status != 200:
            raise OSError(f"/health answered {response.status}")
        return json.loads(response.read())
    finally:
        conn.close()


def load(port: int, examples, clients: int, seconds: float, max_tokens: int, toolbox=None) -> dict:
    """Run `clients` agent loops for `seconds`; requests finishing after the deadline are not counted."""
    records, errors, lock = [], [], threading.Lock()
    before = health(port)
    deadline = time.perf_counter() + seconds

    def client(index):
        for body, second in conversations(examples, max_tokens, seed=index, toolbox=toolbox):
            while body is not None and time.perf_counter() < deadline:
                try:
                    latency, answer = post(port, body)
                except (OSError, RuntimeError) as err:  # counted, and the loop moves on
                    with lock:
                        errors.append(str(err)[:200])
                    break
                if time.perf_counter() > deadline:
                    return
                usage = answer["usage"]
                with lock:
                    records.append((latency, usage["completion_tokens"], usage["prompt_tokens"],
                                    usage["prompt_tokens_details"]["cached_tokens"]))
                body = second(answer) if "tool" not in body["messages"][-1]["role"] else None
            if time.perf_counter() >= deadline:
                return

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = max(time.perf_counter() - start, seconds)
    latencies = sorted(r[0] for r in records)
    if not latencies:
        return {"requests": 0, "errors": len(errors), "first_error": errors[0] if errors else None}
    after = health(port)  # the engine's counters over this run (requests cut at the deadline included)
    steps, fed, made, drafts, kept = (after.get(k, 0) - before.get(k, 0) for k in
                                      ("steps", "fed_tokens", "completion_tokens", "draft_tokens",
                                       "accepted_draft_tokens"))
    return {"requests": len(records), "errors": len(errors), "requests_per_s": round(len(records) / elapsed, 3),
            "steps": steps, "fed_per_step": round(fed / steps, 2) if steps else None,
            "tokens_per_step": round(made / steps, 2) if steps else None,
            "draft_tokens": drafts, "draft_tokens_kept": kept,
            "p50_s": round(statistics.median(latencies), 3),
            "p95_s": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 3),
            "completion_tokens_per_s": round(sum(r[1] for r in records) / elapsed, 2),
            "prompt_tokens": sum(r[2] for r in records),
            "cached_share": round(sum(r[3] for r in records) / max(1, sum(r[2] for r in records)), 3)}


def turns(port: int, examples, pairs: int, max_tokens: int, toolbox=None) -> dict:
    """First (cold) vs second turn of `pairs` conversations that call a tool, one request at a time:
    the whole turn's latency, and the prompt's cost alone (the turn asked with `max_tokens: 1`, i.e.
    prefill plus one decode step). The prompts alone are measured on a copy of the conversation
    under another first line, so that they share nothing in the prefix cache with the whole turns:
    its first turn cold, then (not timed) decoded whole, as a real first turn leaves the cache,
    then its second turn."""
    firsts, seconds_, first_prompts, second_prompts, tried = [], [], [], [], 0
    for body, second in conversations(examples, max_tokens, seed=1234, cold=True, toolbox=toolbox):
        tried += 1
        if len(firsts) == pairs or tried > 20 * pairs:
            break
        first_s, answer = post(port, {**body, "tool_choice": "required"})  # an agent's first turn calls a tool
        follow = second(answer)
        if follow is None:
            continue
        second_s, _ = post(port, follow)
        probe = {**body, "messages": [{"role": "system", "content": body["messages"][0]["content"] + " Probe."}]
                 + body["messages"][1:]}
        probe_first_s, _ = post(port, {**probe, "tool_choice": "required", "max_tokens": 1})
        _, probe_answer = post(port, {**probe, "tool_choice": "required"})
        probe_follow = second(probe_answer, body=probe)
        if probe_follow is None:
            continue
        second_prompts.append(post(port, {**probe_follow, "max_tokens": 1})[0])
        first_prompts.append(probe_first_s)
        firsts.append(first_s)
        seconds_.append(second_s)
    if not firsts:
        return {"pairs": 0}

    def ratio(a, b):
        return round(statistics.median(y / x for x, y in zip(a, b)), 3)

    return {"pairs": len(firsts), "first_turn_p50_s": round(statistics.median(firsts), 3),
            "second_turn_p50_s": round(statistics.median(seconds_), 3),
            "second_over_first_p50": ratio(firsts, seconds_),
            "first_prompt_p50_s": round(statistics.median(first_prompts), 3),
            "second_prompt_p50_s": round(statistics.median(second_prompts), 3),
            "second_over_first_prompt_p50": ratio(first_prompts, second_prompts)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--data", default="seed:all", help="examples whose tools and requests the clients send")
    parser.add_argument("--toolbox", type=int, default=0,
                        help="every conversation offers the same N tools (the first N distinct tools of --data; "
                             "only examples using them are asked); 0: each example's own tools")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help="per configuration")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--pairs", type=int, default=8, help="conversations for the first- vs second-turn latency")
    parser.add_argument("--threads", type=int, default=2, help="the server's torch threads")
    parser.add_argument("--draft-tokens", type=int, default=8, help="the servers' --draft-tokens (0: no speculative steps)")
    parser.add_argument("--draft-step-overhead", type=float, default=None,
                        help="the servers' --draft-step-overhead (default: the server's; inf: always the widest draft)")
    parser.add_argument("--servers", default=None,
                        help="comma-separated subset of the four servers, e.g. one-at-a-time,batched+prefix")
    parser.add_argument("--quick", action="store_true", help="2 clients, 5 s per configuration, 2 pairs")
    parser.add_argument("--turns-only", action="store_true",
                        help="only the first- vs second-turn measurement, with and without the prefix cache")
    parser.add_argument("--out", default=None, help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.seconds, args.pairs = 2, 5.0, 2

    from calltune.examples import load_examples

    examples, toolbox = load_examples(args.data), None
    if args.toolbox:
        examples, toolbox = toolbox_of(examples, args.toolbox)
        if not examples:
            parser.error(f"--toolbox {args.toolbox}: no example of {args.data} uses only the first {args.toolbox} tools")
    configs = [("one-at-a-time", 1, 1, 0), ("one-at-a-time + prefix", 1, 1, 256),
               ("batched", args.clients, args.clients, 0), ("batched + prefix", args.clients, args.clients, 256)]
    results = {"model": args.model, "adapter": args.adapter, "clients": args.clients, "seconds": args.seconds,
               "max_tokens": args.max_tokens, "threads": args.threads, "draft_tokens": args.draft_tokens,
               "draft_step_overhead": args.draft_step_overhead, "data": args.data,
               "toolbox": [t.name for t in toolbox] if toolbox else None, "runs": {}}
    if args.turns_only:
        configs = configs[2:]
    if args.servers:  # names as in the table, spaces optional: one-at-a-time,batched+prefix
        wanted = {name.replace(" ", "") for name in args.servers.split(",")}
        unknown = wanted - {name.replace(" ", "") for name, *_ in configs}
        if unknown:
            parser.error(f"--servers: unknown {', '.join(sorted(unknown))} "
                         f"(choose from {', '.join(name for name, *_ in configs)})")
        configs = [c for c in configs if c[0].replace(" ", "") in wanted]
    for name, clients, batch, prefix_mb in configs:
        server = Server(args, batch, prefix_mb)
        try:
            warm = next(conversations(examples, args.max_tokens, seed=99, toolbox=toolbox))[0]
            for choice in ("auto", "required"):  # compiles the tool set's grammars before any timing
                post(server.port, {**warm, "tool_choice": choice})
            if not args.turns_only:
                results["runs"][name] = load(server.port, examples, clients, args.seconds, args.max_tokens, toolbox)
                print(f"{name}: {json.dumps(results['runs'][name])}", file=sys.stderr)
            if name == "batched + prefix" or args.turns_only:
                key = "turns" if prefix_mb else "turns_without_prefix_cache"
                results[key] = turns(server.port, examples, args.pairs, args.max_tokens, toolbox)
                print(f"{name} {key}: {json.dumps(results[key])}", file=sys.stderr)
        finally:
            server.stop()
    if args.turns_only:
        print_turns(results)
        return write(results, args.out)
    base = results["runs"].get("one-at-a-time", {}).get("requests_per_s") or None
    best = results["runs"].get("batched + prefix", {}).get("requests_per_s")
    results["speedup_batched_prefix_vs_one_at_a_time"] = round(best / base, 2) if base and best else None

    print(f"\n{args.clients} clients, {args.seconds:g} s each, max_tokens {args.max_tokens}, draft tokens {args.draft_tokens}, model {args.model}"
          f"{' + ' + args.adapter if args.adapter else ''}\n")
    print("| server | clients | requests/s | p50 s | p95 s | completion tokens/s | prompt tokens cached "
          "| tokens fed / made per step |")
    print("|---|---|---|---|---|---|---|---|")
    for (name, clients, _, _), run in zip(configs, results["runs"].values()):
        print(f"| {name} | {clients} | {run.get('requests_per_s')} | {run.get('p50_s')} | {run.get('p95_s')} | "
              f"{run.get('completion_tokens_per_s')} | {run.get('cached_share')} | "
              f"{run.get('fed_per_step')} / {run.get('tokens_per_step')} |")
    print(f"\nbatched + prefix vs one-at-a-time: {results['speedup_batched_prefix_vs_one_at_a_time']}x requests/s")
    print_turns(results)
    return write(results, args.out)


def print_turns(results: dict) -> None:
    for key, label in (("turns", "prefix cache on"), ("turns_without_prefix_cache", "prefix cache off")):
        t = results.get(key)
        if not t:
            continue
        print(f"second turn vs first ({label}, same tools, {t.get('pairs')} conversations): whole turn p50 "
              f"{t.get('second_turn_p50_s')} s vs {t.get('first_turn_p50_s')} s, ratio {t.get('second_over_first_p50')}; "
              f"prompt alone (max_tokens 1) {t.get('second_prompt_p50_s')} s vs {t.get('first_prompt_p50_s')} s, "
              f"ratio {t.get('second_over_first_prompt_p50')}")


def write(results: dict, out: str | None) -> int:
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
