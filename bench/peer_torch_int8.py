#!/usr/bin/python3
"""PyTorch peer of `mpq infer --bench`: ResNet-20 (option-A shortcuts, one or
three input channels) through PyTorch's own int8 path, the fastest CPU
inference it offers here: torch.ao FX post-training quantization with the
`onednn` engine (int8 convolutions, fused ReLUs), calibrated on generated
images. Also --float: the same network float32, frozen TorchScript.

Prints the same final line as `mpq infer --bench`:
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


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.stride, self.extra = stride, cout - cin

    def forward(self, x):
        h = self.relu1(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        s = x
        if self.stride != 1 or self.extra:
            # Option A: subsample, zero channels around (as models/resnet_cifar.cpp).
            s = x[:, :, :: self.stride, :: self.stride]
            s = F.pad(s, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return self.relu2(h + s)


class ResNet20(nn.Module):
    def __init__(self, channels, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                layers.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        h = self.layers(self.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(self.pool(h), 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--float", action="store_true", help="float32 TorchScript instead of int8")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = ResNet20(a.channels).eval()
    # Batch-norm statistics that are not the identity, as after training.
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.rand(a.batch, a.channels, 32, 32) * 2 - 1
    with torch.no_grad():
        if a.float:
            run = torch.jit.freeze(torch.jit.trace(net, x))
            what = "float32 TorchScript (frozen)"
        else:
            from torch.ao.quantization import get_default_qconfig_mapping
            from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

            torch.backends.quantized.engine = "onednn"
            prepared = prepare_fx(net, get_default_qconfig_mapping("onednn"), example_inputs=(x,))
            for _ in range(4):  # calibration
                prepared(torch.rand(a.batch, a.channels, 32, 32) * 2 - 1)
            run = convert_fx(prepared)
            what = "int8 (torch.ao FX post-training quantization, onednn engine)"
        for _ in range(3):
            run(x)
        times = []
        start = time.perf_counter()
        while time.perf_counter() - start < a.seconds or len(times) < 5:
            t0 = time.perf_counter()
            run(x)
            times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print(f"PyTorch {torch.__version__} ResNet-20 {what}, batch {a.batch}, {a.threads} threads: "
          f"{len(times)} runs, median {1e3 * median:.3f} ms per batch")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"images_per_s={a.batch / median:.1f} peak_rss_mb={rss:.1f}")


if __name__ == "__main__":
    main()
