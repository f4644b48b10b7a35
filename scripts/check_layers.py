#!/usr/bin/env python3
"""Checks that mpq's layers point only downward (docs/architecture.md).

  scripts/check_layers.py --build-dir build

Two checks, both must pass (exit 0; 1 names every violation):

1. Sources: every `#include "<folder>/..."` in a layer's files (headers, CPU
   and CUDA sources alike, so a CUDA file is checked on a machine that does not
   build it) names the layer itself or a layer below it.
2. The build: for each layer library, a probe that includes one header of
   every layer is compiled with that library's own compile command (from the
   build's compile_commands.json). Headers of the layer and the layers below
   must compile; a higher layer's header must fail with "No such file", which
   shows that the build itself refuses an upward include.
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each layer and the layers it may use (itself included), lowest first.
BELOW = {
    "core": {"core"},
    "ops": {"core", "ops"},
    "quant": {"core", "ops", "quant"},
    "models": {"core", "ops", "quant", "models"},
    "data": {"core", "data"},
    "train": {"core", "ops", "quant", "models", "train"},
    "deploy": {"core", "ops", "quant", "models", "data", "train", "deploy"},
}
# One header per layer for the build probe.
PROBE = {
    "core": "core/tensor.h",
    "ops": "ops/elementwise.h",
    "quant": "quant/quantizer.h",
    "models": "models/module.h",
    "data": "data/dataset.h",
    "train": "train/optimizer.h",
    "deploy": "deploy/pack.h",
}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([a-z_]+)/')


def check_sources():
    bad = []
    for layer, allowed in BELOW.items():
        for dirpath, _, files in os.walk(os.path.join(ROOT, layer)):
            for name in sorted(files):
                if not name.endswith((".h", ".cpp", ".cu", ".cuh")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m and m.group(1) in BELOW and m.group(1) not in allowed:
                            bad.append(f"{os.path.relpath(path, ROOT)}:{n}: layer '{layer}' includes "
                                       f"'{m.group(1)}/', a layer above it")
    return bad


def layer_commands(build_dir):
    """layer -> (compile command of one of its C++ sources as a list, its directory)."""
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        entries = json.load(f)
    out = {}
    for e in entries:
        src = os.path.relpath(os.path.realpath(e["file"]), ROOT)
        layer = src.split(os.sep)[0]
        if layer in BELOW and layer not in out and src.endswith(".cpp") and "/cuda/" not in src:
            args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
            out[layer] = (args, e["directory"])
    return out


def probe(args, directory, header, tmp):
    """Compiles `#include "header"` with the flags of args; returns (ok, stderr)."""
    src = os.path.join(tmp, "probe_" + header.replace("/", "_") + ".cpp")
    with open(src, "w") as f:
        f.write(f'#include "{header}"\n')
    cmd, skip = [], False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if a in ("-o", "-c", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-MD", "-MMD") or (i > 0 and a.endswith((".cpp", ".cu"))):
            continue
        cmd.append(a)
    cmd += ["-fsyntax-only", src]
    r = subprocess.run(cmd, cwd=directory, capture_output=True, text=True)
    return r.returncode == 0, r.stderr


def check_build(build_dir):
    cmds = layer_commands(build_dir)
    missing = [l for l in BELOW if l not in cmds]
    if missing:
        return [f"no compile command for layer(s) {', '.join(missing)} in "
                f"{build_dir}/compile_commands.json (configure and build first)"]
    bad, jobs = [], []
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        for layer, (args, directory) in cmds.items():
            for other, header in PROBE.items():
                jobs.append((layer, other, header,
                             pool.submit(probe, args, directory, header, tmp + "")))
        for layer, other, header, fut in jobs:
            ok, err = fut.result()
            if other in BELOW[layer] and not ok:
                bad.append(f"mpq_{layer} cannot compile '{header}' of the layer below it:\n{err}")
            elif other not in BELOW[layer] and ok:
                bad.append(f"mpq_{layer} compiles '{header}' of a layer above it: the build "
                           "does not enforce the layering")
            elif other not in BELOW[layer] and "No such file" not in err:
                bad.append(f"mpq_{layer} refuses '{header}', but not for want of the file:\n{err}")
    return bad, len(jobs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", required=True)
    a = ap.parse_args()
    bad = check_sources()
    build = check_build(os.path.abspath(a.build_dir))
    if isinstance(build, list):
        bad += build
        probes = 0
    else:
        bad += build[0]
        probes = build[1]
    if bad:
        print("\n".join(bad))
        print(f"check_layers: {len(bad)} violation(s)")
        return 1
    print(f"check_layers: every include points down; {probes} probes: the build refuses each "
          "upward include")
    return 0


if __name__ == "__main__":
    sys.exit(main())
