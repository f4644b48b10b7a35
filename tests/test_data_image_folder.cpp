#include "test_util.h"

#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "core/file_io.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "temp_dir.h"

#include <zlib.h>

#include <array>
#include <cstdio>
#include <cstdlib>
// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>

// The test writes its images with stb_image_write (static: no symbol clash).
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

using namespace mpq;
using Catch::Matchers::Contains;

namespace {

// Interleaved pixels (H, W, comp) with distinct values.
std::vector<std::uint8_t> pixels(int h, int w, int comp, int seed) {
  std::vector<std::uint8_t> p(static_cast<std::size_t>(h * w * comp));
  for (std::size_t k = 0; k < p.size(); ++k)
    p[k] = static_cast<std::uint8_t>((k * 11 + seed) % 256);
  return p;
}

void write_png(const std::string& path, int h, int w, int comp, int seed) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const auto p = pixels(h, w, comp, seed);
  REQUIRE(stbi_write_png(path.c_str(), w, h, comp, p.data(), w * comp) != 0);
}

// The uint8 [3, H, W] tensor stb_image should give for pixels(h, w, comp, seed).
std::vector<std::uint8_t> expected_rgb(int h, int w, int comp, int seed) {
  const auto p = pixels(h, w, comp, seed);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(3 * h * w));
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < h * w; ++k)
      // grey (comp 1, 2) is replicated; alpha (comp 2, 4) is dropped
      out[static_cast<std::size_t>(c * h * w + k)] =
          p[static_cast<std::size_t>(k * comp + (comp >= 3 ? c : 0))];
  return out;
}

// Redirects std::cerr into a string for the lifetime of the object.
class CaptureStderr {
 public:
  CaptureStderr() : old_(std::cerr.rdbuf(buf_.rdbuf())) {}
  ~CaptureStderr() { std::cerr.rdbuf(old_); }
  std::string text() const { return buf_.str(); }

 private:
  std::ostringstream buf_;
  std::streambuf* old_;
};

// root/train: ant (2 images), cat (RGB, grey, RGBA), dog (one .JPEG); notes ignored.
void write_tree(const test::TempDir& dir) {
  const std::string t = dir.file("train");
  write_png(t + "/cat/b_rgb.png", 3, 4, 3, 1);
  write_png(t + "/cat/a_grey.PNG", 2, 5, 1, 2);
  write_png(t + "/cat/c_rgba.Png", 4, 2, 4, 3);
  write_png(t + "/ant/x.png", 1, 1, 3, 4);
  write_png(t + "/ant/y.png", 2, 2, 2, 5);  // grey + alpha
  std::filesystem::create_directories(t + "/dog");
  const auto p = pixels(8, 6, 3, 6);
  REQUIRE(stbi_write_jpg((t + "/dog/z.JPEG").c_str(), 6, 8, 3, p.data(), 90) != 0);
  dir.write("train/cat/notes.txt", "not an image");
  dir.write("train/README", "ignored");
}

}  // namespace

TEST_CASE("data: image folder lists classes in sorted order and decodes exactly",
          "[data][image_folder]") {
  test::TempDir dir;
  write_tree(dir);
  const data::ImageFolder ds(dir.file(""), "train");
  CHECK(ds.classes() == std::vector<std::string>{"ant", "cat", "dog"});
  REQUIRE(ds.size() == 6);
  // Sorted by class, then by file name within a class.
  const std::vector<std::string> names = {"x.png",     "y.png",      "a_grey.PNG",
                                          "b_rgb.png", "c_rgba.Png", "z.JPEG"};
  const std::vector<std::int32_t> labels = {0, 0, 1, 1, 1, 2};
  for (std::int64_t i = 0; i < 6; ++i) {
    CHECK(std::filesystem::path(ds.path(i)).filename() == names[static_cast<std::size_t>(i)]);
    CHECK(ds.label(i) == labels[static_cast<std::size_t>(i)]);
  }
  struct Case {
    std::int64_t index;
    int h, w, comp, seed;
  };
  for (const Case& c : {Case{0, 1, 1, 3, 4}, Case{1, 2, 2, 2, 5}, Case{2, 2, 5, 1, 2},
                        Case{3, 3, 4, 3, 1}, Case{4, 4, 2, 4, 3}}) {
    INFO("sample " << c.index);
    const auto s = ds.get(c.index);
    REQUIRE(s.has_value());
    CHECK(s->label == labels[static_cast<std::size_t>(c.index)]);
    CHECK(s->image.dtype() == DType::u8);
    CHECK(s->image.shape() == Shape{3, c.h, c.w});
    CHECK(s->image.to_vector<std::uint8_t>() == expected_rgb(c.h, c.w, c.comp, c.seed));
  }
  const auto jpg = ds.get(5);  // lossy: only the geometry is exact
  REQUIRE(jpg.has_value());
  CHECK(jpg->image.shape() == Shape{3, 8, 6});
  CHECK(jpg->label == 2);
  CHECK(ds.num_skipped() == 0);
  CHECK_THAT(ds.summary(), Contains("6 images in 3 classes") && !Contains("skipped"));
}

TEST_CASE("data: an undecodable image is skipped with a warning and counted",
          "[data][image_folder]") {
  test::TempDir dir;
  write_tree(dir);
  dir.write("train/cat/broken.png", "\x89PNG this is not really a png");
  const data::ImageFolder ds(dir.file(""), "train");
  REQUIRE(ds.size() == 7);
  std::int64_t bad = -1;
  for (std::int64_t i = 0; i < ds.size(); ++i)
    if (ds.path(i).ends_with("broken.png")) bad = i;
  REQUIRE(bad == 4);  // sorted: a_grey, b_rgb, broken, c_rgba
  {
    CaptureStderr err;
    CHECK_FALSE(ds.get(bad).has_value());
    CHECK_THAT(err.text(), Contains("warning") && Contains("broken.png"));
  }
  CHECK(ds.num_skipped() == 1);
  CHECK(ds.skipped_files().size() == 1);
  {
    CaptureStderr err;  // a second visit neither warns nor counts again
    CHECK_FALSE(ds.get(bad).has_value());
    CHECK(err.text().empty());
  }
  CHECK(ds.num_skipped() == 1);
  CHECK_THAT(ds.summary(), Contains("1 skipped"));
  // The neighbours keep their own labels.
  CHECK(ds.get(bad + 1)->label == 1);
  CHECK(ds.get(bad + 1)->image.to_vector<std::uint8_t>() == expected_rgb(4, 2, 4, 3));
  CHECK(ds.get(6)->label == 2);

  // Through the loader: every other image arrives once, with its own label.
  auto resize = [](const Tensor& x, Generator&) {
    return data::resize_bilinear(data::to_float32(x), 4, 4);
  };
  data::Loader loader(ds, resize, {.batch_size = 4, .shuffle = true, .seed = 3});
  loader.start_epoch(0);
  data::Batch b;
  std::vector<std::int64_t> seen;
  while (loader.next(b)) {
    CHECK(b.images.shape()[1] == 3);
    const auto l = b.labels.to_vector<std::int32_t>();
    for (std::size_t k = 0; k < b.indices.size(); ++k) {
      CHECK(l[k] == ds.label(b.indices[k]));
      seen.push_back(b.indices[k]);
    }
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::int64_t>{0, 1, 2, 3, 5, 6});
  CHECK(ds.num_skipped() == 1);
}

TEST_CASE("data: unusable image folders give clear errors", "[data][image_folder]") {
  test::TempDir dir;
  CHECK_THROWS_WITH(data::ImageFolder(dir.file("nowhere"), "train"),
                    Contains("folder not found") && Contains("nowhere"));
  CHECK_THROWS_WITH(data::ImageFolder(dir.file(""), "val"),
                    Contains("no 'val' folder") && Contains("<class>"));
  std::filesystem::create_directories(dir.file("val"));
  dir.write("val/stray.png", "x");
  CHECK_THROWS_WITH(data::ImageFolder(dir.file(""), "val"), Contains("has no class folders"));
  write_tree(dir);
  std::filesystem::create_directories(dir.file("train/eel"));
  dir.write("train/eel/readme.txt", "no images here");
  CHECK_THROWS_WITH(data::ImageFolder(dir.file(""), "train"),
                    Contains("class folder") && Contains("eel") && Contains("no .jpg"));
  std::filesystem::remove_all(dir.file("train/eel"));
  // A validation split must have the training classes, or the labels would shift.
  write_png(dir.file("val/ant/1.png"), 2, 2, 3, 0);
  write_png(dir.file("val/dog/1.png"), 2, 2, 3, 0);
  write_png(dir.file("val/emu/1.png"), 2, 2, 3, 0);
  const data::ImageFolder train(dir.file(""), "train");
  CHECK_THROWS_WITH(data::ImageFolder(dir.file(""), "val", train.classes()),
                    Contains("missing 'cat'") && Contains("unexpected 'emu'"));
  std::filesystem::remove_all(dir.file("val/emu"));
  write_png(dir.file("val/cat/1.png"), 2, 2, 3, 0);
  const data::ImageFolder val(dir.file(""), "val", train.classes());
  CHECK(val.classes() == train.classes());
  // decode_image names the file and stb's reason.
  dir.write("bad.jpg", "garbage");
  CHECK_THROWS_WITH(data::decode_image(dir.file("bad.jpg")),
                    Contains("cannot decode") && Contains("bad.jpg"));
  CHECK_THROWS_WITH(data::decode_image(dir.file("absent.png")), Contains("absent.png"));
}

namespace {
std::uint32_t get_be32(const std::string& s, std::size_t at) {
  return std::uint32_t(static_cast<unsigned char>(s[at])) << 24 |
         std::uint32_t(static_cast<unsigned char>(s[at + 1])) << 16 |
         std::uint32_t(static_cast<unsigned char>(s[at + 2])) << 8 |
         std::uint32_t(static_cast<unsigned char>(s[at + 3]));
}
void put_be32(std::string& s, std::size_t at, std::uint32_t v) {
  for (int k = 0; k < 4; ++k) s[at + k] = static_cast<char>(v >> (24 - 8 * k));
}
// A PNG of h x w RGB pixels in memory.
std::string png_bytes(int h, int w) {
  const auto p = pixels(h, w, 3, 7);
  int len = 0;
  unsigned char* mem = stbi_write_png_to_mem(p.data(), w * 3, w, h, 3, &len);
  REQUIRE(mem != nullptr);
  std::string out(reinterpret_cast<char*>(mem), static_cast<std::size_t>(len));
  STBIW_FREE(mem);
  return out;
}
}  // namespace

TEST_CASE("data: images above the pixel limit are refused from their header",
          "[data][image_folder]") {
  const std::string png = png_bytes(8, 8);
  CHECK(data::decode_image_bytes(png, "ok.png", 64).shape() == Shape{3, 8, 8});
  CHECK_THROWS_WITH(data::decode_image_bytes(png, "big.png", 63),
                    Contains("'big.png' is 8x8 pixels, more than the limit of 63") &&
                        Contains("--max-image-pixels"));
  // A 1x1 image whose IHDR (chunk at byte 8, data at 16) claims 15000 x 15000,
  // with the CRC recomputed so only the size is wrong: refused without the
  // 675 MB its pixels would take (stb_image itself allows up to 2^30 bytes).
  std::string huge = png_bytes(1, 1);
  put_be32(huge, 16, 15000);
  put_be32(huge, 20, 15000);
  const std::uint32_t len = get_be32(huge, 8);
  std::uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(huge.data() + 12), len + 4);
  put_be32(huge, 16 + len, crc);
  CHECK_THROWS_WITH(data::decode_image_bytes(huge, "bomb.png"),
                    Contains("'bomb.png' is 15000x15000 pixels, more than the limit of 40000000"));
}

TEST_CASE("data: a PNG whose chunk CRC fails or that is cut short is refused",
          "[data][image_folder]") {
  const std::string png = png_bytes(4, 4);
  // The last chunk is IEND (12 bytes); the IDAT before it holds the pixels.
  std::string flipped = png;
  flipped[png.size() - 12 - 5] ^= 0x01;  // the IDAT's last data byte
  CHECK_THROWS_WITH(data::decode_image_bytes(flipped, "flip.png"),
                    Contains("'flip.png': PNG chunk 'IDAT'") && Contains("fails its CRC"));
  CHECK_THROWS_WITH(data::decode_image_bytes(png.substr(0, png.size() - 20), "cut.png"),
                    Contains("'cut.png': truncated PNG"));
  CHECK_THROWS_WITH(data::decode_image_bytes(png.substr(0, 10), "cut.png"),
                    Contains("truncated PNG (a chunk header is cut off at byte 8)"));
}

TEST_CASE("data: a split where no tried image decodes is refused up front",
          "[data][image_folder]") {
  test::TempDir dir;
  write_tree(dir);
  const data::ImageFolder good(dir.file(""), "train");
  good.check_decodable();
  CHECK(good.num_skipped() == 0);
  std::filesystem::create_directories(dir.file("val/a"));
  std::filesystem::create_directories(dir.file("val/b"));
  for (const char* f : {"val/a/1.png", "val/a/2.jpg", "val/b/1.png"}) dir.write(f, "not an image");
  const data::ImageFolder bad(dir.file(""), "val");
  CHECK_THROWS_WITH(bad.check_decodable(),
                    Contains("none of 3 images tried across") && Contains("cannot decode"));
  // One good image among them is enough.
  write_png(dir.file("val/b/2.png"), 2, 2, 3, 0);
  data::ImageFolder(dir.file(""), "val").check_decodable();
}

TEST_CASE("data: corrupt, truncated and oversized JPEGs are refused by name",
          "[data][image_folder]") {
  // Fuzzing found undefined behaviour in stb_image 2.27's JPEG decoder (a
  // Huffman table whose counts sum past 256 written past its 257 entries;
  // shifts of 32 bits and more in its bit reader): JPEGs now go to libjpeg-turbo.
  const auto p = pixels(8, 8, 3, 1);
  std::string jpg;
  REQUIRE(stbi_write_jpg_to_func(
              [](void* ctx, void* data, int size) {
                static_cast<std::string*>(ctx)->append(static_cast<char*>(data),
                                                       static_cast<std::size_t>(size));
              },
              &jpg, 8, 8, 3, p.data(), 90) != 0);
  const Tensor ok = data::decode_image_bytes(jpg, "ok.jpg");
  CHECK(ok.shape() == Shape{3, 8, 8});
  // Lossy, but close to the pixels written.
  const auto want = expected_rgb(8, 8, 3, 1);
  const auto got = ok.to_vector<std::uint8_t>();
  double err = 0;
  for (std::size_t k = 0; k < got.size(); ++k) err += std::abs(int(got[k]) - int(want[k]));
  CHECK(err / static_cast<double>(got.size()) < 40);
  const std::size_t dht = jpg.find("\xff\xc4");
  REQUIRE(dht != std::string::npos);
  std::string bad = jpg;
  for (int i = 1; i <= 16; ++i) bad[dht + 4 + i] = 0x20;  // 16 x 32 = 512 codes
  CHECK_THROWS_WITH(data::decode_image_bytes(bad, "bad.jpg"),
                    Contains("cannot decode 'bad.jpg' (libjpeg: "));
  // Cut short: an error, not rows of grey.
  CHECK_THROWS_WITH(data::decode_image_bytes(jpg.substr(0, jpg.size() / 2), "cut.jpg"),
                    Contains("cannot decode 'cut.jpg' (libjpeg: Premature end of JPEG file)"));
  CHECK_THROWS_WITH(data::decode_image_bytes(jpg, "big.jpg", 63),
                    Contains("'big.jpg' is 8x8 pixels, more than the limit of 63"));
  // The inputs the fuzzer found in stb_image are refused cleanly (they are
  // also in tests/fuzz/corpus/image/, which scripts/fuzz.sh replays).
  for (const char* f : {"regression-crash-80598caca0d0", "regression-crash-079922c61159",
                        "regression-crash-9a7594b09ddf", "regression-crash-f1b899c6cea6"}) {
    INFO(f);
    const std::string bytes =
        mpq::read_file(std::string(MPQ_FUZZ_CORPUS_DIR) + "/image/" + f, "test");
    CHECK_THROWS_AS(data::decode_image_bytes(bytes, f), Error);
  }
}

namespace {
// A CMYK JPEG written with libjpeg, which marks it with Adobe's APP14 marker;
// `cmyk` holds the bytes as stored (Adobe's convention: inverted).
std::string cmyk_jpeg(int h, int w, const std::vector<std::uint8_t>& cmyk) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* mem = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &mem, &size);
  cinfo.image_width = static_cast<JDIMENSION>(w);
  cinfo.image_height = static_cast<JDIMENSION>(h);
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(cmyk.data() + cinfo.next_scanline * w * 4);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string out(reinterpret_cast<char*>(mem), size);
  std::free(mem);
  return out;
}
}  // namespace

TEST_CASE("data: CMYK JPEGs (Adobe's inverted bytes) decode to RGB", "[data][image_folder]") {
  // With K = 0, RGB = 255 - C etc.; Adobe stores 255 - C, so the stored bytes
  // of a colour (r, g, b) are (r, g, b, 255).
  const int h = 8, w = 8;
  std::vector<std::uint8_t> cmyk;
  for (int k = 0; k < h * w; ++k) cmyk.insert(cmyk.end(), {200, 100, 30, 255});
  const Tensor rgb = data::decode_image_bytes(cmyk_jpeg(h, w, cmyk), "cmyk.jpg");
  REQUIRE(rgb.shape() == Shape{3, h, w});
  const auto v = rgb.to_vector<std::uint8_t>();
  for (int c = 0; c < 3; ++c) {
    INFO("channel " << c);
    CHECK(std::abs(int(v[static_cast<std::size_t>(c * h * w)]) -
                   int(std::array{200, 100, 30}[c])) <= 3);
  }
  // Half black (stored K byte 255 - 128): every channel scales by 127/255.
  for (std::size_t k = 3; k < cmyk.size(); k += 4) cmyk[k] = 127;
  const auto dark =
      data::decode_image_bytes(cmyk_jpeg(h, w, cmyk), "dark.jpg").to_vector<std::uint8_t>();
  CHECK(std::abs(int(dark[0]) - 200 * 127 / 255) <= 3);
}
