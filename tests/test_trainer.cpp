// train::Trainer's divergence guard: a run that cannot go on stops with
// train::Diverged (the programs' exit code 3) naming what left the finite
// range, before it writes anything over the last good checkpoint.
#include "test_util.h"

#include <filesystem>

#include "core/file_io.h"
#include "core/rng.h"
#include "models/zoo.h"
#include "temp_dir.h"
#include "train/trainer.h"

using namespace mpq;
using Catch::Matchers::Contains;

namespace {

// Fixed random 28x28 images and labels, in order, one epoch = all of them.
class RandomSource : public train::BatchSource {
 public:
  RandomSource(std::int64_t n, std::int64_t batch) : batch_(batch) {
    images_ = test::rand_f64({n, 1, 28, 28}, 11, -1, 1).to(DType::f32);
    std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
      labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i % 10);
    labels_ = from_vector<std::int32_t>(labels, {n});
  }
  std::int64_t size() const override { return images_.shape()[0]; }
  std::int64_t batch_size() const override { return batch_; }
  void start_epoch(std::uint64_t) override { pos_ = 0; }
  bool next(Tensor& x, Tensor& y) override {
    const std::int64_t m = std::min(batch_, size() - pos_);
    if (m <= 0) return false;
    x = images_.narrow(0, pos_, m);
    y = labels_.narrow(0, pos_, m);
    pos_ += m;
    return true;
  }

 private:
  Tensor images_, labels_;
  std::int64_t batch_, pos_ = 0;
};

// The message of the train::Diverged that `run` throws; empty if it throws
// nothing (any other exception propagates and fails the test).
template <class F>
std::string diverged_message(F&& run) {
  try {
    run();
  } catch (const train::Diverged& e) {
    return e.what();
  }
  return "";
}

train::PhaseOptions phase(bool quantized, double lr) {
  train::PhaseOptions o;
  o.name = quantized ? "quant" : "float";
  o.quantized = quantized;
  o.epochs = 1;
  o.lr = lr;
  return o;
}

}  // namespace

TEST_CASE("trainer: a P2 quantizer whose derived q_max overflows float32 stops the run",
          "[train][trainer]") {
  // P2: q_max = q_min 2^(2^(b-1) - 1) for a signed weight quantizer; at b = 8
  // and q_min = 128 (pow2 of 100) that is 2^134, beyond float32's 2^128.
  test::TempDir dir;
  models::ModelOptions mo;
  mo.quant = models::QuantConfig::learned(quant::Parametrization::P2);
  auto net = models::make_model("lenet5", mo);
  const auto sites = net->quant_sites();
  const models::QuantSite* first = nullptr;
  for (const auto& s : sites)
    if (s.quantizer && s.kind == models::QuantSite::Kind::weight && !first) first = &s;
  REQUIRE(first != nullptr);
  {
    NoGradGuard ng;
    Tensor b = first->quantizer->raw("b"), qmin = first->quantizer->raw("qmin");
    b.fill_(8.0);
    qmin.fill_(100.0);
  }
  train::Sgd opt(net->parameters(), {.lr = 0.01});
  RandomSource data(16, 8);
  train::Trainer trainer(dir.file(""), false, -1, 0, {});
  const std::string msg =
      diverged_message([&] { trainer.run_phase(phase(true, 0.01), *net, opt, data, data); });
  CHECK_THAT(msg, Contains("training stopped: quantizer " + first->name) && Contains("P2") &&
                      Contains("b = 8") && Contains("q_max = inf") &&
                      Contains("outside float32's range") && Contains("epoch 1, step 0"));
  CHECK_FALSE(std::filesystem::exists(dir.file("last.safetensors")));  // nothing written

  // The same quantizer within range trains.
  {
    NoGradGuard ng;
    Tensor qmin = first->quantizer->raw("qmin");
    qmin.fill_(0.01);
  }
  train::Trainer again(dir.file(""), false, -1, 0, {});
  CHECK_NOTHROW(again.run_phase(phase(true, 0.001), *net, opt, data, data));
}

TEST_CASE("trainer: a non-finite loss or gradient stops the run as Diverged", "[train][trainer]") {
  test::TempDir dir;
  auto net = models::make_model("lenet5", {});
  train::Sgd opt(net->parameters(), {.lr = 1e30});
  RandomSource data(64, 8);
  train::Trainer trainer(dir.file(""), false, -1, 0, {});
  const std::string msg =
      diverged_message([&] { trainer.run_phase(phase(false, 1e30), *net, opt, data, data); });
  CHECK_THAT(msg, Contains("training stopped: non-finite value") && Contains("at epoch 1, step") &&
                      Contains("nothing was saved over the last good checkpoint"));
  CHECK_FALSE(std::filesystem::exists(dir.file("last.safetensors")));
}

TEST_CASE("trainer: a resumed run mends log.jsonl from its checkpoint's line", "[train][trainer]") {
  test::TempDir dir;
  const std::string l1 = R"({"epoch": 1, "images_per_s": 10, "phase": "float"})";
  const std::string l2 = R"({"epoch": 2, "images_per_s": 11, "phase": "float"})";
  const std::string c2 = R"({"epoch": 2, "phase": "float"})";  // l2 as the checkpoint keeps it
  auto log = [&] { return mpq::read_file(dir.file("log.jsonl"), "test"); };
  // Killed mid-line after the checkpoint of epoch 2 was logged: the cut line goes.
  dir.write("log.jsonl", l1 + "\n" + l2 + "\n" + R"({"epoch": 3, "ima)");
  { train::Trainer t(dir.file(""), true, -1, 0, {}, c2); }
  CHECK(log() == l1 + "\n" + l2 + "\n");
  // Killed after the checkpoint of epoch 2, before its line: the line is added.
  dir.write("log.jsonl", l1 + "\n");
  { train::Trainer t(dir.file(""), true, -1, 0, {}, c2); }
  CHECK(log() == l1 + "\n" + c2 + "\n");
  // A fresh run truncates; a resumed one without a checkpoint line keeps the complete lines.
  dir.write("log.jsonl", l1 + "\n" + "{\"epo");
  { train::Trainer t(dir.file(""), true, -1, 0, {}); }
  CHECK(log() == l1 + "\n");
  { train::Trainer t(dir.file(""), false, -1, 0, {}); }
  CHECK(log().empty());
}
