// ImageNet-style image folders: one sub-folder per class.
//
//   root/<split>/<class>/<image>.jpg | .jpeg | .png   (extensions in any case)
//
// e.g. root/train/n01440764/n01440764_10026.JPEG. The classes are the
// sub-folders of root/<split>, sorted by name (byte order, as Python's
// sorted()); the label of an image is the position of its folder in that list.
// Other files (and anything deeper) are ignored. Construction only lists the
// files, sorted by name within a class; get(i) decodes image i on demand with
// stb_image into uint8 [3, H, W] (RGB planes; grey is replicated, alpha
// dropped).
//
// Errors (mpq::Error) for a folder that cannot be used: a missing root or
// split folder, no class folders, a class folder without images, class
// folders that differ from the expected list. A single image that does not
// decode is not fatal: get() prints one warning on stderr naming the file,
// counts it (num_skipped) and returns nullopt, so the loader skips it; a
// label is never attached to another image.
//
// For a validation split, pass the training classes so that both splits index
// the classes alike; a missing or extra class folder is then an error rather
// than a silent shift of every label after it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mpq::data {

// Decodes one JPEG or PNG file into uint8 [3, H, W]; mpq::Error naming the
// file and stb_image's reason when it cannot.
Tensor decode_image(const std::string& path);

class ImageFolder : public Dataset {
 public:
  // Lists root/split. expected_classes: when not empty, the class folders must
  // be exactly these names (in any order on disk).
  ImageFolder(const std::string& root, const std::string& split,
              const std::vector<std::string>& expected_classes = {});
  ~ImageFolder() override;
  ImageFolder(ImageFolder&&) noexcept;
  ImageFolder& operator=(ImageFolder&&) noexcept;

  std::int64_t size() const override { return static_cast<std::int64_t>(files_.size()); }
  // uint8 [3, H, W] and its label; nullopt (after a warning) when it does not decode.
  std::optional<Sample> get(std::int64_t i) const override;

  const std::vector<std::string>& classes() const { return classes_; }
  const std::string& path(std::int64_t i) const;
  std::int32_t label(std::int64_t i) const;
  const std::string& folder() const { return folder_; }  // root/split

  // Distinct images that failed to decode so far, and their paths.
  std::int64_t num_skipped() const;
  std::vector<std::string> skipped_files() const;
  // One line: images, classes, folder, and how many files were skipped so far
  // (only once one has been).
  std::string summary() const;

 private:
  struct SkipLog;  // thread-safe record of undecodable files

  std::string folder_;
  std::vector<std::string> classes_;
  std::vector<std::string> files_;
  std::vector<std::int32_t> labels_;
  std::unique_ptr<SkipLog> skips_;
};

}  // namespace mpq::data
