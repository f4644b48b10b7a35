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

// Decoded pixels allowed per image by default: 40 megapixels (120 MB as RGB),
// above every ILSVRC-2012 image. The dimensions are read from the file's
// header before anything is decoded, so a tiny file that claims 20000 x 20000
// is refused without allocating for it.
inline constexpr std::int64_t kDefaultMaxImagePixels = 40'000'000;

// Decodes one JPEG (libjpeg-turbo, data/jpeg.h) or PNG (stb_image) file into
// uint8 [3, H, W]; mpq::Error naming the file and the reason when it cannot:
// the decoder's, a PNG chunk whose CRC does not match its bytes (stb_image
// does not check them), or more than max_pixels pixels (read from the header,
// before anything is decoded).
Tensor decode_image(const std::string& path, std::int64_t max_pixels = kDefaultMaxImagePixels);
// The same for a file's bytes in memory; `name` stands for the file in errors.
Tensor decode_image_bytes(const std::string& bytes, const std::string& name,
                          std::int64_t max_pixels = kDefaultMaxImagePixels);

class ImageFolder : public Dataset {
 public:
  // Lists root/split. expected_classes: when not empty, the class folders must
  // be exactly these names (in any order on disk). Images above max_pixels are
  // skipped like undecodable ones (decode_image).
  ImageFolder(const std::string& root, const std::string& split,
              const std::vector<std::string>& expected_classes = {},
              std::int64_t max_pixels = kDefaultMaxImagePixels);
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

  // Decodes up to `probes` images spread evenly over the split (all of them
  // when it has fewer) and throws mpq::Error, with the first image's reason,
  // when none decodes: a folder of files that are not images (or all above
  // the pixel limit) is refused before training starts, not skipped image by
  // image for a whole epoch. Images that decode are not kept.
  void check_decodable(int probes = 16) const;

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
  std::int64_t max_pixels_;
  std::unique_ptr<SkipLog> skips_;
};

}  // namespace mpq::data
