#!/usr/bin/python3
"""Writes the golden files of tests/golden/ with PyTorch (Debian's python3-torch).

Run once, commit the output; the tests read the .npy files and never need
PyTorch:   /usr/bin/python3 scripts/make_golden.py

Each case is a folder with its inputs, the upstream gradient `upstream.npy`,
the forward result `out.npy` and one `grad_<input>.npy` per differentiable
input, all float64 and computed by PyTorch in float64.
"""
import os
import shutil
import zlib
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden")


def save_case(name, inputs, fn, extra=None):
    """inputs: dict name -> np array (float inputs are differentiable)."""
    folder = os.path.join(ROOT, name)
    os.makedirs(folder, exist_ok=True)
    tensors = {}
    for key, value in inputs.items():
        t = torch.from_numpy(value)
        if t.is_floating_point():
            t.requires_grad_(True)
        tensors[key] = t
        np.save(os.path.join(folder, key + ".npy"), value)
    out = fn(**tensors)
    gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    upstream = torch.rand(out.shape, generator=gen, dtype=torch.float64) * 2 - 1
    out.backward(upstream)
    np.save(os.path.join(folder, "out.npy"), out.detach().numpy())
    np.save(os.path.join(folder, "upstream.npy"), upstream.numpy())
    for key, t in tensors.items():
        if t.is_floating_point():
            np.save(os.path.join(folder, "grad_" + key + ".npy"), t.grad.numpy())
    for key, value in (extra or {}).items():
        np.save(os.path.join(folder, key + ".npy"), value)


def rand(rng, *shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float64)


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    rng = np.random.default_rng(20201010)
    torch.set_default_dtype(torch.float64)

    conv_cases = {
        # name: (x shape, w shape, stride, padding, dilation, groups, bias)
        "conv2d_same_bias": ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1, 1, 1, True),
        "conv2d_stride2": ((2, 4, 9, 9), (6, 4, 3, 3), 2, 1, 1, 1, False),
        "conv2d_1x1_stride2": ((2, 4, 8, 8), (6, 4, 1, 1), 2, 0, 1, 1, True),
        "conv2d_dilated_grouped": ((2, 4, 9, 8), (6, 2, 3, 3), 1, 2, 2, 2, True),
        "conv2d_depthwise": ((2, 4, 7, 7), (4, 1, 3, 3), 2, 1, 1, 4, False),
    }
    for name, (xs, ws, s, p, d, g, bias) in conv_cases.items():
        inputs = {"x": rand(rng, *xs), "weight": rand(rng, *ws)}
        if bias:
            inputs["bias"] = rand(rng, ws[0])
        geometry = np.array([s, p, d, g], dtype=np.int32)

        def fn(x, weight, bias=None, s=s, p=p, d=d, g=g):
            return F.conv2d(x, weight, bias, stride=s, padding=p, dilation=d, groups=g)

        save_case(name, inputs, fn, {"geometry": geometry})

    # Batch norm, training mode: also the running statistics after one step.
    x = rand(rng, 4, 3, 5, 5, lo=-2, hi=3)
    gamma, beta = rand(rng, 3, lo=0.5, hi=1.5), rand(rng, 3)
    rm, rv = rand(rng, 3), rand(rng, 3, lo=0.5, hi=2)
    rm_t, rv_t = torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())
    save_case("batch_norm_train", {"x": x, "gamma": gamma, "beta": beta},
              lambda x, gamma, beta: F.batch_norm(x, rm_t, rv_t, gamma, beta, True, 0.1, 1e-5),
              {"running_mean_before": rm, "running_var_before": rv})
    np.save(os.path.join(ROOT, "batch_norm_train", "running_mean_after.npy"), rm_t.numpy())
    np.save(os.path.join(ROOT, "batch_norm_train", "running_var_after.npy"), rv_t.numpy())
    rm_e, rv_e = torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())
    save_case("batch_norm_eval", {"x": x, "gamma": gamma, "beta": beta},
              lambda x, gamma, beta: F.batch_norm(x, rm_e, rv_e, gamma, beta, False, 0.1, 1e-5),
              {"running_mean": rm, "running_var": rv})

    save_case("linear", {"x": rand(rng, 5, 7), "weight": rand(rng, 3, 7), "bias": rand(rng, 3)},
              lambda x, weight, bias: F.linear(x, weight, bias))

    pool_x = rng.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7).astype(np.float64) / 10.0
    save_case("max_pool_3x3_s2_p1", {"x": pool_x},
              lambda x: F.max_pool2d(x, 3, stride=2, padding=1))
    save_case("max_pool_2x2", {"x": pool_x[:, :, :6, :6].copy()}, lambda x: F.max_pool2d(x, 2))
    save_case("avg_pool_3x3_s2_p1", {"x": pool_x},
              lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=True))
    save_case("global_avg_pool", {"x": pool_x}, lambda x: F.adaptive_avg_pool2d(x, 1))

    labels = rng.integers(0, 10, size=8).astype(np.int32)
    save_case("cross_entropy", {"logits": rand(rng, 8, 10, lo=-5, hi=5), "labels": labels},
              lambda logits, labels: F.cross_entropy(logits, labels.long()))
    print("wrote", ROOT, "with torch", torch.__version__, file=sys.stderr)


if __name__ == "__main__":
    main()
