#!/usr/bin/python3
"""Data-parallel training throughput against one process, as ratios measured in
one run (docs/performance.md, "Data parallelism"):

  one     resnet_cifar --threads T                        1 process x T threads
  ranks   mpirun -np N resnet_cifar --threads T/N         N processes x T/N threads

Both train ResNet-20 on the same slice of Fashion-MNIST with the same global
batch: one float and one quantized (U3) epoch, whose images/s (training steps
only, evaluation excluded: log.jsonl's images_per_s) are compared phase by
phase. Runs alternate (one, ranks; --pairs times) so that a noisy machine hurts
both alike; the ratios use the medians. ratio = ranks / one: 1.0 means the
collectives cost nothing, the issue's target is >= 0.9.

  bench/distributed.py [--processes 2] [--threads 2] [--pairs 3] [--images 6400]
                       [--build-dir build] [--json out.json]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train(cmd, run_dir):
    shutil.rmtree(run_dir, ignore_errors=True)
    out = subprocess.run(cmd + ["--run-dir", run_dir], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    with open(os.path.join(run_dir, "log.jsonl")) as f:
        return {json.loads(l)["phase"]: json.loads(l)["images_per_s"] for l in f if l.strip()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="cores used by either side in all")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--images", type=int, default=6400, help="training images per epoch")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--mpiexec", default="mpirun")
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.threads % a.processes:
        sys.exit("--threads must be a multiple of --processes")
    program = os.path.join(a.build_dir, "examples", "resnet_cifar")
    common = [program, "--train-limit", str(a.images), "--test-limit", "500", "--float-epochs", "1",
              "--epochs", "1", "--batch-size", str(a.batch_size), "--param", "U3"]
    one_cmd = common + ["--threads", str(a.threads)]
    ranks_cmd = [a.mpiexec, "--oversubscribe", "-np", str(a.processes)] + common + \
        ["--threads", str(a.threads // a.processes)]
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")  # Open MPI refuses root otherwise
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    work = tempfile.mkdtemp(prefix="mpq-bench-distributed-")
    runs = {"one": [], "ranks": []}
    try:
        for k in range(a.pairs):
            runs["one"].append(train(one_cmd, os.path.join(work, "one")))
            runs["ranks"].append(train(ranks_cmd, os.path.join(work, "ranks")))
            print(f"pair {k + 1}: one {runs['one'][-1]}, ranks {runs['ranks'][-1]}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"processes": a.processes, "threads": a.threads, "pairs": a.pairs,
              "images": a.images, "batch_size": a.batch_size, "phases": {}}
    print(f"\n{a.processes} processes x {a.threads // a.processes} thread(s) against 1 process x "
          f"{a.threads} threads, batch {a.batch_size}, medians of {a.pairs}:")
    for phase in ("float", "quant"):
        one = statistics.median(r[phase] for r in runs["one"])
        ranks = statistics.median(r[phase] for r in runs["ranks"])
        result["phases"][phase] = {"one_images_per_s": one, "ranks_images_per_s": ranks,
                                   "ratio": ranks / one}
        print(f"  {phase:5s}  one {one:7.1f} img/s  ranks {ranks:7.1f} img/s  ratio {ranks / one:.3f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
