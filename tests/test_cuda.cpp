// The CUDA backend against the CPU backend: transfers, copies, elementwise
// ops and reductions, forward and backward. Every case that needs a GPU
// starts with MPQ_REQUIRE_CUDA(), which on a machine without one prints the
// skip marker that ctest turns into "Skipped" (tests/CMakeLists.txt), so the
// cases are reported, not silently absent. Without a GPU, the error paths are
// still checked here.
#include "test_util.h"

#include <cstring>
#include <iostream>

#include "core/backend.h"
#include "core/layout.h"
#include "cuda_util.h"
#include "models/zoo.h"
#include "ops/batch_norm.h"
#include "ops/conv2d.h"
#include "ops/cross_entropy.h"
#include "ops/matmul.h"
#include "ops/pool.h"
#include "train/optimizer.h"

using namespace mpq;
using namespace mpq::test;
using Catch::Matchers::Contains;

TEST_CASE("cuda: a CUDA tensor without a usable device is refused with the reason", "[cuda]") {
  std::string why;
  const int n = device_count(DeviceType::cuda, &why);
  if (n == 0) {
    CHECK(!why.empty());
    CHECK_FALSE((device_count(DeviceType::cuda) > 0));
    CHECK_THROWS_WITH(empty({2, 3}, DType::f32, kGpu), Contains("cuda:0") && Contains(why));
    CHECK_THROWS_WITH(ones({2}).to(kGpu), Contains("cuda:0"));
    CHECK_THROWS_WITH(synchronize(kGpu), Contains("cuda:0"));
  } else {
    CHECK((device_count(DeviceType::cuda) > 0));
    CHECK_THROWS_WITH(empty({2}, DType::f32, Device::cuda(n)),
                      Contains("cuda:" + std::to_string(n)) && Contains("only"));
  }
}

TEST_CASE("cuda: transfers keep values, dtype and layout", "[cuda]") {
  MPQ_REQUIRE_CUDA();
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i8, DType::u8}) {
    const Tensor x = mul(test::rand_f64({2, 3, 4, 5}, 1), 50.0).to(dt);
    const Tensor g = x.to(kGpu);
    CHECK(g.device() == kGpu);
    CHECK(g.dtype() == dt);
    CHECK(same_bits(g.to(Device::cpu()), x));
  }
  // A channels-last tensor stays channels-last on the device and back.
  const Tensor cl = to_channels_last(test::rand_f32({2, 3, 4, 5}, 2));
  const Tensor g = cl.to(kGpu);
  CHECK(is_channels_last(g));
  CHECK(is_channels_last(g.to(Device::cpu())));
  CHECK(same_bits(g, cl));
  // A non-dense view (every other column) arrives with the right values.
  const Tensor base = test::rand_f32({4, 6}, 3);
  const Tensor view = base.narrow(1, 1, 4).transpose(0, 1);
  CHECK(same_bits(view.to(kGpu), view.contiguous()));
  // item() and to_vector() read device tensors.
  const Tensor s = full({}, 2.5, DType::f32, kGpu);
  CHECK(s.item() == 2.5);
  CHECK(full({3}, -1.0, DType::f64, kGpu).to_vector<double>() == std::vector<double>{-1, -1, -1});
}

TEST_CASE("cuda: copies, fills and dtype conversion on the device", "[cuda]") {
  MPQ_REQUIRE_CUDA();
  const Tensor src = test::rand_f64({5, 7}, 4);
  // copy_ from the host into a strided device view.
  Tensor dst = zeros({7, 5}, DType::f64, kGpu);
  Tensor view = dst.transpose(0, 1);
  view.copy_(src);
  CHECK(same_bits(dst.to(Device::cpu()), src.transpose(0, 1).contiguous()));
  // Broadcasting copy and fill.
  Tensor b = empty({3, 4}, DType::f32, kGpu);
  b.copy_(from_vector<float>({1, 2, 3, 4}, {4}));
  CHECK(b.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4});
  b.narrow(0, 1, 1).fill_(7.0);
  CHECK(b.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 7, 7, 7, 7, 1, 2, 3, 4});
  // Conversion (float64 -> float32 -> int32) on the device, as on the CPU.
  const Tensor scaled = mul(src, 100.0);
  CHECK(same_bits(scaled.to(kGpu).to(DType::f32).to(DType::i32),
                  scaled.to(DType::f32).to(DType::i32)));
  // Host pointers of device tensors are refused with the reason.
  CHECK_THROWS_WITH(b.data<float>(), Contains("host access") && Contains("cuda:0"));
  // Mixing devices in an op is an error that names both.
  CHECK_THROWS_WITH(add(b, ones({3, 4})), Contains("cuda:0") && Contains("cpu"));
}

TEST_CASE("cuda: the caching allocator reuses freed blocks", "[cuda]") {
  MPQ_REQUIRE_CUDA();
  { const Tensor warm = empty({1000, 1000}, DType::f32, kGpu); }
  const AllocatorStats before = memory_stats(kGpu);
  { const Tensor again = empty({1000, 1000}, DType::f32, kGpu); }
  const AllocatorStats after = memory_stats(kGpu);
  CHECK(after.cache_hits == before.cache_hits + 1);
  CHECK(after.system_allocations == before.system_allocations);
  CHECK(after.bytes_in_use == before.bytes_in_use);
  backend(kGpu).empty_cache();
  CHECK(memory_stats(kGpu).bytes_cached == 0);
}

TEST_CASE("cuda: piecewise-constant kinds, masks and layouts match the CPU", "[cuda]") {
  MPQ_REQUIRE_CUDA();
  // Every kind's values and gradients against the CPU: the op case list
  // (tests/cases/elementwise.cpp, run by tests/test_op_cases.cpp). Here what
  // the case list cannot express: piecewise-constant kinds on their ties,
  // uint8 masks, layouts.
  const Tensor a = test::rand_f64({3, 4, 5}, 5), b = test::rand_f64({3, 4, 5}, 6);
  for (DType dt : {DType::f64, DType::f32}) {
    auto in = [dt](const Tensor& t) { return t.to(dt); };
    // Piecewise-constant ops: values equal, gradients zero on both devices.
    const Tensor halves = mul(round(mul(a, 8.0)), 0.5);  // ties at .5
    for (auto f :
         {+[](const Tensor& x) { return round(x); }, +[](const Tensor& x) { return floor(x); },
          +[](const Tensor& x) { return ceil(x); }, +[](const Tensor& x) { return sign(x); }})
      CHECK(same_bits(f(in(halves).to(kGpu)), f(in(halves))));
  }
  // Comparisons give uint8 masks on the device.
  CHECK(same_bits(le(a.to(kGpu), b.to(kGpu)), le(a, b)));
  CHECK(same_bits(ne(a.to(kGpu), a.to(kGpu)), ne(a, a)));
  // Channels-last operands keep their layout, as on the CPU.
  const Tensor cl = to_channels_last(test::rand_f32({2, 3, 4, 5}, 9));
  const Tensor r = relu(cl.to(kGpu));
  CHECK(is_channels_last(r));
  CHECK(same_bits(r, relu(cl)));
}

TEST_CASE("cuda: reductions match the CPU and repeat exactly", "[cuda]") {
  MPQ_REQUIRE_CUDA();
  // sum, mean and max over axes: the op case list (tests/cases/reduce.cpp).
  using V = std::vector<Tensor>;
  const Tensor x = test::rand_f64({4, 6, 5}, 10);
  check_against_cpu([](const V& v) { return sum_to(v[0], {6, 1}); }, {x}, 1e-12, 1e-12);
  CHECK(same_bits(argmax(x.to(kGpu), 1), argmax(x, 1)));
  // Rows longer than one block's chunk, float32: the sums accumulate in double.
  const Tensor big = test::rand_f32({3, 100000}, 11);
  const Tensor s1 = sum(big.to(kGpu), {1}), s2 = sum(big.to(kGpu), {1});
  CHECK(same_bits(s1, s2));
  CHECK_CLOSE(s1.to(Device::cpu()), sum(big, {1}), 1e-3, 1e-6);
  // Ties and NaN: the first maximum, and a NaN wins, as on the CPU.
  const Tensor ties = from_vector<float>({1, 3, 3, 2, NAN, 5, 0, NAN}, {2, 4});
  CHECK(same_bits(argmax(ties.to(kGpu), 1), argmax(ties, 1)));
}

// matmul, linear, cross-entropy, batch norm, pooling and conv2d (values,
// gradients, exact repeats): the op case lists (tests/cases/), run on every
// backend by tests/test_op_cases.cpp. Here the running statistics, which the
// case list keeps out of its inputs.
TEST_CASE("cuda: batch norm updates its running statistics as on the CPU", "[cuda]") {
  MPQ_REQUIRE_CUDA();
  for (DType dt : {DType::f64, DType::f32}) {
    const double tol = dt == DType::f64 ? 1e-11 : 2e-5;
    INFO("dtype " << dtype_name(dt));
    const Tensor x = rand_f64({4, 3, 5, 6}, 26, -2, 3).to(dt);
    const Tensor gamma = rand_f64({3}, 27, 0.5, 1.5).to(dt), beta = rand_f64({3}, 28).to(dt);
    Tensor rm_c = rand_f64({3}, 29).to(dt), rv_c = rand_f64({3}, 30, 0.5, 2).to(dt);
    Tensor rm_g = rm_c.to(kGpu), rv_g = rv_c.to(kGpu);
    batch_norm2d(x, gamma, beta, rm_c, rv_c, true);
    batch_norm2d(x.to(kGpu), gamma.to(kGpu), beta.to(kGpu), rm_g, rv_g, true);
    CHECK_CLOSE(rm_g.to(Device::cpu()), rm_c, tol, tol);
    CHECK_CLOSE(rv_g.to(Device::cpu()), rv_c, tol, tol);
  }
}

TEST_CASE("cuda: device names parse, nonsense is refused", "[cuda]") {
  CHECK(Device::parse("cpu") == Device::cpu());
  CHECK(Device::parse("cuda") == Device::cuda(0));
  CHECK(Device::parse("cuda:3") == Device::cuda(3));
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""})
    CHECK_THROWS_WITH(Device::parse(bad), Contains("unknown device"));
}

TEST_CASE("cuda: a quantized ResNet-20 training step matches the CPU", "[cuda]") {
  MPQ_REQUIRE_CUDA();
  for (const char* param : {"U3", "P3"}) {
    INFO("parametrization " << param);
    models::ModelOptions o;
    o.seed = 7;
    o.quant = models::QuantConfig::learned(quant::parse_parametrization(param), 4, 4);
    auto cpu_net = models::make_model("resnet20", o), gpu_net = models::make_model("resnet20", o);
    gpu_net->to(kGpu);
    CHECK(gpu_net->device() == kGpu);
    const Tensor x = rand_f32({8, 3, 32, 32}, 50, -1, 1);
    const Tensor y = from_vector<std::int32_t>({0, 1, 2, 3, 4, 5, 6, 7}, {8});
    train::Sgd opt_c(cpu_net->parameters(), {0.05, 0.9, 2e-4, false});
    train::Sgd opt_g(gpu_net->parameters(), {0.05, 0.9, 2e-4, false});
    // One step: the loss agrees to float32 rounding (cuDNN and oneDNN sum in
    // different orders), then every parameter and buffer after the update. A
    // wrong gradient would be off by its own size; float rounding can flip a
    // few 4-bit roundings, which moves the quantizers' parameters by at most
    // lr times a few upstream gradients, hence their looser tolerance.
    const Tensor lc = cross_entropy(cpu_net->forward(x), y);
    const Tensor lg = cross_entropy(gpu_net->forward(x.to(kGpu)), y.to(kGpu));
    CHECK(lg.item() == Approx(lc.item()).epsilon(1e-4));
    opt_c.zero_grad();
    opt_g.zero_grad();
    lc.backward();
    lg.backward();
    opt_c.step();
    opt_g.step();
    const auto sc = cpu_net->state_dict(), sg = gpu_net->state_dict();
    REQUIRE(sc.size() == sg.size());
    for (std::size_t i = 0; i < sc.size(); ++i) {
      INFO(sc[i].first);
      CHECK(sg[i].second.device() == kGpu);
      // Quantizer state is "<quantizer>.<raw parameter>": d, qmax, qmin or b.
      const std::string leaf = sc[i].first.substr(sc[i].first.rfind('.') + 1);
      const bool quantizer = leaf == "d" || leaf == "qmax" || leaf == "qmin" || leaf == "b";
      CHECK_CLOSE(sg[i].second.to(Device::cpu()), sc[i].second, quantizer ? 1e-2 : 1e-4,
                  quantizer ? 1e-2 : 1e-3);
    }
    auto back = models::make_model("resnet20", o);
    back->load_state_dict(sg);
    CHECK(back->device() == Device::cpu());
  }
}

TEST_CASE("cuda: pinned host memory, and ordinary memory where there is none", "[cuda]") {
  const Tensor p = empty_pinned({4, 5});
  CHECK(p.device() == Device::cpu());
  CHECK(p.is_pinned() == (device_count(DeviceType::cuda) > 0));  // falls back without a GPU
  CHECK_FALSE(empty({3}).is_pinned());
  MPQ_REQUIRE_CUDA();
  // Asynchronous copies from reused pinned blocks carry the right data: each
  // block is refilled right after its tensor dies, while copies may still run.
  std::vector<Tensor> on_gpu;
  for (int i = 0; i < 20; ++i) {
    Tensor h = empty_pinned({256, 1024});
    h.fill_(static_cast<double>(i));
    on_gpu.push_back(h.to(kGpu));
  }
  for (int i = 0; i < 20; ++i) {
    const auto v = on_gpu[static_cast<std::size_t>(i)].to_vector<float>();
    CHECK(v.front() == static_cast<float>(i));
    CHECK(v.back() == static_cast<float>(i));
  }
}

TEST_CASE("cuda: the quantizers' scalar steps (exp2, log2, 2^round(log2)) agree across devices",
          "[cuda]") {
  // On the CPU the kinds are computed in double and rounded once.
  const Tensor v = from_vector<float>({0.3f, 1.0f, 0.70710677f, 0.70710683f, 3.0f, 1e-3f}, {6});
  Tensor out = empty_like(v);
  backend(Device::cpu()).unary(UnaryOp::pow2_round, v, out, 0, 0);
  const auto p = out.to_vector<float>();
  CHECK(p == std::vector<float>{0.25f, 1.0f, 0.5f, 1.0f, 4.0f, 0.0009765625f});
  backend(Device::cpu()).unary(UnaryOp::log2, v, out, 0, 0);
  CHECK(out.to_vector<float>()[4] == static_cast<float>(std::log2(3.0)));
  backend(Device::cpu()).unary(UnaryOp::exp2, v, out, 0, 0);
  CHECK(out.to_vector<float>()[0] == static_cast<float>(std::exp2(double(0.3f))));
  MPQ_REQUIRE_CUDA();
  for (UnaryOp k : {UnaryOp::pow2_round, UnaryOp::log2, UnaryOp::exp2}) {
    const Tensor g = v.to(kGpu);
    Tensor go = empty_like(g), co = empty_like(v);
    backend(kGpu).unary(k, g, go, 0, 0);
    backend(Device::cpu()).unary(k, v, co, 0, 0);
    // 2^round(log2 v) is exact on both; CUDA's double log2/exp2 may differ
    // from glibc's by an ulp of double, which float rounding almost always hides.
    if (k == UnaryOp::pow2_round)
      CHECK(same_bits(go, co));
    else
      CHECK_CLOSE(go.to(Device::cpu()), co, 0, 1e-7);
  }
}
