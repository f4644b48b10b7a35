// The integer engine against fake-quant (deploy/engine.h, docs/integer.md):
// a small ResNet-20 trained for a few steps with learned quantizers (U3 and
// P3) is exported, and the engine's levels are compared with the fake-quant
// activations / step layer by layer, then the logits. Also the model file:
// round trips, size accounting, every grid's codes, and malformed files.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "data/transforms.h"
#include "deploy/compare.h"
#include "deploy/engine.h"
#include "deploy/export.h"
#include "deploy/model_file.h"
#include "deploy/pack.h"
#include "models/quantized.h"
#include "models/zoo.h"
#include "ops/cross_entropy.h"
#include "train/mixed_precision.h"
#include "train/optimizer.h"

using namespace mpq;
using namespace mpq::deploy;
using Catch::Matchers::Contains;

namespace {

// Random 28x28 uint8 images whose label is the brightest quadrant, so that a
// few steps of training move the weights, the batch-norm statistics and the
// quantizers away from their initial values.
struct Images {
  Tensor pixels;  // uint8 [N, 1, 28, 28]
  std::vector<std::int32_t> labels;
};

Images make_images(std::int64_t n, std::uint64_t seed) {
  Generator g(seed);
  Images im;
  im.pixels = empty({n, 1, 28, 28}, DType::u8);
  std::uint8_t* p = im.pixels.data<std::uint8_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    const auto bright = static_cast<std::int32_t>(g.below(4));
    for (std::int64_t y = 0; y < 28; ++y)
      for (std::int64_t x = 0; x < 28; ++x) {
        const std::int32_t q = (y >= 14 ? 2 : 0) + (x >= 14 ? 1 : 0);
        const std::uint64_t v = g.below(q == bright ? 256 : 128);
        p[(i * 28 + y) * 28 + x] = static_cast<std::uint8_t>(v);
      }
    im.labels.push_back(bright);
  }
  return im;
}

// Training's input: framed in 32x32, (p / 255 - 0.5) * 2.
Tensor net_input(const Tensor& pixels) {
  return data::normalize_pm1(data::to_float32(data::center_crop(pixels, 32, 32)));
}

std::shared_ptr<models::Module> trained_resnet(const models::QuantConfig& q,
                                               const std::string& model = "resnet20",
                                               int steps = 6) {
  models::ModelOptions o;
  o.in_channels = 1;
  o.num_classes = 4;
  o.seed = 5;
  o.quant = q;
  auto net = models::make_model(model, o);
  net->train();
  train::SgdOptions so;
  so.lr = 0.05;
  so.momentum = 0.9;
  std::vector<Tensor> params = net->model_parameters();
  for (const Tensor& q : net->quantizer_parameters()) params.push_back(q);
  train::Sgd opt(params, so);
  const Images im = make_images(96, 1);
  for (int step = 0; step < steps; ++step) {
    const std::int64_t b = (step % 3) * 32;
    const Tensor x = net_input(im.pixels.narrow(0, b, 32));
    const std::vector<std::int32_t> y(im.labels.begin() + b, im.labels.begin() + b + 32);
    opt.zero_grad();
    cross_entropy(net->forward(x), from_vector<std::int32_t>(y, {32})).backward();
    opt.step();
    train::clip_quantizer_parameters(*net);
  }
  net->eval();
  return net;
}

InputSpec one_channel() {
  return InputSpec::pm1(1);
}

// Runs both on `n` fresh images (deploy/compare.h).
Comparison compare(models::Module& net, const IntegerModel& m, std::int64_t n) {
  Engine engine(m);
  FakeQuantComparison cmp(net, engine);
  const Images im = make_images(n, 99);
  EngineOutput out;
  cmp.add(im.pixels.data<std::uint8_t>(), n, 1, 28, 28, im.labels, out);
  return cmp.result();
}

std::string describe(const Mismatch& m) {
  std::string s = std::to_string(m.differ()) + " of " + std::to_string(m.values()) +
                  " levels differ, at most " + std::to_string(m.max_steps()) + " steps (";
  for (const LayerMismatch& l : m.layers)
    if (l.differ) s += l.name + ": " + std::to_string(l.differ) + "; ";
  return s + ")";
}

void check_exact(const Comparison& c) {
  INFO("per layer: " << describe(c.per_layer));
  INFO("end to end: " << describe(c.end_to_end));
  // float32 rounding in fake-quant can only move a value that sits within
  // rounding error of a tie: rare, and by one step.
  CHECK(c.per_layer.fraction() <= 1e-4);
  CHECK(c.per_layer.max_steps() <= 1);
  CHECK(c.agree >= c.images - 1);
  CHECK(std::llabs(c.engine_correct - c.reference_correct) <= 1);
}

std::string with_crc(std::string bytes) {
  // Recomputes the trailing CRC-32 after an edit, so that the edit itself is
  // what the reader meets.
  bytes.resize(bytes.size() - 4);
  const auto crc = static_cast<std::uint32_t>(crc32(crc32(0L, Z_NULL, 0),
                                                    reinterpret_cast<const Bytef*>(bytes.data()),
                                                    static_cast<uInt>(bytes.size())));
  for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<char>((crc >> (8 * k)) & 0xff));
  return bytes;
}

}  // namespace

TEST_CASE("deploy: the engine equals fake-quant layer by layer (U3)", "[deploy][engine]") {
  auto net = trained_resnet(models::QuantConfig::learned(quant::Parametrization::U3, 4, 4));
  const IntegerModel m = lower_network(*net, "resnet20", one_channel());
  CHECK(m.convs.size() == 19);
  CHECK(m.num_tensors == 20);
  const Comparison c = compare(*net, m, 48);
  check_exact(c);
  // Uniform grids: a one-step difference rarely moves the next layer, so the
  // engine's own levels stay as close all the way.
  CHECK(c.end_to_end.fraction() <= 1e-4);
  CHECK(c.max_logit_diff < 0.05);
}

TEST_CASE("deploy: the engine equals fake-quant layer by layer (power of two)",
          "[deploy][engine]") {
  // Power-of-two grids learning q_max at 3 bits (the paper's baseline): the
  // weights span 2^0..2^3 steps, within int8. (A learned P3 grid may grow
  // beyond 2^6 steps, which int8 weights cannot hold; export refuses it.)
  models::QuantConfig q;
  q.weights = {models::QuantMode::learn_qmax, quant::Parametrization::P3, 3};
  q.activations = {models::QuantMode::learn_qmax, quant::Parametrization::P3, 3};
  auto net = trained_resnet(q);
  const IntegerModel m = lower_network(*net, "resnet20", one_channel());
  CHECK(m.convs.front().weight.grid.kind == GridKind::pow2);
  CHECK(m.tensor_grids[1].kind == GridKind::pow2);
  const Comparison c = compare(*net, m, 32);
  check_exact(c);
}

TEST_CASE("deploy: the deeper CIFAR ResNets export and run", "[deploy][engine]") {
  // resnet32 and resnet56: the same graph with more blocks per stage.
  for (const char* name : {"resnet32", "resnet56"}) {
    auto net =
        trained_resnet(models::QuantConfig::learned(quant::Parametrization::U2, 4, 4), name, 1);
    const IntegerModel m = lower_network(*net, name, one_channel());
    CHECK(m.convs.size() == (std::string(name) == "resnet32" ? 31u : 55u));
    check_exact(compare(*net, m, 4));
  }
}

TEST_CASE("deploy: throughput mode and layer-by-layer mode give the same logits",
          "[deploy][engine]") {
  // Two threads and 40 images: chunks of Engine::kChunk on each thread
  // (the last one short); keep_levels forces every thread into each layer.
  auto net = trained_resnet(models::QuantConfig::learned(quant::Parametrization::U3, 4, 4));
  Engine engine(lower_network(*net, "resnet20", one_channel()));
  const int threads = num_threads();
  set_num_threads(2);
  const Images im = make_images(2 * 2 * Engine::kChunk + 3, 8);
  const std::int64_t n = im.pixels.shape()[0];
  EngineOutput chunked, layered;
  engine.run(im.pixels.data<std::uint8_t>(), n, 1, 28, 28, chunked);
  engine.run(im.pixels.data<std::uint8_t>(), n, 1, 28, 28, layered, true);
  // The convolutions alone (the bench's roofline) on chunks whose buffers
  // the last partial chunk left short (ASan checks the reads).
  engine.run(im.pixels.data<std::uint8_t>(), n, 1, 28, 28, chunked);
  engine.run_convolutions_only(n);
  engine.run_convolutions_only(3);
  set_num_threads(threads);
  CHECK(chunked.levels.empty());
  CHECK(chunked.logits == layered.logits);
}

TEST_CASE("deploy: projection shortcuts (option B) equal fake-quant", "[deploy][engine]") {
  models::ModelOptions o;
  o.in_channels = 1;
  o.num_classes = 4;
  o.seed = 6;
  o.shortcut = models::Shortcut::B;
  o.quant = models::QuantConfig::learned(quant::Parametrization::U3, 4, 4);
  auto net = models::make_model("resnet20", o);
  net->eval();
  const IntegerModel m = lower_network(*net, "resnet20", one_channel());
  int projections = 0;
  for (const ConvNode& c : m.convs) projections += c.projection ? 1 : 0;
  CHECK(projections == 2);
  check_exact(compare(*net, m, 8));
  // The model file keeps them.
  CHECK(serialize_model(parse_model_file(serialize_model(m), "m")) == serialize_model(m));
}

TEST_CASE("deploy: ResNet-18 (ImageNet scaling, max pool, downsample) equals fake-quant",
          "[deploy][engine]") {
  // 32x32 inputs keep it small: 16x16 after the stem, 8x8 after the pool,
  // 1x1 in the last stage. Per-channel means and stds: the stem runs one
  // convolution per input channel.
  models::ModelOptions o;
  o.in_channels = 3;
  o.num_classes = 5;
  o.seed = 2;
  o.quant = models::QuantConfig::learned(quant::Parametrization::U3, 4, 4);
  auto net = models::make_model("resnet18", o);
  net->train();
  {
    // A few forward passes in training mode: batch-norm statistics that are
    // not the identity.
    Generator g(4);
    for (int i = 0; i < 3; ++i) {
      std::vector<std::uint8_t> px(4 * 3 * 32 * 32);
      for (auto& p : px) p = static_cast<std::uint8_t>(g.below(256));
      const Tensor x =
          data::normalize(data::to_float32(from_vector<std::uint8_t>(px, {4, 3, 32, 32})),
                          {255.0f * 0.485f, 255.0f * 0.456f, 255.0f * 0.406f},
                          {255.0f * 0.229f, 255.0f * 0.224f, 255.0f * 0.225f});
      net->forward(x);
    }
  }
  net->eval();
  const IntegerModel m = lower_network(*net, "resnet18", InputSpec::imagenet(32));
  CHECK(m.pools.size() == 1);
  CHECK(m.convs.size() == 17);
  Engine engine(m);
  FakeQuantComparison cmp(*net, engine);
  Generator g(9);
  std::vector<std::uint8_t> px(6 * 3 * 32 * 32);
  for (auto& p : px) p = static_cast<std::uint8_t>(g.below(256));
  EngineOutput out;
  cmp.add(px.data(), 6, 3, 32, 32, {}, out);
  check_exact(cmp.result());
  CHECK(cmp.result().per_layer.values() ==
        6 * (64 * 16 * 16 + 4 * 64 * 8 * 8 + 4 * 128 * 4 * 4 + 4 * 256 * 2 * 2 + 4 * 512 * 1 * 1));
  CHECK(serialize_model(parse_model_file(serialize_model(m), "m")) == serialize_model(m));
}

TEST_CASE("deploy: residual adds align steps by exact shifts", "[deploy][engine]") {
  // One 1x1 conv whose output step is half the residual's: y = 1 * x * w +
  // residual, checked against the rule written out by hand.
  IntegerModel m;
  m.model = "toy";
  m.input = one_channel();
  m.input.height = m.input.width = 2;
  m.input.mean = {0};
  m.input.std = {1};  // the stem reads pixels as they are
  Grid a;             // unsigned uniform, step 2^-1 (pixels fit the first layer's grid)
  a.bits = 8;
  a.top = 255;
  a.step_exp = 0;
  Grid out = a;
  out.step_exp = -1;
  m.num_tensors = 3;
  m.tensor_names = {"input", "a", "b"};
  m.tensor_grids = {Grid{}, a, out};
  auto conv = [&](int in, int o, int w_level, int w_exp, std::optional<Residual> r) {
    ConvNode c;
    c.name = "conv" + std::to_string(o);
    c.input = in;
    c.output = o;
    c.in_channels = c.out_channels = 1;
    c.kernel = 1;
    c.padding = 0;
    c.weight.shape = {1, 1, 1, 1};
    c.weight.grid = Grid{GridKind::uniform, true, true, 8, w_exp, 127};
    c.weight.levels = {w_level};
    c.scale = {1.0f};
    c.shift = {0.0f};
    c.out = m.tensor_grids[static_cast<std::size_t>(o)];
    c.residual = r;
    return c;
  };
  m.convs.push_back(conv(0, 1, 1, 0, std::nullopt));  // a = pixels
  // b = a * 3 * 2^-2 + a, onto steps of 1/2: level round(2 (0.75 a + a)) = round(3.5 a)
  m.convs.push_back(conv(1, 2, 3, -2, Residual{1, 1, 0}));
  m.head.input = 2;
  m.head.classes = 1;
  m.head.weight = WeightTensor{{1, 1}, Grid{GridKind::uniform, true, true, 2, 0, 1}, {1}, {}};
  Engine e(m);
  const std::vector<std::uint8_t> px{0, 1, 3, 40};
  EngineOutput o;
  e.run(px.data(), 1, 1, 2, 2, o, true);
  // 3.5 a: 0, 3.5 -> 4, 10.5 -> 11, 140; saturating at 255 beyond.
  CHECK(o.levels[2] == std::vector<std::uint8_t>{0, 4, 11, 140});
  // logits = 2^(0 - 1) / 4 * sum of levels
  CHECK(o.logits[0] == (0 + 4 + 11 + 140) / 8.0);
}

TEST_CASE("deploy: the model file round-trips and accounts for every byte", "[deploy][file]") {
  auto net = trained_resnet(models::QuantConfig::learned(quant::Parametrization::U3, 4, 4));
  IntegerModel m = lower_network(*net, "resnet20", one_channel());
  m.source = "test";
  ModelFileSizes sizes;
  const std::string bytes = serialize_model(m, &sizes);
  CHECK(sizes.total() == static_cast<std::int64_t>(bytes.size()));
  // Packed at the learned bitwidths: sum of ceil(count * bits / 8).
  std::int64_t packed = static_cast<std::int64_t>(
      packed_size(m.head.weight.numel(), m.head.weight.grid.bits) +
      (m.head.bias ? packed_size(m.head.bias->numel(), m.head.bias->grid.bits) : 0));
  std::int64_t channels = 0;
  for (const ConvNode& c : m.convs) {
    packed += static_cast<std::int64_t>(packed_size(c.weight.numel(), c.weight.grid.bits));
    channels += c.out_channels;
  }
  CHECK(sizes.packed_weights == packed);
  CHECK(sizes.per_channel == 8 * channels);
  CHECK(sizes.header < 4096);

  ModelFileSizes read_sizes;
  const IntegerModel r = parse_model_file(bytes, "model", &read_sizes);
  CHECK(read_sizes.packed_weights == sizes.packed_weights);
  CHECK(serialize_model(r) == bytes);
  REQUIRE(r.convs.size() == m.convs.size());
  for (std::size_t k = 0; k < m.convs.size(); ++k) {
    CHECK(r.convs[k].weight.levels == m.convs[k].weight.levels);
    CHECK(r.convs[k].scale == m.convs[k].scale);
    CHECK(r.convs[k].out.top == m.convs[k].out.top);
  }
  // The engine on the file's model gives the same logits.
  const Images im = make_images(8, 4);
  EngineOutput a, b;
  Engine(m).run(im.pixels.data<std::uint8_t>(), 8, 1, 28, 28, a);
  Engine(r).run(im.pixels.data<std::uint8_t>(), 8, 1, 28, 28, b);
  CHECK(a.logits == b.logits);
}

TEST_CASE("deploy: every grid's levels round-trip through their codes", "[deploy][file]") {
  for (int bits = 2; bits <= 8; ++bits)
    for (bool is_signed : {true, false}) {
      Grid u{GridKind::uniform,
             is_signed,
             true,
             bits,
             0,
             is_signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1};
      const auto lv = u.levels();
      const auto codes = codes_of_levels(u, lv);
      const auto packed = pack_codes(codes, bits, is_signed);
      CHECK(levels_of_codes(u, unpack_codes(packed, static_cast<std::int64_t>(codes.size()), bits,
                                            is_signed)) == lv);
      for (bool zero : {true, false}) {
        // The largest K whose levels fit b bits.
        int k = 0;
        while (static_cast<int>(
                   Grid{GridKind::pow2, is_signed, zero, bits, 0, k + 1}.levels().size()) <=
                   (1 << bits) &&
               k + 1 <= 7)
          ++k;
        const Grid p{GridKind::pow2, is_signed, zero, bits, -3, k};
        const auto pl = p.levels();
        const auto pc = codes_of_levels(p, pl);
        CHECK(levels_of_codes(p, unpack_codes(pack_codes(pc, bits, false),
                                              static_cast<std::int64_t>(pc.size()), bits, false)) ==
              pl);
      }
    }
  Grid g{GridKind::uniform, true, true, 3, 0, 3};
  CHECK_THROWS_WITH(codes_of_levels(g, {4}), Contains("not on the grid"));
  CHECK_THROWS_WITH(Grid({GridKind::uniform, true, true, 3, 0, 4}).check("w", false),
                    Contains("do not fit 3 bits"));
  CHECK_THROWS_WITH(Grid({GridKind::pow2, true, false, 4, 0, 7}).check("w", false),
                    Contains("do not fit the engine's int8"));
}

TEST_CASE("deploy: corrupt, truncated and foreign model files are refused", "[deploy][file]") {
  auto net = trained_resnet(models::QuantConfig::learned(quant::Parametrization::U3, 4, 4));
  const std::string good = serialize_model(lower_network(*net, "resnet20", one_channel()));
  CHECK_THROWS_WITH(parse_model_file("", "f"), Contains("too short"));
  CHECK_THROWS_WITH(parse_model_file(good.substr(0, 10), "f"), Contains("too short"));
  for (const std::size_t cut : {std::size_t{20}, good.size() / 2, good.size() - 1})
    CHECK_THROWS_WITH(parse_model_file(good.substr(0, cut), "f"), Contains("CRC-32 mismatch"));
  std::string foreign = good;
  foreign[0] = 'X';
  CHECK_THROWS_WITH(parse_model_file(foreign, "f"), Contains("not an mpq model file"));
  std::string version = good;
  version[8] = 9;
  CHECK_THROWS_WITH(parse_model_file(version, "f"), Contains("format version 9"));
  std::string flipped = good;
  flipped[good.size() - 100] ^= 0x10;
  CHECK_THROWS_WITH(parse_model_file(flipped, "f"), Contains("CRC-32 mismatch"));
  // Valid CRCs around broken contents: the reader's own checks.
  std::string extra = good;
  extra.insert(extra.size() - 4, "abc");
  CHECK_THROWS_WITH(parse_model_file(with_crc(extra), "f"), Contains("3 bytes after the last"));
  std::string shortdata = good;
  shortdata.erase(shortdata.size() - 10, 6);
  CHECK_THROWS_WITH(parse_model_file(with_crc(shortdata), "f"), Contains("left"));
  auto edit_header = [&](const std::string& from, const std::string& to) {
    std::string b = good;
    const std::size_t at = b.find(from);
    REQUIRE(at != std::string::npos);
    REQUIRE(from.size() == to.size());  // the header length stays right
    b.replace(at, from.size(), to);
    return with_crc(b);
  };
  CHECK_THROWS_WITH(parse_model_file(edit_header("\"format\"", "\"furmat\""), "f"),
                    Contains("no field 'format'"));
  CHECK_THROWS_WITH(parse_model_file(edit_header("[1, 32, 32,", "[1, 32, 3x,"), "f"),
                    Contains("not valid JSON"));
  CHECK_THROWS_WITH(parse_model_file(edit_header("[1, 32, 32,", "[0, 32, 32,"), "f"),
                    Contains("input channels"));
  CHECK_THROWS_WITH(
      parse_model_file(edit_header("\"conv1\", 0, 1, 1, 16", "\"conv1\", 0, 1, 2, 16"), "f"),
      Contains("input channels"));
  CHECK_THROWS_WITH(load_model_file("/nonexistent/model.mpqm"), Contains("cannot open"));
  // A graph whose activations would not fit memory is refused before any exist.
  IntegerModel huge = parse_model_file(good, "f");
  huge.input.height = huge.input.width = 4096;
  CHECK_THROWS_WITH(huge.check(), Contains("256 MiB"));
}

TEST_CASE("deploy: export refuses what the engine cannot run", "[deploy]") {
  models::ModelOptions o;
  o.in_channels = 1;
  o.quant.weights = {models::QuantMode::learned, quant::Parametrization::U3, 4};
  auto weights_only = models::make_model("resnet20", o);
  CHECK_THROWS_WITH(lower_network(*weights_only, "resnet20", one_channel()),
                    Contains("activation act1 stays float"));
  o.quant = models::QuantConfig::learned(quant::Parametrization::U3, 4, 4);
  o.in_channels = 3;
  auto mobilenet = models::make_model("mobilenet_v2", o);
  CHECK_THROWS_WITH(lower_network(*mobilenet, "mobilenet_v2", InputSpec::imagenet(224)),
                    Contains("linear bottleneck"));
  CHECK_THROWS_WITH(lower_network(*mobilenet, "lenet5", InputSpec::imagenet(224)),
                    Contains("has graphs for resnet20"));
  o.in_channels = 1;
  // A float network lowers for the float ONNX export only.
  {
    models::ModelOptions fo;
    fo.in_channels = 1;
    auto float_net = models::make_model("resnet20", fo);
    const IntegerModel fm = lower_network(*float_net, "resnet20", one_channel(), true);
    CHECK(fm.float_network);
    CHECK(fm.convs.front().weight.values.size() == 16 * 9);
    CHECK_THROWS_WITH(Engine(fm), Contains("float network"));
    CHECK_THROWS_WITH(serialize_model(fm), Contains("float network"));
    CHECK_THROWS_WITH(lower_network(*float_net, "resnet20", one_channel()),
                      Contains("has float weights"));
  }
  // P3 weights at 4 bits span 2^0..2^7 steps: 128 does not fit int8.
  o.shortcut = models::Shortcut::A;
  o.quant = models::QuantConfig::learned(quant::Parametrization::P3, 4, 4);
  auto wide = models::make_model("resnet20", o);
  CHECK_THROWS_WITH(lower_network(*wide, "resnet20", one_channel()),
                    Contains("do not fit the engine's int8"));
}
