// Conv, batch norm, linear, pooling and cross-entropy against PyTorch's
// results, stored once by scripts/make_golden.py (PyTorch is not needed here).
// Each case runs in float64 (reference kernels) and float32 (fast kernels).
#include "test_util.h"

#include <cstdlib>

#include <filesystem>
#include <map>

#include "core/npy.h"
#include "ops/batch_norm.h"
#include "ops/conv2d.h"
#include "ops/cross_entropy.h"
#include "ops/matmul.h"
#include "ops/pool.h"

using namespace mpq;

namespace {

struct Golden {
  std::string dir;
  // MPQ_GOLDEN_DIR_OVERRIDE: the golden files when the tests run away from
  // their source tree (scripts/gpu_check.sh).
  explicit Golden(const std::string& name)
      : dir(std::string(std::getenv("MPQ_GOLDEN_DIR_OVERRIDE")
                            ? std::getenv("MPQ_GOLDEN_DIR_OVERRIDE")
                            : MPQ_GOLDEN_DIR) +
            "/" + name) {
    REQUIRE(std::filesystem::is_directory(dir));
  }
  Tensor operator[](const std::string& key) const { return load_npy(dir + "/" + key + ".npy"); }
  bool has(const std::string& key) const {
    return std::filesystem::exists(dir + "/" + key + ".npy");
  }
};

using Forward = std::function<Tensor(std::map<std::string, Tensor>&)>;

// Runs fn on the case's float inputs converted to dtype, backpropagates the
// stored upstream gradient and compares output and every input gradient.
void check_case(const std::string& name, const std::vector<std::string>& float_inputs, DType dtype,
                double tol, const Forward& fn) {
  INFO("golden case " << name << " in " << dtype_name(dtype));
  const Golden g(name);
  std::map<std::string, Tensor> in;
  for (const auto& k : float_inputs) {
    in[k] = g[k].to(dtype);
    in[k].set_requires_grad(true);
  }
  Tensor out = fn(in);
  CHECK_CLOSE(out, g["out"], tol, tol);
  out.backward(g["upstream"].to(dtype));
  for (const auto& k : float_inputs) {
    INFO("gradient of " << k);
    REQUIRE(in[k].grad().defined());
    CHECK_CLOSE(in[k].grad(), g["grad_" + k], tol, tol);
  }
}

const std::vector<std::pair<DType, double>> kPrecisions = {{DType::f64, 1e-10}, {DType::f32, 1e-4}};

}  // namespace

TEST_CASE("golden: conv2d against PyTorch", "[golden][conv2d]") {
  for (const char* name : {"conv2d_same_bias", "conv2d_stride2", "conv2d_1x1_stride2",
                           "conv2d_dilated_grouped", "conv2d_depthwise"}) {
    const Golden g(name);
    const auto geo = g["geometry"].to_vector<std::int32_t>();
    Conv2dParams p;
    p.stride = {geo[0], geo[0]};
    p.padding = {geo[1], geo[1]};
    p.dilation = {geo[2], geo[2]};
    p.groups = geo[3];
    const bool bias = g.has("bias");
    std::vector<std::string> inputs{"x", "weight"};
    if (bias) inputs.push_back("bias");
    for (auto [dt, tol] : kPrecisions)
      check_case(name, inputs, dt, tol, [&](auto& in) {
        return conv2d(in["x"], in["weight"], bias ? in["bias"] : Tensor(), p);
      });
  }
}

TEST_CASE("golden: batch_norm2d against PyTorch", "[golden][batch_norm]") {
  const Golden gt("batch_norm_train"), ge("batch_norm_eval");
  for (auto [dt, tol] : kPrecisions) {
    Tensor rm = gt["running_mean_before"].to(dt), rv = gt["running_var_before"].to(dt);
    check_case("batch_norm_train", {"x", "gamma", "beta"}, dt, tol, [&](auto& in) {
      return batch_norm2d(in["x"], in["gamma"], in["beta"], rm, rv, true, 0.1, 1e-5);
    });
    CHECK_CLOSE(rm, gt["running_mean_after"], tol, tol);
    CHECK_CLOSE(rv, gt["running_var_after"], tol, tol);
    const Tensor rme = ge["running_mean"].to(dt), rve = ge["running_var"].to(dt);
    check_case("batch_norm_eval", {"x", "gamma", "beta"}, dt, tol, [&](auto& in) {
      return batch_norm2d(in["x"], in["gamma"], in["beta"], rme, rve, false, 0.1, 1e-5);
    });
  }
}

TEST_CASE("golden: linear, pooling and cross-entropy against PyTorch", "[golden]") {
  for (auto [dt, tol] : kPrecisions) {
    check_case("linear", {"x", "weight", "bias"}, dt, tol,
               [](auto& in) { return linear(in["x"], in["weight"], in["bias"]); });
    check_case("max_pool_3x3_s2_p1", {"x"}, dt, tol, [](auto& in) {
      return max_pool2d(in["x"], {{3, 3}, {2, 2}, {1, 1}});
    });
    check_case("max_pool_2x2", {"x"}, dt, tol, [](auto& in) { return max_pool2d(in["x"], {}); });
    check_case("avg_pool_3x3_s2_p1", {"x"}, dt, tol, [](auto& in) {
      return avg_pool2d(in["x"], {{3, 3}, {2, 2}, {1, 1}});
    });
    check_case("global_avg_pool", {"x"}, dt, tol,
               [](auto& in) { return global_avg_pool2d(in["x"]); });
    const Tensor labels = Golden("cross_entropy")["labels"];
    check_case("cross_entropy", {"logits"}, dt, tol,
               [&](auto& in) { return cross_entropy(in["logits"], labels); });
  }
}
