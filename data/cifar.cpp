#include "data/cifar.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace mpq::data {

namespace {

namespace fs = std::filesystem;

// The two record layouts: CIFAR-10 has one label byte (the class), CIFAR-100
// two (coarse, then fine).
struct Format {
  const char* op;  // names the caller in errors
  int label_bytes;
  int fine_classes;
  int coarse_classes;  // 0: no coarse label
  std::int64_t record_bytes() const { return label_bytes + kCifarImageBytes; }
};

constexpr Format kCifar10{"cifar10", 1, 10, 0};
constexpr Format kCifar100{"cifar100", 2, 100, 20};

// Size in bytes of one file, after checking that it holds whole records.
std::int64_t checked_record_count(const std::string& path, const Format& f) {
  std::error_code ec;
  const bool regular = fs::is_regular_file(path, ec);
  MPQ_CHECK(regular, f.op, ": file not found: '", path, "'");
  const auto bytes = static_cast<std::int64_t>(fs::file_size(path, ec));
  MPQ_CHECK(!ec, f.op, ": cannot read the size of '", path, "': ", ec.message());
  const std::int64_t rec = f.record_bytes();
  MPQ_CHECK(bytes > 0, f.op, ": ", path, ": empty file (expected ", rec, "-byte records)");
  MPQ_CHECK(bytes % rec == 0, f.op, ": ", path, ": wrong file size ", bytes,
            " bytes, not a multiple of the ", rec, "-byte record (", bytes / rec,
            " whole records, then a truncated record of ", bytes % rec, " bytes)");
  return bytes / rec;
}

// Reads the files in order into one split; every label is range-checked.
CifarSplit read_files(const std::vector<std::string>& paths, const Format& f) {
  std::vector<std::int64_t> counts;
  std::int64_t total = 0;
  for (const auto& p : paths) {
    counts.push_back(checked_record_count(p, f));
    total += counts.back();
  }
  CifarSplit out;
  out.images = empty({total, 3, 32, 32}, DType::u8);
  out.labels = empty({total}, DType::i32);
  if (f.coarse_classes > 0) out.coarse_labels = empty({total}, DType::i32);
  std::uint8_t* img = out.images.data<std::uint8_t>();
  std::int32_t* fine = out.labels.data<std::int32_t>();
  std::int32_t* coarse = f.coarse_classes > 0 ? out.coarse_labels.data<std::int32_t>() : nullptr;

  const std::int64_t rec = f.record_bytes();
  std::vector<std::uint8_t> buf;
  std::int64_t row = 0;
  for (std::size_t k = 0; k < paths.size(); ++k) {
    const std::string& path = paths[k];
    buf.resize(static_cast<std::size_t>(counts[k] * rec));
    std::ifstream in(path, std::ios::binary);
    MPQ_CHECK(in.good(), f.op, ": cannot open '", path, "'");
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    MPQ_CHECK(in.gcount() == static_cast<std::streamsize>(buf.size()), f.op, ": ", path, ": read ",
              in.gcount(), " of ", buf.size(), " bytes (file changed while reading?)");
    for (std::int64_t r = 0; r < counts[k]; ++r, ++row) {
      const std::uint8_t* p = buf.data() + r * rec;
      // CIFAR-100 records start with the coarse label; the fine one is last.
      const int fine_label = p[f.label_bytes - 1];
      MPQ_CHECK(fine_label < f.fine_classes, f.op, ": ", path, ": record ", r, " has label ",
                fine_label, ", outside [0, ", f.fine_classes, ")");
      fine[row] = fine_label;
      if (coarse) {
        MPQ_CHECK(p[0] < f.coarse_classes, f.op, ": ", path, ": record ", r, " has coarse label ",
                  int(p[0]), ", outside [0, ", f.coarse_classes, ")");
        coarse[row] = p[0];
      }
      std::memcpy(img + row * kCifarImageBytes, p + f.label_bytes, kCifarImageBytes);
    }
  }
  return out;
}

// `dir` itself, or its subfolder `folder` when that exists.
std::string resolve_folder(const std::string& dir, const char* folder, const Format& f) {
  std::error_code ec;
  const fs::path nested = fs::path(dir) / folder;
  if (fs::is_directory(nested, ec)) return nested.string();
  MPQ_CHECK(fs::is_directory(dir, ec), f.op, ": folder not found: '", dir, "' (expected the '",
            folder, "' folder of the binary version, or the folder that contains it)");
  return dir;
}

}  // namespace

CifarSplit read_cifar10_file(const std::string& path) {
  return read_files({path}, kCifar10);
}
CifarSplit read_cifar100_file(const std::string& path) {
  return read_files({path}, kCifar100);
}

CifarSplit load_cifar10(const std::string& dir, bool train) {
  const std::string root = resolve_folder(dir, "cifar-10-batches-bin", kCifar10);
  std::vector<std::string> paths;
  if (train) {
    for (int i = 1; i <= 5; ++i)
      paths.push_back((fs::path(root) / ("data_batch_" + std::to_string(i) + ".bin")).string());
  } else {
    paths.push_back((fs::path(root) / "test_batch.bin").string());
  }
  return read_files(paths, kCifar10);
}

CifarSplit load_cifar100(const std::string& dir, bool train) {
  const std::string root = resolve_folder(dir, "cifar-100-binary", kCifar100);
  return read_files({(fs::path(root) / (train ? "train.bin" : "test.bin")).string()}, kCifar100);
}

}  // namespace mpq::data
