#include "core/file_io.h"
#include "test_util.h"

#include <fstream>
#include <sstream>

#include "core/npy.h"
#include "temp_dir.h"

using namespace mpq;
using Catch::Matchers::Contains;

TEST_CASE("npy: round trip of every dtype and rank", "[npy]") {
  test::TempDir dir;
  const std::vector<Tensor> tensors = {test::rand_f32({2, 3, 4}, 1),
                                       test::rand_f64({5}, 2),
                                       from_vector<std::int32_t>({-7, 0, 9}, {3, 1}),
                                       from_vector<std::int8_t>({-128, 127}, {2}),
                                       from_vector<std::uint8_t>({0, 255, 3, 4}, {2, 2}),
                                       scalar_tensor(3.5, DType::f64),
                                       zeros({0, 3})};
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string path = dir.file(std::to_string(i).append(".npy"));
    save_npy(path, tensors[i]);
    const Tensor back = load_npy(path);
    CHECK(back.shape() == tensors[i].shape());
    CHECK(back.dtype() == tensors[i].dtype());
    CHECK(back.to_vector<double>() == tensors[i].to_vector<double>());
    // The data starts on a 64-byte boundary, as NumPy writes it.
    CHECK((mpq::read_file(path, "test").size() - back.numel() * dtype_size(back.dtype())) % 64 ==
          0);
  }
  // Non-contiguous input is written in logical order.
  save_npy(dir.file("t.npy"), from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}).t());
  CHECK(load_npy(dir.file("t.npy")).to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
}

TEST_CASE("npy: malformed files give clear errors", "[npy]") {
  test::TempDir dir;
  save_npy(dir.file("ok.npy"), test::rand_f32({4, 4}, 1));
  const std::string good = mpq::read_file(dir.file("ok.npy"), "test");
  CHECK_THROWS_WITH(load_npy(dir.file("missing.npy")),
                    Contains("cannot open") && Contains("missing.npy"));
  dir.write("magic.npy", "PK\x03\x04 not numpy at all");
  CHECK_THROWS_WITH(load_npy(dir.file("magic.npy")), Contains("bad magic"));
  dir.write("short_header.npy", good.substr(0, 30));
  CHECK_THROWS_WITH(load_npy(dir.file("short_header.npy")), Contains("truncated header"));
  dir.write("short_data.npy", good.substr(0, good.size() - 5));
  CHECK_THROWS_WITH(load_npy(dir.file("short_data.npy")),
                    Contains("truncated data") && Contains("[4, 4]"));
  std::string big_endian = good;
  big_endian[big_endian.find("<f4")] = '>';
  dir.write("be.npy", big_endian);
  CHECK_THROWS_WITH(load_npy(dir.file("be.npy")), Contains("unsupported dtype '>f4'"));
  std::string fortran = good;
  const std::string true_ = "True ";  // same length as False: the header size stays
  std::copy(true_.begin(), true_.end(),
            fortran.begin() + static_cast<std::ptrdiff_t>(fortran.find("False")));
  dir.write("f.npy", fortran);
  CHECK_THROWS_WITH(load_npy(dir.file("f.npy")), Contains("Fortran"));
}

// Helpers for hand-made headers: v1 (2-byte length) or v2 (4-byte length).
static std::string npy_with_header(const std::string& dict, int major, const std::string& data) {
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  const std::size_t n = dict.size();
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + dict + data;
}

TEST_CASE("npy: hostile headers are refused before anything is allocated (issue 14)", "[npy]") {
  test::TempDir dir;
  // "(2 2,)" was read as [22]: digits separated by a space are not one number.
  dir.write("space.npy",
            npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2 2,), }\n", 1,
                            std::string(88, '\0')));
  CHECK_THROWS_WITH(load_npy(dir.file("space.npy")), Contains("malformed shape (2 2,)"));
  // A v2 header that claims 4 GB in a file of a few bytes: refused at once.
  std::string huge =
      std::string("\x93NUMPY\x02\x00", 8) + std::string("\x00\x00\x00\xff", 4) + "{'descr'";
  dir.write("huge_header.npy", huge);
  CHECK_THROWS_WITH(load_npy(dir.file("huge_header.npy")),
                    Contains("truncated header") && Contains("4278190080 bytes announced"));
  // Data that the header claims but the file lacks: refused before allocating it.
  dir.write(
      "huge_data.npy",
      npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }\n", 1,
                      std::string(16, '\0')));
  CHECK_THROWS_WITH(load_npy(dir.file("huge_data.npy")),
                    Contains("truncated data") && Contains("[100000, 100000]"));
  // A zero dimension with huge others: no overflow (UBSan found one in the strides), a refusal.
  dir.write("zero_dim.npy",
            npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 1099511627775, "
                            "1099511627775), }\n",
                            1, ""));
  CHECK_THROWS_WITH(load_npy(dir.file("zero_dim.npy")), Contains("too large"));
  // A legitimate empty array still loads.
  dir.write(
      "empty.npy",
      npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }\n", 1, ""));
  CHECK(load_npy(dir.file("empty.npy")).shape() == Shape{0, 3});
}

TEST_CASE("npy: zero-size shapes round trip whatever their other dimensions", "[npy]") {
  // Found by tests/fuzz/fuzz_npy: [1, 0] without data bytes was refused as
  // truncated (the size check stopped at the 1 before seeing the 0).
  test::TempDir dir;
  for (const Shape& shape : {Shape{1, 0}, Shape{7, 0, 3}, Shape{0}}) {
    INFO(shape_str(shape));
    save_npy(dir.file("z.npy"), empty(shape, DType::f32));
    const Tensor back = load_npy(dir.file("z.npy"));
    CHECK(back.shape() == shape);
    CHECK(back.numel() == 0);
  }
}
