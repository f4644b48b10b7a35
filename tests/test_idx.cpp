#include "test_util.h"

#include <zlib.h>

#include "data/idx.h"
#include "temp_dir.h"

using namespace mpq;
using Catch::Matchers::Contains;

namespace {
std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::string& payload,
                      std::uint8_t type = 0x08) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (auto d : dims)
    for (int sh : {24, 16, 8, 0}) s.push_back(static_cast<char>((d >> sh) & 0xff));
  return s + payload;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  gzclose(f);
}

std::string pixels(std::size_t n) {
  std::string p(n, '\0');
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>(i * 7 % 256);
  return p;
}

// A tiny MNIST-layout folder with 3 train and 2 test images of 28x28.
void write_split(const test::TempDir& dir, const std::string& prefix, std::uint32_t n, bool gz,
                 const std::string& labels) {
  const std::string img = idx_bytes({n, 28, 28}, pixels(n * 784));
  const std::string lbl = idx_bytes({static_cast<std::uint32_t>(labels.size())}, labels);
  if (gz) {
    write_gz(dir.file(prefix + "-images-idx3-ubyte.gz"), img);
    write_gz(dir.file(prefix + "-labels-idx1-ubyte.gz"), lbl);
  } else {
    dir.write(prefix + "-images-idx3-ubyte", img);
    dir.write(prefix + "-labels-idx1-ubyte", lbl);
  }
}
}  // namespace

TEST_CASE("idx: reads gzipped and plain files", "[idx]") {
  test::TempDir dir;
  write_gz(dir.file("a.gz"), idx_bytes({2, 3}, "abcdef"));
  dir.write("a", idx_bytes({2, 3}, "abcdef"));
  for (const char* name : {"a.gz", "a"}) {
    const Tensor t = data::read_idx(dir.file(name));
    CHECK(t.shape() == Shape{2, 3});
    CHECK(t.dtype() == DType::u8);
    CHECK(t.to_vector<std::uint8_t>() == std::vector<std::uint8_t>{'a', 'b', 'c', 'd', 'e', 'f'});
  }
  write_split(dir, "train", 3, true, std::string("\x01\x09\x00", 3));
  write_split(dir, "t10k", 2, false, std::string("\x05\x02", 2));
  const auto train = data::load_mnist(dir.file(""), true);
  CHECK(train.images.shape() == Shape{3, 28, 28});
  CHECK(train.labels.dtype() == DType::i32);
  CHECK(train.labels.to_vector<std::int32_t>() == std::vector<std::int32_t>{1, 9, 0});
  CHECK(train.images.to_vector<std::uint8_t>()[785] == static_cast<std::uint8_t>(785 * 7 % 256));
  const auto test_split = data::load_mnist(dir.file(""), false);
  CHECK(test_split.images.shape() == Shape{2, 28, 28});
}

TEST_CASE("idx: malformed files give clear errors", "[idx]") {
  test::TempDir dir;
  CHECK_THROWS_WITH(data::read_idx(dir.file("nope")), Contains("not found") && Contains("nope"));
  dir.write("empty", "");
  CHECK_THROWS_WITH(data::read_idx(dir.file("empty")), Contains("truncated") && Contains("magic"));
  dir.write("magic", std::string("\x12\x34\x08\x01\x00\x00\x00\x01x", 9));
  CHECK_THROWS_WITH(data::read_idx(dir.file("magic")), Contains("not an IDX file"));
  dir.write("type", idx_bytes({1}, "xxxx", 0x0D));
  CHECK_THROWS_WITH(data::read_idx(dir.file("type")), Contains("element type 0xd"));
  dir.write("hdr", idx_bytes({2, 3}, "").substr(0, 6));
  CHECK_THROWS_WITH(data::read_idx(dir.file("hdr")), Contains("truncated header"));
  dir.write("short", idx_bytes({2, 3}, "abc"));
  CHECK_THROWS_WITH(data::read_idx(dir.file("short")),
                    Contains("truncated") && Contains("needs 6 bytes") && Contains("found 3"));
  write_gz(dir.file("short.gz"), idx_bytes({10, 28, 28}, pixels(5000)));
  CHECK_THROWS_WITH(data::read_idx(dir.file("short.gz")),
                    Contains("needs 7840 bytes") && Contains("found 5000"));
  // A gzip stream cut in the middle.
  write_gz(dir.file("full.gz"), idx_bytes({100, 28, 28}, pixels(78400)));
  {
    std::ifstream in(dir.file("full.gz"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    dir.write("cut.gz", bytes.substr(0, bytes.size() / 2));
  }
  CHECK_THROWS_WITH(data::read_idx(dir.file("cut.gz")), Contains("cut.gz"));
  dir.write("trailing", idx_bytes({2}, "abX"));
  CHECK_THROWS_WITH(data::read_idx(dir.file("trailing")), Contains("trailing bytes"));
}

TEST_CASE("idx: dataset-level checks", "[idx]") {
  test::TempDir dir;
  CHECK_THROWS_WITH(data::load_mnist(dir.file(""), true),
                    Contains("train-images-idx3-ubyte") && Contains("dataset-fashion-mnist"));
  write_split(dir, "train", 3, true, std::string("\x01\x02", 2));  // 3 images, 2 labels
  CHECK_THROWS_WITH(data::load_mnist(dir.file(""), true),
                    Contains("3 images") && Contains("2 labels"));
  write_split(dir, "t10k", 2, true, std::string("\x01\x0b", 2));  // label 11
  CHECK_THROWS_WITH(data::load_mnist(dir.file(""), false), Contains("label 11"));
}

TEST_CASE("idx: a header claiming more data than the file can hold is refused before allocating",
          "[idx]") {
  // Found by tests/fuzz/fuzz_idx: 16 bytes claiming 768 x 512 x 25720 (10 GB)
  // were allocated before the read failed.
  test::TempDir dir;
  dir.write("bomb.idx", idx_bytes({768, 512, 25720}, "dx"));
  CHECK_THROWS_WITH(data::read_idx(dir.file("bomb.idx")),
                    Contains("needs 10113515520 bytes of data, found 2"));
  // Gzipped, the bound is deflate's largest ratio (1032:1) times the file size.
  write_gz(dir.file("bomb.idx.gz"), idx_bytes({768, 512, 25720}, "dx"));
  CHECK_THROWS_WITH(data::read_idx(dir.file("bomb.idx.gz")),
                    Contains("more than the gzipped file of"));
  // A real gzipped file that compresses well still reads.
  write_gz(dir.file("zeros.idx.gz"), idx_bytes({1000, 100}, std::string(100000, '\0')));
  CHECK(data::read_idx(dir.file("zeros.idx.gz")).shape() == Shape{1000, 100});
}
