#!/usr/bin/env python3
"""RUN_DIR/trajectory.jsonl of a short resnet_cifar run (train/trainer.h):

  tests/check_trajectory.py RESNET_CIFAR WORK_DIR

7 records asked for 2 quantized epochs of 10 steps each: a record before the
first update, every ceil(20 / 7) = 3 updates and after the last; every record
holds each of the 40 quantizers' b, d, q_max, q_min; the last one's bitwidths
are the final network's (summary.json); the float phase has none. With
--trajectory-points 0 there is no record.
"""
import json
import math
import os
import shutil
import subprocess
import sys

program, work = sys.argv[1], sys.argv[2]
FASHION = "/usr/share/datasets/fashion-mnist"
common = [program, "--train-limit", "640", "--test-limit", "100", "--float-epochs", "1", "--epochs", "2",
          "--batch-size", "64", "--fashion-dir", FASHION, "--threads", "1"]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
run_dir = os.path.join(work, "run")
r = subprocess.run(common + ["--trajectory-points", "7", "--run-dir", run_dir], capture_output=True, text=True)
assert r.returncode == 0, r.stdout + r.stderr
lines = [json.loads(l) for l in open(os.path.join(run_dir, "trajectory.jsonl"))]
steps = [(l["phase"], l["epoch"], l["step"]) for l in lines]
interval = math.ceil(20 / 7)
expected = [("quant", 0, 0)] + [("quant", (s - 1) // 10 + 1, s) for s in range(interval, 21, interval)]
if expected[-1][2] != 20:
    expected.append(("quant", 2, 20))
assert steps == expected, (steps, expected)
summary = json.load(open(os.path.join(run_dir, "summary.json")))
for l in lines:
    q = l["quantizers"]
    assert set(q) == set(summary["bitwidths"]), sorted(set(q) ^ set(summary["bitwidths"]))
    for name, v in q.items():
        assert set(v) == {"b", "d", "qmax", "qmin"}, (name, v)
        assert v["d"] > 0 and v["qmax"] > 0 and 1 <= v["b"] <= 32, (name, v)
final = {k: v["b"] for k, v in lines[-1]["quantizers"].items()}
assert final == summary["bitwidths"], (final, summary["bitwidths"])
moved = sum(1 for k in final if final[k] != lines[0]["quantizers"][k]["b"])
# Nothing without records.
none_dir = os.path.join(work, "none")
r = subprocess.run(common + ["--trajectory-points", "0", "--run-dir", none_dir], capture_output=True, text=True)
assert r.returncode == 0, r.stdout + r.stderr
assert os.path.getsize(os.path.join(none_dir, "trajectory.jsonl")) == 0
print("trajectory: %d records at steps %s; %d of %d bitwidths moved; OK" % (
    len(lines), [s for _, _, s in steps], moved, len(final)))
