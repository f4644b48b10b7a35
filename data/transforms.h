// Image transforms: input scaling and data augmentation.
//
// Images are [C, H, W]; every transform also takes a batch [N, C, H, W] (or
// any number of leading axes): geometry acts on the last two axes, channel
// statistics on axis dim() - 3. Crops and flips copy elements of any dtype, so
// they can run on uint8 images before conversion; resizing and normalisation
// need float32 (to_float32 converts). Every result is a new contiguous tensor.
//
// Random transforms draw only from the Generator passed in, so a seed fixes
// the result; a random transform of a batch draws once for the whole batch.
// Where a transform has a torchvision counterpart, it follows torchvision's
// geometry (rounding included) and draw order, so results are comparable:
//   random_crop          RandomCrop(size, padding), zero padding
//   random_horizontal_flip RandomHorizontalFlip(p)
//   resize_shorter_side  Resize(size), bilinear without antialiasing
//   center_crop          CenterCrop(size)
//   random_resized_crop  RandomResizedCrop(size, scale, ratio)
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace mpq::data {

// ---- values -----------------------------------------------------------------

// Same values as float32 (uint8 pixels stay in [0, 255]).
Tensor to_float32(const Tensor& x);

// Per channel c: (x - mean[c]) / stddev[c]. float32, channel axis dim() - 3.
Tensor normalize(const Tensor& x, const std::vector<float>& mean, const std::vector<float>& stddev);

// The paper's input scaling (x / 255 - 0.5) * 2: pixels [0, 255] -> [-1, 1].
Tensor normalize_pm1(const Tensor& x);

// ImageNet channel statistics of x / 255 (R, G, B), as torchvision uses them.
inline const std::vector<float> kImageNetMean = {0.485f, 0.456f, 0.406f};
inline const std::vector<float> kImageNetStd = {0.229f, 0.224f, 0.225f};

// ---- geometry -----------------------------------------------------------------

// Reverses the columns: out[..., y, x] = in[..., y, W - 1 - x].
Tensor horizontal_flip(const Tensor& x);

// horizontal_flip with probability p (one draw: flip when uniform() >= 1 - p).
Tensor random_horizontal_flip(const Tensor& x, Generator& gen, double p = 0.5);

// A height x width window of x zero-padded by `padding` on all four sides;
// (top, left) is the window's corner in padded coordinates, so
//   out[..., y, x] = in[..., top + y - padding, left + x - padding]  (0 outside).
// The window must lie inside the padded image.
Tensor pad_crop(const Tensor& x, std::int64_t padding, std::int64_t top, std::int64_t left,
                std::int64_t height, std::int64_t width);

// pad_crop without padding.
Tensor crop(const Tensor& x, std::int64_t top, std::int64_t left, std::int64_t height,
            std::int64_t width);

// Pads by `padding` (zeros), then a size x size window at a uniform random
// corner: top = below(H + 2 padding - size + 1), then left likewise.
Tensor random_crop(const Tensor& x, std::int64_t size, std::int64_t padding, Generator& gen);

// The centred window: top = round((H - height) / 2), left = round((W - width) / 2),
// rounding halves to even as torchvision (Python's round) does. A window
// taller (wider) than the image pads it with zeros first, as torchvision's
// CenterCrop does: floor((height - H) / 2) rows above, the rest below.
Tensor center_crop(const Tensor& x, std::int64_t height, std::int64_t width);

// Bilinear resampling with half-pixel centres (PyTorch's align_corners=False):
// output pixel d samples the input at s = max(0, (d + 0.5) * in / out - 0.5),
// interpolating between floor(s) and floor(s) + 1 (clamped to the edge).
// No antialiasing filter. float32 only.
Tensor resize_bilinear(const Tensor& x, std::int64_t height, std::int64_t width);

// Resizes so that the shorter side becomes `size`; the longer side becomes
// floor(size * long / short), the aspect ratio rounded down as torchvision does.
Tensor resize_shorter_side(const Tensor& x, std::int64_t size);

struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
};

// torchvision's RandomResizedCrop.get_params for an image of height x width:
// up to 10 attempts of
//   area   = H W uniform(scale)      aspect = exp(uniform(log ratio))
//   w = round(sqrt(area aspect))     h = round(sqrt(area / aspect))
// accepted when 0 < w <= W and 0 < h <= H, placed at top = below(H - h + 1),
// left = below(W - w + 1). Failing that, the centred crop of the whole image
// with its aspect ratio clamped into `ratio`.
CropBox random_resized_crop_box(std::int64_t height, std::int64_t width, Generator& gen,
                                std::pair<double, double> scale = {0.08, 1.0},
                                std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0});

// crop to random_resized_crop_box, then resize_bilinear to size x size.
Tensor random_resized_crop(const Tensor& x, std::int64_t size, Generator& gen,
                           std::pair<double, double> scale = {0.08, 1.0},
                           std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0});

// ---- pipelines for the loader -------------------------------------------------

// A per-sample transform: image (as the dataset returns it) -> float32 [C, H, W].
using Transform = std::function<Tensor(const Tensor& image, Generator& gen)>;

// The paper's CIFAR training input: pad 4 + random 32x32 crop, random
// horizontal flip, then normalize_pm1.
Transform cifar_train_transform();
// CIFAR evaluation: normalize_pm1 only.
Transform cifar_eval_transform();
// ImageNet training: random_resized_crop to size, random flip, x / 255, then
// normalize with kImageNetMean / kImageNetStd.
Transform imagenet_train_transform(std::int64_t size = 224);
// ImageNet evaluation: resize_shorter_side(resize), center_crop(crop), then
// the same scaling and normalisation.
Transform imagenet_eval_transform(std::int64_t resize = 256, std::int64_t crop = 224);

}  // namespace mpq::data
