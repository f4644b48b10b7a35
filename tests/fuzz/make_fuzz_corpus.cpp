// Writes the seed corpora of the fuzz harnesses: a few small valid inputs of
// each format, written by mpq's own writers where it has them, so that the
// fuzzer starts from the structure and mutates from there.
//
//   make_fuzz_corpus DIR    (writes DIR/<harness>/<seed>)
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/npy.h"
#include "core/tensor.h"
#include "deploy/model_file.h"
#include "train/checkpoint.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

using namespace mpq;
namespace fs = std::filesystem;

namespace {

std::string root;

std::string file(const std::string& harness, const std::string& name) {
  fs::create_directories(root + "/" + harness);
  return root + "/" + harness + "/" + name;
}
void write(const std::string& harness, const std::string& name, const std::string& bytes) {
  std::ofstream(file(harness, name), std::ios::binary) << bytes;
}
std::vector<std::uint8_t> pixels(int n) {
  std::vector<std::uint8_t> p(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) p[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(k * 37);
  return p;
}
std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_corpus DIR\n");
    return 2;
  }
  root = argv[1];

  // .npy: each dtype mpq reads, a scalar, a zero-size shape, a hand-written
  // Fortran-order header (refused) and a version 2.0 header.
  save_npy(file("npy", "f32_2x3.npy"), from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  save_npy(file("npy", "f64_scalar.npy"), scalar_tensor(0.25, DType::f64));
  save_npy(file("npy", "i32_4.npy"), from_vector<std::int32_t>({-1, 0, 1, 7}, {4}));
  save_npy(file("npy", "i8_2x2.npy"), from_vector<std::int8_t>({-128, 127, 0, 1}, {2, 2}));
  save_npy(file("npy", "u8_0x3.npy"), empty({0, 3}, DType::u8));
  {
    std::string h = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1), }";
    h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
    h += '\n';
    write("npy", "fortran.npy",
          std::string("\x93NUMPY\x01\x00", 8) + char(h.size()) + '\0' + h + std::string(8, '\0'));
    std::string h2 = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }";
    h2.append((64 - (12 + h2.size() + 1) % 64) % 64, ' ');
    h2 += '\n';
    write(
        "npy", "v2.npy",
        std::string("\x93NUMPY\x02\x00", 8) + char(h2.size()) + std::string(3, '\0') + h2 + "abc");
  }

  // Checkpoints as mpq writes them (with their CRC).
  {
    train::Checkpoint c;
    c.tensors = {{"model.conv.weight", from_vector<float>({0.5f, -1, 2, 0}, {2, 2})},
                 {"model.bn.running_var", from_vector<double>({1}, {1})},
                 {"optim.slots", from_vector<std::uint8_t>({1, 0}, {2})},
                 {"n", from_vector<std::int32_t>({3}, {1})},
                 {"s", scalar_tensor(1.5)}};
    c.metadata = {{"phase", "quant"}, {"epoch", "1"}, {"model", "resnet20"}};
    train::save_checkpoint(file("checkpoint", "small.safetensors"), c);
    train::Checkpoint e;
    e.tensors = {{"z", empty({0}, DType::i8)}};
    train::save_checkpoint(file("checkpoint", "empty_tensor.safetensors"), e);
  }

  // Integer model files: a two-layer model with a residual add (uniform
  // grids, a quantized bias) and the same with power-of-two grids.
  {
    using namespace mpq::deploy;
    for (const bool pow2 : {false, true}) {
      IntegerModel m;
      m.model = "toy";
      m.source = "make_fuzz_corpus";
      m.input.channels = 1;
      m.input.height = m.input.width = 4;
      const Grid act = pow2 ? Grid{GridKind::pow2, false, true, 3, -2, 3}
                            : Grid{GridKind::uniform, false, true, 4, -3, 15};
      const Grid w = pow2 ? Grid{GridKind::pow2, true, false, 3, -4, 3}
                          : Grid{GridKind::uniform, true, true, 3, -2, 3};
      m.num_tensors = 3;
      m.tensor_names = {"input", "act1", "act2"};
      m.tensor_grids = {Grid{}, act, act};
      for (int k = 0; k < 2; ++k) {
        ConvNode c;
        c.name = "conv" + std::to_string(k + 1);
        c.input = k;
        c.output = k + 1;
        c.in_channels = k == 0 ? 1 : 2;
        c.out_channels = 2;
        c.kernel = 3;
        c.padding = 1;
        c.weight.shape = {2, c.in_channels, 3, 3};
        c.weight.grid = w;
        const std::vector<std::int32_t> lv = w.levels();
        for (std::int64_t i = 0; i < c.weight.numel(); ++i)
          c.weight.levels.push_back(lv[static_cast<std::size_t>(i * 7) % lv.size()]);
        c.scale = {0.5f, 1.25f};
        c.shift = {0.125f, -0.25f};
        if (k == 1) c.residual = Residual{1, 1, 0};
        c.out = act;
        c.out_name = m.tensor_names[static_cast<std::size_t>(k + 1)];
        m.convs.push_back(c);
      }
      m.head.input = 2;
      m.head.classes = 3;
      m.head.weight = WeightTensor{{3, 2}, w, {}, {}};
      for (int i = 0; i < 6; ++i)
        m.head.weight.levels.push_back(w.levels()[static_cast<std::size_t>(i) % w.levels().size()]);
      m.head.bias =
          WeightTensor{{3}, w, {w.levels().front(), w.levels().back(), w.levels()[1]}, {}};
      write("model", pow2 ? "pow2.mpqm" : "uniform.mpqm", serialize_model(m));
    }
  }

  // JSON: a config.json, a log.jsonl line, escapes and nesting.
  write(
      "json", "config.json",
      R"({"batch-size": "128", "epochs": "2", "lr": "0.02", "mode": "learned", "model": "resnet20"})");
  write(
      "json", "log_line.json",
      R"({"phase": "quant", "epoch": 1, "train_ce": 0.6931, "test_accuracy": 0.8991, "lr": 1e-3, "constraints_met": true, "bitwidths": {"conv1": 4.5}, "best": null})");
  write("json", "escapes.json",
        R"(["a\"b\\c\/\n\t\r\b\f", "\u00e9\u20ac", "\ud83d\ude00", -0.0, 12345678901234567])");
  write("json", "nested.json", R"([[[[{"a": [[], {}]}]]]])");

  // INI presets (harness section [e]).
  write("ini", "preset.ini",
        "# a preset\n; another comment\n[base]\nepochs = 3\n\n[e]\nmode = fixed\nwbits = 2\nabits "
        "= 4\n"
        "lr = 0.01\nschedule = multistep:10,20\nweight-target = none\n");
  write("ini", "learned.ini",
        "\xEF\xBB\xBF[e]\nmode = learned\nbits = 4\nparam = P3\nweight-target = 70.1\n"
        "act-max-target = auto\nlambda = 0.1\noptimizer = adam\nwarmup = 1.5\n");

  // IDX: a plain and a gzipped file of uint8 [3, 2, 2].
  {
    std::string idx = std::string("\0\0\x08\x03", 4) + be32(3) + be32(2) + be32(2);
    for (int k = 0; k < 12; ++k) idx += static_cast<char>(k * 20);
    write("idx", "images.idx", idx);
    write("idx", "labels.idx", std::string("\0\0\x08\x01", 4) + be32(4) + "\x01\x02\x03\x09");
    gzFile gz = gzopen(file("idx", "images.idx.gz").c_str(), "wb");
    gzwrite(gz, idx.data(), static_cast<unsigned>(idx.size()));
    gzclose(gz);
  }

  // CIFAR: two CIFAR-10 records (label + 3072 bytes) and one CIFAR-100 record.
  {
    const auto p = pixels(3072);
    const std::string img(p.begin(), p.end());
    write("cifar", "cifar10.bin", "\x03" + img + "\x09" + img);
    write("cifar", "cifar100.bin", std::string("\x02\x63", 2) + img);
  }

  // Images: PNGs of 1 to 4 channels and a JPEG.
  for (int comp = 1; comp <= 4; ++comp) {
    const auto p = pixels(4 * 3 * comp);
    stbi_write_png(file("image", "c" + std::to_string(comp) + ".png").c_str(), 4, 3, comp, p.data(),
                   4 * comp);
  }
  {
    const auto p = pixels(8 * 8 * 3);
    stbi_write_jpg(file("image", "rgb.jpg").c_str(), 8, 8, 3, p.data(), 90);
  }

  // Command lines, NUL between arguments.
  auto argv_seed = [](const std::vector<std::string>& words) {
    std::string s;
    for (std::size_t i = 0; i < words.size(); ++i) s += (i ? std::string(1, '\0') : "") + words[i];
    return s;
  };
  write("flags", "learned",
        argv_seed({"--epochs", "2", "--lr=0.02", "--bits", "4", "--param", "U3"}));
  write("flags", "fixed",
        argv_seed({"--mode", "fixed", "--wbits", "2", "--abits", "4", "--weight-target", "none",
                   "--schedule", "step:30"}));
  write("flags", "resume",
        argv_seed({"--resume", "--run-dir", "runs/x", "--threads", "2", "--device", "cuda:0",
                   "--seed", "7"}));
  write("flags", "targets",
        argv_seed({"--act-sum-target", "auto", "--quantize", "weights", "--optimizer", "adam",
                   "--warmup", "0.5"}));
  return 0;
}
