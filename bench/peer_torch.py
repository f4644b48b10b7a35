#!/usr/bin/python3
"""PyTorch peer of `mpq bench-step`: ResNet-20 (option-A shortcuts) trained or
evaluated on generated data, with the paper's U3 quantizers written the way
users write fake quantization in PyTorch: modules whose rounding is a
straight-through autograd function.

Prints the same final line as `mpq bench-step`:
    images_per_s=<number> peak_rss_mb=<number>
PyTorch is only the peer of the benchmark; mpq never builds against it.
"""
import argparse
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RoundSTE(torch.autograd.Function):
    """round half away from zero forward, gradient 1 backward."""

    @staticmethod
    def forward(ctx, x):
        return torch.sign(x) * torch.floor(torch.abs(x) + 0.5)

    @staticmethod
    def backward(ctx, g):
        return g


def pow2(v):
    # 2^round(log2 v) with the straight-through gradient pow2(v)/v.
    return torch.exp2(RoundSTE.apply(torch.log2(v)))


class U3(nn.Module):
    """Uniform quantizer with trained step d and range q_max (docs/method.md sections 1-2)."""

    def __init__(self, signed, d, q_max):
        super().__init__()
        self.signed = signed
        self.d = nn.Parameter(torch.tensor(float(d)))
        self.q_max = nn.Parameter(torch.tensor(float(q_max)))

    def forward(self, x):
        d = pow2(self.d)
        lo = -self.q_max if self.signed else torch.zeros_like(self.q_max)
        x = torch.minimum(torch.maximum(x, lo), self.q_max)
        return d * RoundSTE.apply(x / d)


def weight_quantizer(w, bits=4):
    m = w.detach().abs().max().item()
    levels = 2 ** (bits - 1) - 1
    import math
    d = 2.0 ** math.floor(math.log2(m / levels))
    return U3(True, d, levels * d)


def act_quantizer(bits=4):
    d = 2.0 ** -3
    return U3(False, d, d * (2 ** bits - 1))


class QConv(nn.Conv2d):
    def __init__(self, cin, cout, k, stride, quant):
        super().__init__(cin, cout, k, stride, k // 2, bias=False)
        nn.init.kaiming_normal_(self.weight, nonlinearity="relu")
        self.wq = weight_quantizer(self.weight) if quant else None

    def forward(self, x):
        w = self.wq(self.weight) if self.wq is not None else self.weight
        return F.conv2d(x, w, None, self.stride, self.padding)


class Act(nn.Module):
    def __init__(self, quant):
        super().__init__()
        self.q = act_quantizer() if quant else None

    def forward(self, x):
        return self.q(x) if self.q is not None else F.relu(x)


class Block(nn.Module):
    def __init__(self, cin, cout, stride, quant):
        super().__init__()
        self.conv1 = QConv(cin, cout, 3, stride, quant)
        self.bn1 = nn.BatchNorm2d(cout)
        self.act1 = Act(quant)
        self.conv2 = QConv(cout, cout, 3, 1, quant)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act2 = Act(quant)
        self.stride, self.extra = stride, cout - cin

    def forward(self, x):
        h = self.act1(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        s = x
        if self.stride != 1 or self.extra:
            s = x[:, :, :: self.stride, :: self.stride]
            s = F.pad(s, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return self.act2(h + s)


class QLinear(nn.Linear):
    def __init__(self, cin, cout, quant):
        super().__init__(cin, cout)
        self.wq = weight_quantizer(self.weight) if quant else None
        self.bq = weight_quantizer(self.bias) if quant else None

    def forward(self, x):
        w = self.wq(self.weight) if self.wq is not None else self.weight
        b = self.bq(self.bias) if self.bq is not None else self.bias
        return F.linear(x, w, b)


class ResNetCifar(nn.Module):
    def __init__(self, depth=20, classes=10, quant=False):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = QConv(3, 16, 3, 1, quant)
        self.bn1 = nn.BatchNorm2d(16)
        self.act1 = Act(quant)
        blocks, cin = [], 16
        for stage, width in enumerate((16, 32, 64)):
            for b in range(n):
                blocks.append(Block(cin, width, 2 if stage > 0 and b == 0 else 1, quant))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = QLinear(64, classes, quant)

    def forward(self, x):
        h = self.blocks(self.act1(self.bn1(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet20", choices=["resnet20", "resnet32", "resnet56"])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--quant", default="none", choices=["none", "U3"])
    ap.add_argument("--eval", action="store_true")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument("--tf32", action="store_true", help="CUDA: allow TF32 (PyTorch's cuDNN default)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    if dev.type == "cuda":
        # The same arithmetic as mpq unless --tf32: full float32 by default.
        torch.backends.cudnn.allow_tf32 = a.tf32
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = ResNetCifar(int(a.model[6:]), 10, a.quant != "none").to(dev)
    x = torch.randn(a.batch, 3, 32, 32).to(dev)
    y = torch.randint(0, 10, (a.batch,)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train(not a.eval)

    def step():
        if a.eval:
            with torch.no_grad():
                model(x)
            return
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    def finish():  # a GPU step is timed until its kernels have finished
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    finish()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        finish()
        times.append(time.perf_counter() - t0)
    print(f"torch {torch.__version__} {a.model} batch {a.batch}, {a.quant}, "
          f"{'inference' if a.eval else 'training'}, {torch.get_num_threads()} threads: "
          f"{a.steps} steps, median {statistics.median(times) * 1e3:.2f} ms, "
          f"mean {statistics.mean(times) * 1e3:.2f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    line = f"images_per_s={a.batch * a.steps / sum(times):.1f} peak_rss_mb={peak:.1f}"
    if dev.type == "cuda":
        line += f" peak_device_mb={torch.cuda.max_memory_allocated(dev) / 2**20:.1f}"
    print(line)


if __name__ == "__main__":
    main()
