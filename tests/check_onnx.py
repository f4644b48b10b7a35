#!/usr/bin/python3
"""The ONNX export against ONNX Runtime (issue 17, docs/integer.md section 9).

Exports RUN_DIR at opsets 21 and 13 (`mpq export --format onnx`), checks the
opset-13 file with Debian's onnx checker, runs both in ONNX Runtime for Node
(scripts/onnx_eval.js, preprocessing from the files' metadata only) on the
first LIMIT Fashion-MNIST test images, and compares with mpq's own
fake-quant evaluation of the run (`mpq infer --compare --reference-logits`):
top-1 agreement on all but at most one image in 200 (>= 99.5%), the mean
absolute logit difference below 0.02, and the opset-21 file smaller than
the opset-13 one by at least a quarter of the INT8 weight bytes (weights of
<= 4 bits take half a byte there). The run's float network (--float) too:
Debian's checker accepts it, and ONNX Runtime's accuracy is the float
phase's last one.

  check_onnx.py MPQ RUN_DIR OUT_DIR NODE_MODULES [--limit N]

Prints "[mpq-skip] ..." and exits 0 when ONNX Runtime is not installed
(scripts/setup.sh --with-onnx installs it; scripts/test.sh does).
"""
import array
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return out.stdout


def floats(path):
    a = array.array("f")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    return a


def main():
    mpq, run_dir, out_dir, node_modules = sys.argv[1:5]
    limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else 200
    if not os.path.isdir(os.path.join(node_modules, "onnxruntime-node")):
        print(f"[mpq-skip] onnxruntime-node is not installed in {node_modules} "
              "(scripts/setup.sh --with-onnx)")
        return
    os.makedirs(out_dir, exist_ok=True)
    files = {}
    for opset in (21, 13):
        files[opset] = os.path.join(out_dir, f"model-{opset}.onnx")
        print(run([mpq, "export", run_dir, "--format", "onnx", "--opset", str(opset),
                   "--out", files[opset]]).strip())
    import onnx  # Debian's python3-onnx 1.12: knows opset 13, not INT4
    onnx.checker.check_model(onnx.load(files[13]))
    print("onnx checker: opset 13 file ok")
    sizes = {k: os.path.getsize(v) for k, v in files.items()}
    m13 = onnx.load(files[13])
    int8_bytes = sum(len(t.raw_data) for t in m13.graph.initializer if t.data_type == 3)
    print(f"sizes: opset 21 {sizes[21]} B, opset 13 {sizes[13]} B, INT8 weights {int8_bytes} B")
    if sizes[13] - sizes[21] < int8_bytes // 4:
        sys.exit("the opset-21 file is not smaller by what INT4 saves")

    ref = os.path.join(out_dir, "reference.f32")
    run([mpq, "infer", files_mpqm(mpq, run_dir, out_dir), "--compare", run_dir, "--limit",
         str(limit), "--reference-logits", ref])
    r = floats(ref)
    classes = len(r) // limit
    env = dict(os.environ, NODE_PATH=node_modules)
    for opset, path in files.items():
        logits = os.path.join(out_dir, f"ort-{opset}.f32")
        res = json.loads(run(["node", os.path.join(HERE, "..", "scripts", "onnx_eval.js"), path,
                              "--limit", str(limit), "--logits", logits], env).strip().splitlines()[-1])
        o = floats(logits)
        agree = sum(
            max(range(classes), key=lambda k: r[i * classes + k]) ==
            max(range(classes), key=lambda k: o[i * classes + k]) for i in range(limit))
        mean_diff = sum(abs(a - b) for a, b in zip(r, o)) / len(r)
        print(f"opset {opset}: ONNX Runtime accuracy {100 * res['accuracy']:.2f}%, top-1 agreement "
              f"{agree}/{limit}, mean |logit difference| {mean_diff:.5f}")
        if agree < limit - max(1, limit // 200) or mean_diff > 0.02:
            sys.exit(f"opset {opset}: ONNX Runtime disagrees with mpq")
    check_float(mpq, run_dir, out_dir, node_modules, limit)


def check_float(mpq, run_dir, out_dir, node_modules, limit):
    # The float network (--float): ONNX Runtime's accuracy on the same images
    # is the float phase's last test accuracy, within one image.
    path = os.path.join(out_dir, "float-13.onnx")
    print(run([mpq, "export", run_dir, "--format", "onnx", "--float", "--opset", "13",
               "--out", path]).strip())
    import onnx
    onnx.checker.check_model(onnx.load(path))
    env = dict(os.environ, NODE_PATH=node_modules)
    res = json.loads(run(["node", os.path.join(HERE, "..", "scripts", "onnx_eval.js"), path,
                          "--limit", str(limit)], env).strip().splitlines()[-1])
    with open(os.path.join(run_dir, "log.jsonl")) as f:
        float_epochs = [json.loads(line) for line in f if '"float"' in line]
    want = float_epochs[-1]["test_accuracy"]
    print(f"float network: ONNX Runtime accuracy {100 * res['accuracy']:.2f}%, "
          f"the run's float phase {100 * want:.2f}%")
    if abs(res["accuracy"] - want) > 1.5 / limit:
        sys.exit("the float export's accuracy is not the float phase's")


def files_mpqm(mpq, run_dir, out_dir):
    # mpq infer --compare runs an integer model file; export one beside.
    path = os.path.join(out_dir, "model.mpqm")
    run([mpq, "export", run_dir, "--out", path])
    return path


if __name__ == "__main__":
    main()
