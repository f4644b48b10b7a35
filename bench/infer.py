#!/usr/bin/python3
"""Integer inference against its peers, as ratios measured in one run
(docs/performance.md, "Integer inference"):

  mpq     mpq infer MODEL --bench          the integer engine on an exported run
  torch   bench/peer_torch_int8.py         PyTorch's int8 path (FX PTQ, onednn)
  eval    mpq bench-step --eval --quant U3 mpq's own fake-quant inference, same model
  roof    the engine's int8 convolutions alone (printed by mpq infer --bench)

Runs alternate (mpq, torch, eval; --pairs times) so that a noisy machine
hurts all sides alike; the ratios use the medians. Batch-1 latency of mpq
and torch follows. Needs PyTorch (Debian's python3-torch) for the peer only.

  bench/infer.py --model runs/main/resnet20.mpqm [--pairs 5] [--json out.json]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return out.stdout


def rate(text):
    m = re.search(r"images_per_s=([0-9.]+)", text)
    if not m:
        sys.exit(f"no images_per_s= line in:\n{text}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a model file written by mpq export")
    ap.add_argument("--build-dir", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--python", default="/usr/bin/python3", help="the Python that has PyTorch")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--channels", type=int, default=1, help="input channels of the model")
    ap.add_argument("--seconds", type=float, default=4.0, help="timing per run")
    ap.add_argument("--json", default="", help="also write the results here")
    a = ap.parse_args()
    mpq = os.path.join(a.build_dir, "examples", "mpq")
    peer = os.path.join(HERE, "peer_torch_int8.py")
    t = str(a.threads)

    def mpq_infer(batch):
        out = run([mpq, "infer", a.model, "--bench", "--batch", str(batch), "--threads", t,
                   "--seconds", str(a.seconds)])
        roof = re.search(r"the roofline\): ([0-9.]+) images/s", out)
        return rate(out), float(roof.group(1)) if roof else None

    def torch_int8(batch):
        return rate(run([a.python, peer, "--batch", str(batch), "--threads", t, "--channels",
                         str(a.channels), "--seconds", str(a.seconds)]))

    def mpq_eval():
        steps = max(5, int(a.seconds * 20))
        return rate(run([mpq, "bench-step", "--model", "resnet20", "--eval", "--quant", "U3",
                         "--in-channels", str(a.channels), "--batch", str(a.batch), "--threads", t,
                         "--steps", str(steps)]))

    res = {"mpq": [], "roofline": [], "torch_int8": [], "mpq_eval": []}
    for i in range(a.pairs):
        r, roof = mpq_infer(a.batch)
        res["mpq"].append(r)
        res["roofline"].append(roof)
        res["torch_int8"].append(torch_int8(a.batch))
        res["mpq_eval"].append(mpq_eval())
        print(f"pair {i + 1}: mpq {r:.0f}, roofline {roof:.0f}, torch int8 {res['torch_int8'][-1]:.0f}, "
              f"mpq fake-quant eval {res['mpq_eval'][-1]:.0f} images/s", flush=True)
    lat = {"mpq": [], "torch_int8": []}
    for _ in range(max(1, a.pairs // 2)):
        lat["mpq"].append(1e3 / mpq_infer(1)[0])
        lat["torch_int8"].append(1e3 / torch_int8(1))
    med = {k: statistics.median(v) for k, v in res.items()}
    summary = {
        "batch": a.batch, "threads": a.threads, "pairs": a.pairs,
        "images_per_s": med,
        "vs_torch_int8": med["mpq"] / med["torch_int8"],
        "vs_mpq_eval": med["mpq"] / med["mpq_eval"],
        "of_roofline": med["mpq"] / med["roofline"],
        "batch1_latency_ms": {k: statistics.median(v) for k, v in lat.items()},
        "runs": res,
    }
    print(f"\nmedians, batch {a.batch}, {a.threads} threads (images/s): mpq {med['mpq']:.0f}, "
          f"torch int8 {med['torch_int8']:.0f}, mpq fake-quant eval {med['mpq_eval']:.0f}, "
          f"int8 roofline {med['roofline']:.0f}")
    print(f"mpq / torch int8 = {summary['vs_torch_int8']:.2f}x, mpq / fake-quant eval = "
          f"{summary['vs_mpq_eval']:.2f}x, mpq / roofline = {100 * summary['of_roofline']:.1f}%")
    b1 = summary["batch1_latency_ms"]
    print(f"batch-1 latency: mpq {b1['mpq']:.3f} ms, torch int8 {b1['torch_int8']:.3f} ms")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
