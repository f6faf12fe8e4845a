"""Export cost: wall time and size of `calltune export` per format and type, one process per export.

    python benchmarks/export.py --adapter runs/hermes/synth500 --out-dir /tmp/exports \\
        [--model embedded] [--formats hf:f32,gguf:f32,gguf:f16,gguf:q8_0]

Each export runs as its own `calltune export` process, as users run it: the wall time includes
Python start-up, loading base and adapter (the embedded model's cached safetensors copy) and the
merge, then writing; `merge_s` is the part spent loading and merging. The files land in --out-dir
(`hf-f32/`, `f16.gguf`, ...), ready for `benchmarks/llamacpp_parity.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--formats", default="hf:f32,gguf:f32,gguf:f16,gguf:q8_0")
    args = parser.parse_args(argv)

    os.makedirs(args.out_dir, exist_ok=True)
    rows = []
    for item in args.formats.split(","):
        fmt, kind = item.split(":")
        out = os.path.join(args.out_dir, f"hf-{kind}" if fmt == "hf" else f"{kind}.gguf")
        cmd = [sys.executable, "-m", "calltune.cli", "export", "--format", fmt, "--type", kind, "--out", out,
               "--force"]
        cmd += ["--adapter", args.adapter] if args.adapter else []
        cmd += ["--model", args.model] if args.model else []
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        row = {"format": fmt, "type": kind, "out": out, "wall_s": round(wall, 2), "in_process_s": result["seconds"],
               "merge_s": result["merge_s"], "mb": round(result["bytes"] / 2**20, 1)}
        rows.append(row)
        print(f"{fmt:>4} {kind:>5}: {row['mb']:8.1f} MB  {row['wall_s']:7.2f} s wall ({row['in_process_s']} s after "
              f"start-up, {row['merge_s']} s of it loading + merging)  {out}", flush=True)
    with open(os.path.join(args.out_dir, "export_bench.json"), "w", encoding="utf-8") as handle:
        json.dump({"adapter": args.adapter, "model": args.model, "rows": rows}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
