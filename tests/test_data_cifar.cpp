#include "test_util.h"

#include <filesystem>

#include "data/cifar.h"
#include "data/idx.h"
#include "temp_dir.h"

using namespace mpq;
using Catch::Matchers::Contains;

namespace {

// The pixel byte k (0..3071, planar R, G, B) of the test image `id`.
std::uint8_t pixel(int id, int k) {
  return static_cast<std::uint8_t>((k * 7 + id * 31) % 256);
}

std::string image_bytes(int id) {
  std::string s(3072, '\0');
  for (int k = 0; k < 3072; ++k) s[static_cast<std::size_t>(k)] = static_cast<char>(pixel(id, k));
  return s;
}

// CIFAR-10 records: label byte + pixels.
std::string cifar10_records(const std::vector<std::pair<int, int>>& label_and_id) {
  std::string s;
  for (auto [label, id] : label_and_id) s += static_cast<char>(label) + image_bytes(id);
  return s;
}

// CIFAR-100 records: coarse byte, fine byte, pixels.
std::string cifar100_records(const std::vector<std::array<int, 3>>& coarse_fine_id) {
  std::string s;
  for (auto [coarse, fine, id] : coarse_fine_id)
    s += std::string{static_cast<char>(coarse), static_cast<char>(fine)} + image_bytes(id);
  return s;
}

// Checks that row `row` of images holds test image `id` in [3, 32, 32] order.
void check_image(const Tensor& images, std::int64_t row, int id) {
  const std::uint8_t* p = images.data<std::uint8_t>() + row * 3072;
  int mismatches = 0;
  for (int k = 0; k < 3072; ++k) mismatches += p[k] != pixel(id, k);
  INFO("row " << row << ", image " << id);
  CHECK(mismatches == 0);
}

// A cifar-10-batches-bin folder with two records per training batch (ids
// 10 b + r, label (b + r) % 10) and three test records.
std::string write_cifar10(const test::TempDir& dir) {
  const std::string root = dir.file("cifar-10-batches-bin");
  std::filesystem::create_directories(root);
  for (int b = 1; b <= 5; ++b)
    dir.write("cifar-10-batches-bin/data_batch_" + std::to_string(b) + ".bin",
              cifar10_records({{b % 10, 10 * b}, {(b + 1) % 10, 10 * b + 1}}));
  dir.write("cifar-10-batches-bin/test_batch.bin", cifar10_records({{9, 100}, {0, 101}, {3, 102}}));
  return root;
}

}  // namespace

TEST_CASE("data: CIFAR-10 binary batches, pixels and labels", "[data][cifar]") {
  test::TempDir dir;
  const std::string root = write_cifar10(dir);
  // Both the folder itself and the folder that contains it are accepted.
  for (const std::string& d : {root, dir.file("")}) {
    const auto train = data::load_cifar10(d, true);
    REQUIRE(train.images.shape() == Shape{10, 3, 32, 32});
    CHECK(train.images.dtype() == DType::u8);
    CHECK(train.labels.dtype() == DType::i32);
    CHECK_FALSE(train.coarse_labels.defined());
    CHECK(train.labels.to_vector<std::int32_t>() ==
          std::vector<std::int32_t>{1, 2, 2, 3, 3, 4, 4, 5, 5, 6});
    for (int b = 1; b <= 5; ++b) {
      check_image(train.images, 2 * (b - 1), 10 * b);
      check_image(train.images, 2 * (b - 1) + 1, 10 * b + 1);
    }
    const auto test_split = data::load_cifar10(d, false);
    REQUIRE(test_split.images.shape() == Shape{3, 3, 32, 32});
    CHECK(test_split.labels.to_vector<std::int32_t>() == std::vector<std::int32_t>{9, 0, 3});
    check_image(test_split.images, 2, 102);
  }
  // Channel planes: element [n, c, y, x] is pixel byte c * 1024 + y * 32 + x.
  const auto one = data::read_cifar10_file(root + "/test_batch.bin");
  const auto v = one.images.to_vector<std::uint8_t>();
  CHECK(v[(1 * 3 + 2) * 1024 + 5 * 32 + 7] == pixel(101, 2 * 1024 + 5 * 32 + 7));
}

TEST_CASE("data: CIFAR-100 binary, fine and coarse labels", "[data][cifar]") {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("cifar-100-binary"));
  dir.write("cifar-100-binary/train.bin", cifar100_records({{19, 99, 1}, {0, 0, 2}, {7, 42, 3}}));
  dir.write("cifar-100-binary/test.bin", cifar100_records({{3, 57, 4}}));
  const auto train = data::load_cifar100(dir.file(""), true);
  REQUIRE(train.images.shape() == Shape{3, 3, 32, 32});
  CHECK(train.labels.to_vector<std::int32_t>() == std::vector<std::int32_t>{99, 0, 42});
  REQUIRE(train.coarse_labels.defined());
  CHECK(train.coarse_labels.to_vector<std::int32_t>() == std::vector<std::int32_t>{19, 0, 7});
  for (int r = 0; r < 3; ++r) check_image(train.images, r, r + 1);
  const auto test_split = data::load_cifar100(dir.file("cifar-100-binary"), false);
  CHECK(test_split.labels.to_vector<std::int32_t>() == std::vector<std::int32_t>{57});
  check_image(test_split.images, 0, 4);
}

TEST_CASE("data: malformed CIFAR files give clear errors", "[data][cifar]") {
  test::TempDir dir;
  SECTION("missing folder") {
    CHECK_THROWS_WITH(
        data::load_cifar10(dir.file("nowhere"), true),
        Contains("folder not found") && Contains("nowhere") && Contains("cifar-10-batches-bin"));
    CHECK_THROWS_WITH(data::load_cifar100(dir.file("nowhere"), false),
                      Contains("folder not found") && Contains("cifar-100-binary"));
  }
  SECTION("missing file") {
    const std::string root = write_cifar10(dir);
    std::filesystem::remove(root + "/data_batch_3.bin");
    CHECK_THROWS_WITH(data::load_cifar10(root, true),
                      Contains("file not found") && Contains("data_batch_3.bin"));
    CHECK_NOTHROW(data::load_cifar10(root, false));
    CHECK_THROWS_WITH(data::load_cifar100(root, true),
                      Contains("file not found") && Contains("train.bin"));
  }
  SECTION("truncated record / wrong file size") {
    const std::string root = write_cifar10(dir);
    dir.write("cifar-10-batches-bin/test_batch.bin",
              cifar10_records({{1, 1}, {2, 2}}) + std::string(100, 'x'));
    CHECK_THROWS_WITH(data::load_cifar10(root, false),
                      Contains("test_batch.bin") && Contains("wrong file size 6246") &&
                          Contains("3073-byte record") && Contains("truncated record of 100"));
    dir.write("t100.bin", cifar100_records({{1, 1, 1}}).substr(0, 3073));
    CHECK_THROWS_WITH(data::read_cifar100_file(dir.file("t100.bin")),
                      Contains("t100.bin") && Contains("3074-byte record"));
    dir.write("empty.bin", "");
    CHECK_THROWS_WITH(data::read_cifar10_file(dir.file("empty.bin")),
                      Contains("empty.bin") && Contains("empty file"));
  }
  SECTION("label outside the class range") {
    const std::string root = write_cifar10(dir);
    dir.write("cifar-10-batches-bin/data_batch_2.bin", cifar10_records({{3, 1}, {10, 2}}));
    CHECK_THROWS_WITH(data::load_cifar10(root, true),
                      Contains("data_batch_2.bin") && Contains("record 1") &&
                          Contains("label 10") && Contains("[0, 10)"));
    dir.write("fine.bin", cifar100_records({{1, 1, 1}, {2, 2, 2}, {3, 100, 3}}));
    CHECK_THROWS_WITH(data::read_cifar100_file(dir.file("fine.bin")),
                      Contains("fine.bin") && Contains("record 2") && Contains("label 100") &&
                          Contains("[0, 100)"));
    dir.write("coarse.bin", cifar100_records({{20, 5, 1}}));
    CHECK_THROWS_WITH(data::read_cifar100_file(dir.file("coarse.bin")),
                      Contains("record 0") && Contains("coarse label 20") && Contains("[0, 20)"));
  }
}

namespace {
std::string idx_header(const std::vector<std::uint32_t>& dims) {
  std::string s = {0, 0, 0x08, static_cast<char>(dims.size())};
  for (auto d : dims)
    for (int sh : {24, 16, 8, 0}) s.push_back(static_cast<char>((d >> sh) & 0xff));
  return s;
}
}  // namespace

TEST_CASE("data: load_mnist checks the image dimensions", "[data][idx]") {
  test::TempDir dir;
  dir.write("train-labels-idx1-ubyte", idx_header({2}) + std::string("\x01\x02", 2));
  dir.write("train-images-idx3-ubyte", idx_header({2, 27, 28}) + std::string(2 * 27 * 28, 'a'));
  CHECK_THROWS_WITH(data::load_mnist(dir.file(""), true), Contains("train-images-idx3-ubyte") &&
                                                              Contains("expected 28x28") &&
                                                              Contains("[2, 27, 28]"));
  dir.write("train-images-idx3-ubyte", idx_header({2, 784}) + std::string(2 * 784, 'a'));
  CHECK_THROWS_WITH(data::load_mnist(dir.file(""), true), Contains("expected images [N, H, W]"));
  dir.write("train-images-idx3-ubyte", idx_header({0, 28, 28}));
  dir.write("train-labels-idx1-ubyte", idx_header({0}));
  CHECK_THROWS_WITH(data::load_mnist(dir.file(""), true), Contains("no images"));
  dir.write("train-images-idx3-ubyte", idx_header({2, 28, 28}) + std::string(2 * 784, 'a'));
  dir.write("train-labels-idx1-ubyte", idx_header({2, 1}) + std::string("\x01\x02", 2));
  CHECK_THROWS_WITH(data::load_mnist(dir.file(""), true),
                    Contains("train-labels-idx1-ubyte") && Contains("expected labels [N]"));
}
