#!/usr/bin/python3
"""Float weights between torchvision (or the PyTorch ResNet-20 of bench/) and mpq.

  torchvision_weights.py to-mpq MODEL IN.pth OUT.safetensors
      a PyTorch state_dict (torch.save) -> an mpq float checkpoint that
      `imagenet --float-init` (resnet18, mobilenet_v2) or `resnet_cifar
      --float-init` (resnet20) accepts
  torchvision_weights.py from-mpq MODEL IN.safetensors OUT.pth
      an mpq float checkpoint (a run's float.safetensors) -> a state_dict that
      torchvision's model (or bench/peer_torch_int8.py's ResNet20) loads
  torchvision_weights.py selftest --mpq build/examples/mpq --out DIR
      for each model: random weights in PyTorch -> mpq -> the same logits from
      `mpq forward` (max abs difference <= 1e-4) -> back to PyTorch bit for bit

MODEL: resnet18, mobilenet_v2 (torchvision's definitions; mpq uses their
names) or resnet20 (bench/peer_torch_int8.py's definition: its names map to
mpq's). Batch-norm buffers num_batches_tracked have no mpq counterpart (they
come back as 0). Uses Debian's python3-torch and python3-torchvision; mpq
itself never depends on them.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import zlib

try:
    import torch
except ImportError:  # the test runner reads this line as "skipped"
    print("[mpq-skip] PyTorch is not installed (scripts/setup.sh --with-torch)")
    sys.exit(0)

HERE = os.path.dirname(os.path.abspath(__file__))
CRC_KEY = "mpq.crc32"


def resnet20_to_mpq(name):
    # bench/peer_torch_int8.py: conv1, bn1, layers.<i>.*, fc; mpq: layer<s>.<b>.*
    if name.startswith("layers."):
        _, i, rest = name.split(".", 2)
        i = int(i)
        return f"layer{i // 3 + 1}.{i % 3}.{rest}"
    return name


def resnet20_from_mpq(name):
    if name.startswith("layer"):
        stage, block, rest = name.split(".", 2)
        return f"layers.{(int(stage[5:]) - 1) * 3 + int(block)}.{rest}"
    return name


def mobilenet_to_mpq(name, tensor):
    # torchvision's linear projection is flat (conv.k = the 1x1 conv, conv.k+1
    # = its batch norm); mpq's is a (conv, bn) pair: conv.k.0 and conv.k.1.
    # The other layers (Conv2dNormActivation: conv.k.0, conv.k.1) match.
    parts = name.split(".")
    if len(parts) == 5 and parts[0] == "features" and parts[2] == "conv":
        k = int(parts[3])
        if parts[4] == "weight" and tensor.dim() == 4:
            return f"features.{parts[1]}.conv.{k}.0.weight"
        return f"features.{parts[1]}.conv.{k - 1}.1.{parts[4]}"
    return name


def mobilenet_from_mpq(name, last):
    # last[block]: the index of the block's projection pair in mpq's names.
    parts = name.split(".")
    if len(parts) == 6 and parts[0] == "features" and parts[2] == "conv" and \
            int(parts[3]) == last.get(parts[1]):
        k = int(parts[3])
        return f"features.{parts[1]}.conv.{k if parts[4] == '0' else k + 1}.{parts[5]}"
    return name


def rename(model, name, to_mpq, tensor=None, last=None):
    if model == "resnet20":
        return resnet20_to_mpq(name) if to_mpq else resnet20_from_mpq(name)
    if model == "mobilenet_v2":
        return mobilenet_to_mpq(name, tensor) if to_mpq else mobilenet_from_mpq(name, last)
    return name  # torchvision's names are mpq's


def write_safetensors(path, tensors, metadata):
    """mpq's checkpoint format (train/checkpoint.h): safetensors with the
    CRC-32 of header (CRC slot zeroed) + data under "mpq.crc32"."""
    header, data, offset = {}, b"", 0
    for name, t in tensors:
        t = t.detach().contiguous()
        assert t.dtype == torch.float32, f"{name}: {t.dtype}"
        raw = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    meta = dict(metadata)
    meta[CRC_KEY] = "00000000"
    header = {"__metadata__": meta, **header}
    text = json.dumps(header)
    text += " " * ((8 - len(text) % 8) % 8)
    crc = "%08x" % (zlib.crc32(text.encode() + data) & 0xFFFFFFFF)
    text = text.replace(f'"{CRC_KEY}": "00000000"', f'"{CRC_KEY}": "{crc}"', 1)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text.encode() + data)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    out = []
    for name, h in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        if h["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} is {h['dtype']}, expected F32 (a float checkpoint)")
        b, e = h["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32).reshape(h["shape"])
        out.append((name, t))
    return out, meta


def to_mpq(model, state, out):
    tensors = [("model." + rename(model, k, True, v), v.float()) for k, v in state.items()
               if not k.endswith("num_batches_tracked")]
    write_safetensors(out, tensors, {"phase": "float", "epoch": "0", "model": model})


def from_mpq(model, path):
    tensors, meta = read_safetensors(path)
    if meta.get("phase", "float") != "float":
        sys.exit(f"{path}: a checkpoint of the '{meta['phase']}' phase, not a float network")
    # Each MobileNetV2 block's last (conv, bn) pair is its linear projection.
    last = {}
    for name, _ in tensors:
        p = name.split(".")
        if len(p) == 7 and p[1] == "features" and p[3] == "conv":
            last[p[2]] = max(last.get(p[2], 0), int(p[4]))
    state = {}
    for name, t in tensors:
        if not name.startswith("model."):
            continue
        k = rename(model, name[len("model."):], False, last=last)
        state[k] = t.clone()
        if k.endswith("running_var"):
            state[k[: -len("running_var")] + "num_batches_tracked"] = torch.tensor(0)
    return state


def build(model, classes):
    if model == "resnet20":
        sys.path.insert(0, os.path.join(HERE, "..", "bench"))
        from peer_torch_int8 import ResNet20
        return ResNet20(1, classes), (1, 32, 32)
    try:
        import torchvision
    except ImportError:
        print("[mpq-skip] torchvision is not installed (scripts/setup.sh --with-torch)")
        sys.exit(0)
    net = getattr(torchvision.models, model)(weights=None, num_classes=classes)
    return net, (3, 64, 64)


def selftest(mpq, out_dir, resnet_cifar=""):
    os.makedirs(out_dir, exist_ok=True)
    import numpy as np
    torch.manual_seed(0)
    for model in ("resnet18", "mobilenet_v2", "resnet20"):
        net, (c, h, w) = build(model, 10 if model == "resnet20" else 7)
        # Batch-norm statistics that are not the identity.
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
        net.eval()
        x = torch.rand(2, c, h, w) * 2 - 1
        with torch.no_grad():
            want = net(x).numpy()
        ck = os.path.join(out_dir, f"{model}.safetensors")
        to_mpq(model, net.state_dict(), ck)
        np.save(os.path.join(out_dir, f"{model}-x.npy"), x.numpy())
        y = os.path.join(out_dir, f"{model}-y.npy")
        subprocess.run([mpq, "forward", "--model", model, "--checkpoint", ck, "--input",
                        os.path.join(out_dir, f"{model}-x.npy"), "--out", y], check=True,
                       capture_output=True)
        got = np.load(y)
        diff = float(np.abs(got - want).max())
        print(f"{model}: mpq forward against PyTorch, max |logit difference| {diff:.2e}")
        if not diff <= 1e-4:
            sys.exit(f"{model}: mpq's forward differs from PyTorch's by {diff}")
        back = from_mpq(model, ck)
        orig = net.state_dict()
        if set(back) != set(orig):
            sys.exit(f"{model}: the round trip changed the names: {sorted(set(back) ^ set(orig))[:5]}")
        for k, v in orig.items():
            if not k.endswith("num_batches_tracked") and not torch.equal(back[k], v):
                sys.exit(f"{model}: {k} changed in the round trip")
        print(f"{model}: PyTorch -> mpq -> PyTorch bit for bit")
        if model == "resnet20" and resnet_cifar:
            # The converted network starts an mpq run (--float-init).
            run_dir = os.path.join(out_dir, "float_init_run")
            subprocess.run(["rm", "-rf", run_dir], check=True)
            out = subprocess.run([resnet_cifar, "--float-init", ck, "--epochs", "1", "--train-limit",
                                  "64", "--test-limit", "64", "--batch-size", "32", "--run-dir",
                                  run_dir], capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"resnet_cifar --float-init {ck} failed:\n{out.stderr}")
            print("resnet20: resnet_cifar --float-init starts from the converted network")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["to-mpq", "from-mpq", "selftest"])
    ap.add_argument("args", nargs="*")
    ap.add_argument("--mpq", default=os.path.join(HERE, "..", "build", "examples", "mpq"))
    ap.add_argument("--out", default="torchvision_selftest")
    ap.add_argument("--resnet-cifar", default="", help="selftest: also start a run from the converted ResNet-20")
    a = ap.parse_args()
    if a.what == "selftest":
        selftest(a.mpq, a.out, a.resnet_cifar)
        return
    if len(a.args) != 3 or a.args[0] not in ("resnet18", "mobilenet_v2", "resnet20"):
        ap.error("give MODEL (resnet18, mobilenet_v2 or resnet20), IN and OUT")
    model, src, dst = a.args
    if a.what == "to-mpq":
        state = torch.load(src, map_location="cpu")
        if not isinstance(state, dict):
            sys.exit(f"{src}: not a state_dict (torch.save(model.state_dict(), ...))")
        to_mpq(model, state, dst)
    else:
        torch.save(from_mpq(model, src), dst)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
