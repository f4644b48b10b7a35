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
// Only the two formats that image folders hold are compiled in.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#include <stb/stb_image.h>

namespace mpq::data {

namespace fs = std::filesystem;

Tensor decode_image(const std::string& path) {
  int w = 0, h = 0, channels_in_file = 0;
  // Asking for 3 channels makes stb convert grey (replicated) and grey+alpha
  // or RGBA (alpha dropped) to RGB; 16-bit PNGs come back as 8 bits.
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load(path.c_str(), &w, &h, &channels_in_file, 3), stbi_image_free);
  MPQ_CHECK(pixels != nullptr, "decode_image: cannot decode '", path,
            "' (stb_image: ", stbi_failure_reason() ? stbi_failure_reason() : "unknown error", ")");
  MPQ_CHECK(w > 0 && h > 0, "decode_image: '", path, "' has an empty image ", w, "x", h);
  // stb gives interleaved rows (H, W, 3); the tensor is planar [3, H, W].
  Tensor out = empty({3, h, w}, DType::u8);
  std::uint8_t* o = out.data<std::uint8_t>();
  const std::int64_t hw = static_cast<std::int64_t>(h) * w;
  for (std::int64_t k = 0; k < hw; ++k)
    for (std::int64_t c = 0; c < 3; ++c) o[c * hw + k] = pixels.get()[k * 3 + c];
  return out;
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
                         const std::vector<std::string>& expected_classes)
    : skips_(std::make_unique<SkipLog>()) {
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
    return Sample{decode_image(file), labels_[static_cast<std::size_t>(i)]};
  } catch (const Error& e) {
    std::lock_guard<std::mutex> lock(skips_->mutex);
    // One warning per file, however many epochs meet it.
    if (skips_->files.insert(file).second)
      std::cerr << "warning: ImageFolder: skipping image " << i << ": " << e.what() << "\n";
    return std::nullopt;
  }
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
