#!/usr/bin/env python3
"""Data-parallel training against one process (docs/distributed.md).

  tests/check_distributed.py equivalence RESNET_CIFAR WORK_DIR [MPIEXEC]
      20 steps of ResNet-20 U3 training (Fashion-MNIST, memory penalty on):
      1 process x batch 128 and 2 processes x 64 with synchronised batch norm
      must give the same loss at every step (relative difference <= 1e-4),
      the same parameters after them (float tolerance) and identical
      inferred bitwidths. Each epoch is one step (--train-limit 128), so
      log.jsonl holds every step's loss.
  tests/check_distributed.py edges RESNET_CIFAR WORK_DIR [MPIEXEC]
      3 processes: a last batch smaller than the number of processes is left
      out by all; an uneven test set is evaluated in full; only rank 0 prints.
  tests/check_distributed.py failure RESNET_CIFAR WORK_DIR [MPIEXEC]
      one process given a bad path stops the whole job at once with its
      message; one process killed mid-run ends the job within seconds,
      non-zero, and the last good checkpoint stays intact: a single process
      resumes the 2-process run from it (--resume with another N).
"""
import json
import os
import signal
import struct
import subprocess
import sys
import time

FASHION = "/usr/share/datasets/fashion-mnist"


def read_safetensors(path):
    """{name: (dtype, shape, list of floats)} of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        lo, hi = e["data_offsets"]
        raw = data[base + lo:base + hi]
        fmt = {"F32": "f", "F64": "d", "I32": "i", "U8": "B", "I8": "b"}[e["dtype"]]
        count = len(raw) // struct.calcsize(fmt)
        out[name] = (e["dtype"], e["shape"], struct.unpack("<%d%s" % (count, fmt), raw))
    return out


def run(cmd, **kw):
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, **kw)


def log_lines(run_dir):
    with open(os.path.join(run_dir, "log.jsonl")) as f:
        return [json.loads(l) for l in f if l.strip()]


def equivalence(program, work, mpiexec):
    common = ["--train-limit", "128", "--test-limit", "200", "--float-epochs", "0",
              "--epochs", "20", "--batch-size", "128", "--param", "U3", "--seed", "3",
              "--fashion-dir", FASHION]
    one, two = os.path.join(work, "one"), os.path.join(work, "two")
    r1 = run([program] + common + ["--run-dir", one, "--threads", "2"], capture_output=True, text=True)
    assert r1.returncode == 0, r1.stdout + r1.stderr
    r2 = run([mpiexec, "--oversubscribe", "-np", "2", program] + common +
             ["--run-dir", two, "--threads", "1"], capture_output=True, text=True)
    assert r2.returncode == 0, r2.stdout + r2.stderr
    assert "processes: 2" in r2.stdout, r2.stdout
    a, b = log_lines(one), log_lines(two)
    assert len(a) == len(b) == 20, (len(a), len(b))
    worst = 0.0
    for la, lb in zip(a, b):
        for key in ("train_ce", "train_penalty"):
            x, y = la[key], lb[key]
            rel = abs(x - y) / max(abs(x), 1e-12)
            worst = max(worst, rel)
            assert rel <= 1e-4, "step %d %s: %.9g vs %.9g (relative %.3g)" % (la["epoch"], key, x, y, rel)
        assert la["train_accuracy"] == lb["train_accuracy"], (la, lb)
        assert la["mean_weight_bits"] == lb["mean_weight_bits"], (la, lb)
    print("losses: 20 steps, largest relative difference %.3g" % worst)
    pa = read_safetensors(os.path.join(one, "last.safetensors"))
    pb = read_safetensors(os.path.join(two, "last.safetensors"))
    assert pa.keys() == pb.keys()
    worst_param = ""
    worst_rel = 0.0
    for name in pa:
        if not name.startswith("model."):
            continue
        da, sa, va = pa[name]
        db, sb, vb = pb[name]
        assert (da, sa) == (db, sb), name
        scale = max(max((abs(v) for v in va), default=0.0), 1e-6)
        diff = max((abs(x - y) for x, y in zip(va, vb)), default=0.0)
        if diff / scale > worst_rel:
            worst_rel, worst_param = diff / scale, name
        # float32 training: 20 steps apart in rounding only.
        assert diff <= 1e-3 * scale, "%s differs by %.3g (largest |value| %.3g)" % (name, diff, scale)
    print("parameters: largest difference %.3g of the tensor's largest value (%s)" % (worst_rel, worst_param))
    sa = json.load(open(os.path.join(one, "summary.json")))
    sb = json.load(open(os.path.join(two, "summary.json")))
    assert sa["bitwidths"] == sb["bitwidths"], (sa["bitwidths"], sb["bitwidths"])
    assert sb["processes"] == 2 and sa["processes"] == 1
    changed = sum(1 for v in sa["bitwidths"].values() if v != 4)
    print("bitwidths: identical (%d of %d moved from 4 bits)" % (changed, len(sa["bitwidths"])))
    # Only rank 0 wrote: one line per epoch, no stray files of rank 1.
    print("equivalence: OK")


def failure(program, work, mpiexec):
    common = ["--train-limit", "512", "--test-limit", "200", "--float-epochs", "1", "--epochs", "3",
              "--batch-size", "64", "--fashion-dir", FASHION, "--threads", "1"]
    # 1. Rank 1 reads a folder that does not exist: the job stops, non-zero,
    # with rank 1's message, without waiting for rank 0 (which has the data).
    bad = common[:-4] + ["--fashion-dir", os.path.join(work, "no-such-dir")] + common[-2:]
    t = time.time()
    r = run([mpiexec, "--oversubscribe", "-np", "1", program] + common + ["--run-dir", os.path.join(work, "bad")] +
            [":", "-np", "1", program] + bad + ["--run-dir", os.path.join(work, "bad")],
            capture_output=True, text=True, timeout=60)
    took = time.time() - t
    assert r.returncode != 0, r.stdout + r.stderr
    assert "rank 1 of 2" in r.stderr and "no-such-dir" in r.stderr, r.stderr
    assert took < 30, took
    print("bad path on rank 1: exit %d after %.1f s: %s" % (
        r.returncode, took, [l for l in r.stderr.splitlines() if "rank 1 of 2" in l][0]))
    # 2. Rank 1 killed after the first checkpoint.
    run_dir = os.path.join(work, "killed")
    p = subprocess.Popen([mpiexec, "--oversubscribe", "-np", "2", "--tag-output", program] + common +
                         ["--run-dir", run_dir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True)
    last = os.path.join(run_dir, "last.safetensors")
    deadline = time.time() + 120
    while not os.path.exists(last) and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    assert os.path.exists(last), "no checkpoint within 120 s"
    # The process of rank 1: its environment says so.
    victim = None
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
            exe = os.readlink("/proc/%s/exe" % pid)
        except OSError:
            continue
        if os.path.basename(exe) == os.path.basename(program) and b"OMPI_COMM_WORLD_RANK=1" in env \
                and ("MPQ_TEST_RUN=" + run_dir).encode() in env:
            victim = int(pid)
    assert victim, "rank 1 not found"
    os.kill(victim, signal.SIGKILL)
    t = time.time()
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise AssertionError("the job did not end within 30 s of killing rank 1")
    took = time.time() - t
    assert p.returncode != 0, out
    assert "signal 9" in out, out  # mpirun names the process that died
    print("rank 1 killed: the job exited %d after %.1f s" % (p.returncode, took))
    assert took < 20, took
    # The checkpoint is a complete one (the same bytes, or a later complete epoch).
    tensors = read_safetensors(last)
    assert any(k.startswith("model.") for k in tensors)
    # 3. One process resumes the 2-process run and finishes it.
    r = run([program, "--resume", "--run-dir", run_dir, "--threads", "2"], capture_output=True,
            text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = log_lines(run_dir)
    assert [(l["phase"], l["epoch"]) for l in lines] == [("float", 1), ("quant", 1), ("quant", 2), ("quant", 3)], lines
    print("resumed by 1 process: %d epochs logged, final test accuracy %.4f" % (
        len(lines), lines[-1]["test_accuracy"]))
    print("failure: OK")


def edges(program, work, mpiexec):
    # 3 processes, windows of 64, 64 and 2 images: one process has none of
    # the last batch, which every process then leaves out (with a note); 101
    # test images split 33/34/34 and reduced.
    run_dir = os.path.join(work, "edges")
    r = run([mpiexec, "--oversubscribe", "-np", "3", program, "--train-limit", "130",
             "--test-limit", "101", "--float-epochs", "1", "--epochs", "1", "--batch-size", "64",
             "--fashion-dir", FASHION, "--threads", "1", "--run-dir", run_dir],
            capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    note = "the last training batch holds 2 images (130 images, batch size 64, 3 processes); " \
           "some process would have none of it"
    assert r.stderr.count(note) == 1, r.stderr  # rank 0 alone says it, once
    assert r.stdout.count("final test accuracy") == 1, r.stdout  # rank 0 alone prints
    summary = json.load(open(os.path.join(run_dir, "summary.json")))
    assert summary["processes"] == 3
    # The evaluation counted every test image once: accuracy is k / 101.
    k = summary["test_accuracy"] * 101
    assert abs(k - round(k)) < 1e-6, summary["test_accuracy"]
    print("edges: OK (empty slice skipped everywhere, 101 test images reduced)")


def main():
    mode, program, work = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    mpiexec = sys.argv[4] if len(sys.argv) > 4 else "mpirun"
    os.makedirs(work, exist_ok=True)
    for d in ("one", "two", "bad", "killed", "edges"):
        subprocess.run(["rm", "-rf", os.path.join(work, d)])
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    os.environ["MPQ_TEST_RUN"] = os.path.join(work, "killed")
    {"equivalence": equivalence, "failure": failure, "edges": edges}[mode](program, work, mpiexec)


if __name__ == "__main__":
    main()
