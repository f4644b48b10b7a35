#!/usr/bin/env bash
# The GPU checks of the CUDA backend (issue 7) in one run on a lent GPU machine.
#
# Here (a machine with the CUDA toolkit, no GPU needed):
#   scripts/gpu_check.sh pack            # build-cuda/ with CUDA on, then .gpu/ (~50 MB)
# Then with the device tool, carrying .gpu:
#   run(command="scripts/gpu_check.sh run", carry=[".gpu"], timeout_s=580)
#
# `pack` copies the programs, the tests and the libraries that the GPU image
# lacks (oneDNN, Google Benchmark) into .gpu/. `run` uses the image's CUDA,
# cuDNN and cuBLAS (PyTorch's wheels) and writes to $OUT (or gpu-check/):
#   nvidia-smi.txt   the GPU
#   tests.log        every Catch2 case (the CUDA cases run instead of skipping),
#                    test_distributed's NCCL case among them
#   train.log        ResNet-20 + U3 on generated CIFAR-shaped data, 50,000
#                    images: one float and one quantized epoch (~780 steps)
#   train.jsonl      its per-epoch log (images/s of the quantized epoch: the
#                    "epoch under 5 s" target)
#   imagenet.log     ResNet-18 on a generated image folder (pinned, asynchronous
#                    batch copies)
#   bench_ops.log    every op's benchmark-sized cases timed on the GPU and the CPU
#   e2e.log/.json    bench/e2e.py --device cuda: mpq against PyTorch eager on
#                    the same GPU, full float32; e2e_tf32.* the same with TF32
# Each step has its own time limit so that the run ends inside the device
# tool's 10 minutes; a failing step does not stop the others.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACK="$ROOT/.gpu"

pack() {
  local build="$ROOT/build-cuda"  # not build/: the CI build stays as it is
  cmake -S "$ROOT" -B "$build" -G Ninja -DMPQ_CUDA=ON -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
  cmake --build "$build" || exit 1
  rm -rf "$PACK" && mkdir -p "$PACK/lib" "$PACK/bin" "$PACK/golden"
  for layer in core ops quant models data train deploy; do cp -L "$build/libmpq_$layer.so.0" "$PACK/lib/"; done
  cp -L /usr/lib/x86_64-linux-gnu/libdnnl.so.2 /usr/lib/x86_64-linux-gnu/libbenchmark.so.1debian \
    "$PACK/lib/"
  # Open MPI's libraries (mpq_train links them; the image has no MPI): a
  # process started without mpirun loads them but never initialises MPI.
  for l in libmpi.so.40 libopen-rte.so.40 libopen-pal.so.40 libhwloc.so.15 libevent_core-2.1.so.7 \
           libevent_pthreads-2.1.so.7 libudev.so.1 libOpenCL.so.1; do
    cp -L "/usr/lib/x86_64-linux-gnu/$l" "$PACK/lib/"
  done
  for p in tests/mpq_tests tests/mpq_cli_tests tests/test_distributed tests/make_cifar10 tests/make_image_folder \
           examples/resnet_cifar examples/imagenet examples/mpq bench/mpq_bench_kernels; do
    cp "$build/$p" "$PACK/bin/"
  done
  strip --strip-unneeded "$PACK"/bin/* "$PACK"/lib/libmpq_*.so.0 2>/dev/null
  cp -r "$ROOT/tests/golden/." "$PACK/golden/"
  grep -q '^/.gpu/$' "$ROOT/.git/info/exclude" 2>/dev/null || echo /.gpu/ >>"$ROOT/.git/info/exclude"
  du -sh "$PACK"
}

run() {
  local out="${OUT:-$ROOT/gpu-check}"
  mkdir -p "$out"
  # CUDA's runtime libraries come from the image's PyTorch wheels (nvidia-*).
  local nv
  nv=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null)
  local libs="$PACK/lib"
  for d in "$nv"/nvidia/*/lib /usr/local/cuda/lib64; do [ -d "$d" ] && libs="$libs:$d"; done
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OMP_NUM_THREADS=4 \
    PYTHONUNBUFFERED=1 MPQ_GOLDEN_DIR_OVERRIDE="$PACK/golden"
  nvidia-smi >"$out/nvidia-smi.txt" 2>&1

  # 1. The test suites. Cases that read Fashion-MNIST (not on the image) fail
  #    there by design; the CUDA cases are the point of this run.
  {
    timeout 120 "$PACK/bin/mpq_tests" --durations yes 2>&1
    echo "mpq_tests exit $?"
    MPQ_CLI_PATH_OVERRIDE="$PACK/bin/mpq" timeout 30 "$PACK/bin/mpq_cli_tests" 2>&1
    echo "mpq_cli_tests exit $?"
    # NCCL with a communicator of one, and synchronised batch norm's CUDA
    # kernels (train/distributed.h; mpirun is not on the image).
    timeout 60 "$PACK/bin/test_distributed" 2>&1
    echo "test_distributed exit $?"
  } >"$out/tests.log"

  # 2. A short ResNet-20 training with U3 quantizers on generated CIFAR-shaped data.
  local data=/tmp/mpq-cifar
  "$PACK/bin/make_cifar10" "$data" 10000 >/dev/null
  rm -rf /tmp/mpq-train
  timeout 110 "$PACK/bin/resnet_cifar" --device cuda --data "$data" --float-epochs 1 --epochs 1 \
    --batch-size 128 --param U3 --run-dir /tmp/mpq-train >"$out/train.log" 2>&1
  echo "resnet_cifar exit $?" >>"$out/train.log"
  cp /tmp/mpq-train/log.jsonl "$out/train.jsonl" 2>/dev/null
  "$PACK/bin/make_image_folder" /tmp/mpq-images 10 40 10 >/dev/null
  rm -rf /tmp/mpq-imagenet
  timeout 60 "$PACK/bin/imagenet" --device cuda --data /tmp/mpq-images --image-size 64 \
    --batch-size 32 --float-epochs 1 --epochs 1 --run-dir /tmp/mpq-imagenet >"$out/imagenet.log" 2>&1
  echo "imagenet exit $?" >>"$out/imagenet.log"

  # 3. Every op's benchmark-sized cases on the GPU beside the CPU (tests/cases/),
  #    each checked against float64 before it is timed.
  timeout 40 "$PACK/bin/mpq_bench_kernels" --threads 4 --benchmark_min_time=0.01 \
    --benchmark_filter='ops/.*' >"$out/bench_ops.log" 2>&1
  echo "bench_ops exit $?" >>"$out/bench_ops.log"

  # 4. mpq against PyTorch eager on this GPU (bench/e2e.py reads build/).
  mkdir -p /tmp/mpq-build/examples /tmp/mpq-build/bench
  cp "$PACK/bin/mpq" /tmp/mpq-build/examples/ && cp "$PACK/bin/mpq_bench_kernels" /tmp/mpq-build/bench/
  timeout 90 python3 "$ROOT/bench/e2e.py" --build-dir /tmp/mpq-build --python python3 --device cuda \
    --pairs 3 --steps 30 --threads 4 --json "$out/e2e.json" >"$out/e2e.log" 2>&1
  echo "e2e exit $?" >>"$out/e2e.log"
  timeout 80 python3 "$ROOT/bench/e2e.py" --build-dir /tmp/mpq-build --python python3 --device cuda \
    --tf32 --pairs 3 --steps 30 --threads 4 --only "train U3,train float" \
    --json "$out/e2e_tf32.json" >"$out/e2e_tf32.log" 2>&1
  echo "e2e tf32 exit $?" >>"$out/e2e_tf32.log"
  for f in "$out"/*.log; do echo "== $f"; tail -n 5 "$f"; done
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: scripts/gpu_check.sh pack|run" >&2; exit 2 ;;
esac
