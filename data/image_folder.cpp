#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>

// The one stb_image implementation of mpq, static to this file: no stbi_
// symbol leaves libmpq, so a program may use its own copy (or libstb) freely.
// Only PNG is compiled in; JPEGs go to libjpeg-turbo (data/jpeg.h says why).
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
#include <zlib.h>

#include "core/file_io.h"
#include "data/jpeg.h"

namespace mpq::data {

namespace fs = std::filesystem;

namespace {

std::uint32_t be32(const unsigned char* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

// PNG (RFC 2083, section 3.2): an 8-byte signature, then chunks of
// length (4 bytes, big-endian), type (4), data (length) and the CRC-32 of
// type + data (4). stb_image ignores the CRCs, so a damaged file would decode
// into damaged pixels without a word; every chunk up to IEND is checked here.
void check_png_chunks(const std::string& bytes, const std::string& name) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t at = 8;
  while (true) {
    MPQ_CHECK(bytes.size() - at >= 12, "decode_image: '", name,
              "': truncated PNG (a chunk header is cut off at byte ", at, ")");
    const std::uint32_t len = be32(p + at);
    const std::string type(bytes.data() + at + 4, 4);
    MPQ_CHECK(len <= bytes.size() - at - 12, "decode_image: '", name, "': truncated PNG (chunk '",
              type, "' at byte ", at, " announces ", len, " bytes, ", bytes.size() - at - 12,
              " remain)");
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), p + at + 4, static_cast<uInt>(len) + 4);
    MPQ_CHECK(crc == be32(p + at + 8 + len), "decode_image: '", name, "': PNG chunk '", type,
              "' at byte ", at, " fails its CRC (the file is corrupted)");
    at += 12 + len;
    if (type == "IEND") return;
  }
}

}  // namespace

Tensor decode_image_bytes(const std::string& bytes, const std::string& name,
                          std::int64_t max_pixels) {
  MPQ_CHECK(bytes.size() <= static_cast<std::size_t>(INT32_MAX), "decode_image: '", name,
            "' is larger than 2 GB");
  if (bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0)
    check_png_chunks(bytes, name);
  if (bytes.size() >= 2 && bytes.compare(0, 2, "\xff\xd8") == 0)  // SOI
    return decode_jpeg(bytes, name, max_pixels);
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int size = static_cast<int>(bytes.size());
  int w = 0, h = 0, channels_in_file = 0;
  // The header's dimensions, before a byte is allocated for the pixels.
  MPQ_CHECK(stbi_info_from_memory(data, size, &w, &h, &channels_in_file),
            "decode_image: cannot decode '", name,
            "' (stb_image: ", stbi_failure_reason() ? stbi_failure_reason() : "unknown error", ")");
  MPQ_CHECK(static_cast<std::int64_t>(w) * h <= max_pixels, "decode_image: '", name, "' is ", w,
            "x", h, " pixels, more than the limit of ", max_pixels,
            " (imagenet's --max-image-pixels raises it)");
  // Asking for 3 channels makes stb convert grey (replicated) and grey+alpha
  // or RGBA (alpha dropped) to RGB; 16-bit PNGs come back as 8 bits.
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(data, size, &w, &h, &channels_in_file, 3), stbi_image_free);
  MPQ_CHECK(pixels != nullptr, "decode_image: cannot decode '", name,
            "' (stb_image: ", stbi_failure_reason() ? stbi_failure_reason() : "unknown error", ")");
  MPQ_CHECK(w > 0 && h > 0, "decode_image: '", name, "' has an empty image ", w, "x", h);
  // stb gives interleaved rows (H, W, 3); the tensor is planar [3, H, W].
  Tensor out = empty({3, h, w}, DType::u8);
  std::uint8_t* o = out.data<std::uint8_t>();
  const std::int64_t hw = static_cast<std::int64_t>(h) * w;
  for (std::int64_t k = 0; k < hw; ++k)
    for (std::int64_t c = 0; c < 3; ++c) o[c * hw + k] = pixels.get()[k * 3 + c];
  return out;
}

Tensor decode_image(const std::string& path, std::int64_t max_pixels) {
  return decode_image_bytes(read_file(path, "decode_image"), path, max_pixels);
}

struct ImageFolder::SkipLog {
  mutable std::mutex mutex;
  std::set<std::string> files;
};

namespace {

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < 5; ++i) s += (i ? ", '" : "'") + names[i] + "'";
  if (names.size() > 5) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}

// The entries of one folder; a folder that cannot be read is an mpq::Error.
std::vector<fs::directory_entry> list_folder(const fs::path& dir) {
  try {
    return {fs::directory_iterator(dir), fs::directory_iterator()};
  } catch (const fs::filesystem_error& e) {
    MPQ_FAIL("ImageFolder: cannot list '", dir.string(), "': ", e.code().message());
  }
}

}  // namespace

ImageFolder::ImageFolder(const std::string& root, const std::string& split,
                         const std::vector<std::string>& expected_classes, std::int64_t max_pixels)
    : max_pixels_(max_pixels), skips_(std::make_unique<SkipLog>()) {
  std::error_code ec;
  MPQ_CHECK(fs::is_directory(root, ec), "ImageFolder: folder not found: '", root, "'");
  const fs::path dir = fs::path(root) / split;
  folder_ = dir.string();
  MPQ_CHECK(fs::is_directory(dir, ec), "ImageFolder: no '", split, "' folder in '", root,
            "' (expected ", folder_, "/<class>/*.jpg|*.png)");

  for (const auto& entry : list_folder(dir))
    if (entry.is_directory(ec)) classes_.push_back(entry.path().filename().string());
  std::sort(classes_.begin(), classes_.end());
  MPQ_CHECK(!classes_.empty(), "ImageFolder: '", folder_, "' has no class folders (expected ",
            folder_, "/<class>/*.jpg|*.png)");
  if (!expected_classes.empty()) {
    std::vector<std::string> want = expected_classes, missing, extra;
    std::sort(want.begin(), want.end());
    std::set_difference(want.begin(), want.end(), classes_.begin(), classes_.end(),
                        std::back_inserter(missing));
    std::set_difference(classes_.begin(), classes_.end(), want.begin(), want.end(),
                        std::back_inserter(extra));
    MPQ_CHECK(missing.empty() && extra.empty(), "ImageFolder: the class folders of '", folder_,
              "' differ from the ", want.size(),
              " expected classes: ", missing.empty() ? "" : "missing " + join_names(missing),
              !missing.empty() && !extra.empty() ? "; " : "",
              extra.empty() ? "" : "unexpected " + join_names(extra));
  }

  for (std::size_t c = 0; c < classes_.size(); ++c) {
    const fs::path class_dir = dir / classes_[c];
    std::vector<std::string> images;
    for (const auto& entry : list_folder(class_dir))
      if (entry.is_regular_file(ec) && has_image_extension(entry.path()))
        images.push_back(entry.path().string());
    MPQ_CHECK(!images.empty(), "ImageFolder: class folder '", class_dir.string(),
              "' has no .jpg, .jpeg or .png files");
    std::sort(images.begin(), images.end());
    for (auto& p : images) {
      files_.push_back(std::move(p));
      labels_.push_back(static_cast<std::int32_t>(c));
    }
  }
}

ImageFolder::~ImageFolder() = default;
ImageFolder::ImageFolder(ImageFolder&&) noexcept = default;
ImageFolder& ImageFolder::operator=(ImageFolder&&) noexcept = default;

const std::string& ImageFolder::path(std::int64_t i) const {
  MPQ_CHECK(i >= 0 && i < size(), "ImageFolder: index ", i, " outside [0, ", size(), ")");
  return files_[static_cast<std::size_t>(i)];
}

std::int32_t ImageFolder::label(std::int64_t i) const {
  MPQ_CHECK(i >= 0 && i < size(), "ImageFolder: index ", i, " outside [0, ", size(), ")");
  return labels_[static_cast<std::size_t>(i)];
}

std::optional<Sample> ImageFolder::get(std::int64_t i) const {
  const std::string& file = path(i);
  try {
    return Sample{decode_image(file, max_pixels_), labels_[static_cast<std::size_t>(i)]};
  } catch (const Error& e) {
    std::lock_guard<std::mutex> lock(skips_->mutex);
    // One warning per file, however many epochs meet it.
    if (skips_->files.insert(file).second)
      std::cerr << "warning: ImageFolder: skipping image " << i << ": " << e.what() << "\n";
    return std::nullopt;
  }
}

void ImageFolder::check_decodable(int probes) const {
  const std::int64_t n = size(), k = std::min<std::int64_t>(std::max(probes, 1), n);
  std::string first_error;
  for (std::int64_t j = 0; j < k; ++j) {
    // Evenly spread over the class-sorted files, so every part of the split is tried.
    const std::int64_t i = j * n / k;
    try {
      decode_image(path(i), max_pixels_);
      return;
    } catch (const Error& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  MPQ_FAIL("ImageFolder: none of ", k, " images tried across '", folder_,
           "' decodes (the first: ", first_error, ")");
}

std::int64_t ImageFolder::num_skipped() const {
  std::lock_guard<std::mutex> lock(skips_->mutex);
  return static_cast<std::int64_t>(skips_->files.size());
}

std::vector<std::string> ImageFolder::skipped_files() const {
  std::lock_guard<std::mutex> lock(skips_->mutex);
  return {skips_->files.begin(), skips_->files.end()};
}

std::string ImageFolder::summary() const {
  std::ostringstream os;
  os << size() << " images in " << classes_.size() << " classes under " << folder_;
  // Files are decoded as they are read, so a count before the first epoch
  // would always say 0: it is shown once there is something to show.
  if (const std::int64_t skipped = num_skipped(); skipped > 0)
    os << ", " << skipped << " skipped so far (undecodable)";
  return os.str();
}

}  // namespace mpq::data
