#include "test_util.h"

#include <algorithm>
#include <cmath>

#include "data/transforms.h"

using namespace mpq;
using Catch::Matchers::Contains;

namespace {

// float32 tensor of the given shape holding 0, 1, 2, ... (or a constant).
Tensor iota(const Shape& s, float start = 0.0f) {
  std::vector<float> v(static_cast<std::size_t>(numel_of(s)));
  for (std::size_t k = 0; k < v.size(); ++k) v[k] = start + static_cast<float>(k);
  return from_vector(v, s);
}

Tensor constant(const Shape& s, float value) {
  return from_vector(std::vector<float>(static_cast<std::size_t>(numel_of(s)), value), s);
}

std::vector<float> values(const Tensor& t) {
  return t.to_vector<float>();
}

}  // namespace

TEST_CASE("data: horizontal flip reverses the columns", "[data][transforms]") {
  const Tensor x = iota({2, 2, 3});
  CHECK(values(data::horizontal_flip(x)) ==
        std::vector<float>{2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9});
  // Any dtype, any leading axes.
  const Tensor u = from_vector<std::uint8_t>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 1, 4});
  CHECK(data::horizontal_flip(u).to_vector<std::uint8_t>() ==
        std::vector<std::uint8_t>{4, 3, 2, 1, 8, 7, 6, 5});
  CHECK(data::horizontal_flip(u).dtype() == DType::u8);

  Generator g(1);
  CHECK(values(data::random_horizontal_flip(x, g, 1.0)) == values(data::horizontal_flip(x)));
  CHECK(values(data::random_horizontal_flip(x, g, 0.0)) == values(x));
  // p = 0.5: about half of the draws flip, and the same seed gives the same draws.
  Generator a(7), b(7);
  int flips = 0;
  for (int i = 0; i < 2000; ++i) {
    const auto ra = values(data::random_horizontal_flip(x, a));
    CHECK(ra == values(data::random_horizontal_flip(x, b)));
    flips += ra != values(x);
  }
  CHECK(flips > 900);
  CHECK(flips < 1100);
}

TEST_CASE("data: pad + crop offsets, zero padding", "[data][transforms]") {
  const Tensor x = iota({1, 3, 3}, 1.0f);  // 1..9
  CHECK(values(data::pad_crop(x, 1, 0, 0, 3, 3)) == std::vector<float>{0, 0, 0, 0, 1, 2, 0, 4, 5});
  CHECK(values(data::pad_crop(x, 1, 2, 2, 3, 3)) == std::vector<float>{5, 6, 0, 8, 9, 0, 0, 0, 0});
  CHECK(values(data::pad_crop(x, 2, 0, 3, 2, 4)) == std::vector<float>{0, 0, 0, 0, 0, 0, 0, 0});
  CHECK(values(data::pad_crop(x, 1, 1, 1, 3, 3)) == values(x));
  CHECK(values(data::crop(x, 1, 0, 2, 2)) == std::vector<float>{4, 5, 7, 8});
  CHECK_THROWS_WITH(data::pad_crop(x, 1, 0, 0, 6, 3), Contains("does not fit"));

  // random_crop(size 32, padding 4) = pad_crop at top = below(9), then left = below(9).
  const Tensor img = iota({3, 32, 32}, 1.0f);
  bool saw_corner = false, saw_far = false;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    Generator g(seed), replica(seed);
    const Tensor out = data::random_crop(img, 32, 4, g);
    const auto top = static_cast<std::int64_t>(replica.below(9));
    const auto left = static_cast<std::int64_t>(replica.below(9));
    REQUIRE(out.shape() == Shape{3, 32, 32});
    CHECK(values(out) == values(data::pad_crop(img, 4, top, left, 32, 32)));
    // The output pixel (y, x) holds input (top + y - 4, left + x - 4), or 0 outside.
    const auto v = values(out);
    const std::int64_t y = 10, c = 31;
    const std::int64_t sy = top + y - 4, sx = left + c - 4;
    const float want = sx < 32 ? static_cast<float>(1 * 1024 + sy * 32 + sx + 1) : 0.0f;
    CHECK(v[1 * 1024 + y * 32 + c] == want);
    saw_corner |= top == 0 && left == 0;
    saw_far |= top == 8 || left == 8;
  }
  CHECK(saw_corner);
  CHECK(saw_far);
  // uint8 images are cropped as uint8, padded with 0.
  Generator g(3);
  const Tensor u = data::random_crop(full({3, 32, 32}, 200, DType::u8), 32, 4, g);
  CHECK(u.dtype() == DType::u8);
}

TEST_CASE("data: normalisation values", "[data][transforms]") {
  // [C=2, H=1, W=2]
  const Tensor x = from_vector<float>({1, 3, 10, 20}, {2, 1, 2});
  const Tensor y = data::normalize(x, {1.0f, 10.0f}, {2.0f, 5.0f});
  CHECK_CLOSE(y, from_vector<float>({0, 1, 0, 2}, {2, 1, 2}), 1e-6, 0);
  // A batch [N, C, H, W] uses axis 1.
  const Tensor xb = from_vector<float>({1, 3, 10, 20, 3, 5, 30, 40}, {2, 2, 1, 2});
  CHECK_CLOSE(data::normalize(xb, {1.0f, 10.0f}, {2.0f, 5.0f}),
              from_vector<float>({0, 1, 0, 2, 1, 2, 4, 6}, {2, 2, 1, 2}), 1e-6, 0);
  CHECK_THROWS_WITH(data::normalize(x, {1.0f}, {1.0f}), Contains("2 channels but 1 means"));
  CHECK_THROWS_WITH(data::normalize(x, {0.0f, 0.0f}, {1.0f, 0.0f}), Contains("not positive"));
  CHECK_THROWS_WITH(data::normalize(full({2, 1, 2}, 1, DType::u8), {0, 0}, {1, 1}),
                    Contains("float32") && Contains("to_float32"));

  // (x / 255 - 0.5) * 2
  const Tensor p = data::normalize_pm1(from_vector<float>({0, 255, 51, 127.5f}, {1, 2, 2}));
  CHECK_CLOSE(p, from_vector<float>({-1, 1, -0.6f, 0}, {1, 2, 2}), 1e-6, 0);
  CHECK(data::to_float32(from_vector<std::uint8_t>({0, 7, 255}, {3})).to_vector<float>() ==
        std::vector<float>{0, 7, 255});
}

TEST_CASE("data: center crop geometry", "[data][transforms]") {
  const Tensor x = iota({1, 5, 6});  // value = 6 y + x
  // top = round(3 / 2) = 2 (halves to even), left = round(3 / 2) = 2
  CHECK(values(data::center_crop(x, 2, 3)) == std::vector<float>{14, 15, 16, 20, 21, 22});
  // top = round(2 / 2) = 1, left = round(2 / 2) = 1
  CHECK(values(data::center_crop(x, 3, 4)) ==
        std::vector<float>{7, 8, 9, 10, 13, 14, 15, 16, 19, 20, 21, 22});
  // top = round(1 / 2) = 0 (half to even), left = round(5 / 2) = 2
  CHECK(values(data::center_crop(x, 4, 1)) == std::vector<float>{2, 8, 14, 20});
  CHECK(values(data::center_crop(x, 5, 6)) == values(x));
  // Larger than the image: zero padding first, floor(half) before, the rest
  // after (torchvision's CenterCrop), then the centred window of the rest.
  const Tensor tall = data::center_crop(x, 7, 6);  // one zero row above, one below
  CHECK(tall.shape() == Shape{1, 7, 6});
  CHECK(values(tall.narrow(1, 1, 5)) == values(x));
  CHECK(values(tall.narrow(1, 0, 1)) == std::vector<float>(6, 0.0f));
  CHECK(values(tall.narrow(1, 6, 1)) == std::vector<float>(6, 0.0f));
  // 5x6 -> 6x8: no row above, one below; one column left, one right.
  const auto big = values(data::center_crop(x, 6, 8));
  for (int y = 0; y < 6; ++y)
    for (int c = 0; c < 8; ++c)
      CHECK(big[static_cast<std::size_t>(y * 8 + c)] ==
            (y < 5 && c >= 1 && c < 7 ? static_cast<float>(6 * y + c - 1) : 0.0f));
  // Padded rows, cropped columns: left = round(4 / 2) = 2.
  CHECK(values(data::center_crop(x, 7, 2)) ==
        std::vector<float>{0, 0, 2, 3, 8, 9, 14, 15, 20, 21, 26, 27, 0, 0});
  // Fashion-MNIST's 28x28 uint8 centred in 32x32 (2 zero rows and columns each side).
  const Tensor u = full({28, 28}, 9.0, DType::u8);
  const Tensor framed = data::center_crop(u, 32, 32);
  CHECK(framed.dtype() == DType::u8);
  const auto fv = values(data::to_float32(framed));
  CHECK(std::count(fv.begin(), fv.end(), 9.0f) == 28 * 28);
  CHECK(std::count(fv.begin(), fv.end(), 0.0f) == 32 * 32 - 28 * 28);
  CHECK(framed.narrow(0, 2, 28).narrow(1, 2, 28).contiguous().to_vector<std::uint8_t>() ==
        u.to_vector<std::uint8_t>());
  CHECK_THROWS_WITH(data::center_crop(x, 0, 6), Contains("is empty"));
}

TEST_CASE("data: bilinear resize", "[data][transforms]") {
  // Upscale 2x2 -> 4x4: per axis the samples sit at s = max(0, (d + 0.5) / 2 - 0.5)
  // = 0, 0.25, 0.75, 1.25 (clamped to 1), so a linear image 2 y + x becomes 2 f(y) + f(x)
  // with f = 0, 0.25, 0.75, 1.
  const Tensor up = data::resize_bilinear(iota({1, 2, 2}), 4, 4);
  const float f[4] = {0, 0.25f, 0.75f, 1};
  std::vector<float> want;
  for (float fy : f)
    for (float fx : f) want.push_back(2 * fy + fx);
  CHECK_CLOSE(up, from_vector(want, {1, 4, 4}), 1e-6, 0);
  // Downscale 4x4 -> 2x2: s = 0.5 and 2.5, midway between two pixels.
  const Tensor down = data::resize_bilinear(iota({1, 4, 4}), 2, 2);
  CHECK_CLOSE(down, from_vector<float>({2.5f, 4.5f, 10.5f, 12.5f}, {1, 2, 2}), 1e-6, 0);
  // The identity size keeps the values; a constant image stays constant.
  CHECK(values(data::resize_bilinear(iota({2, 3, 5}), 3, 5)) == values(iota({2, 3, 5})));
  CHECK_CLOSE(data::resize_bilinear(constant({3, 7, 11}, 0.3f), 13, 5), constant({3, 13, 5}, 0.3f),
              1e-6, 0);
  CHECK_THROWS_WITH(data::resize_bilinear(full({1, 2, 2}, 1, DType::u8), 3, 3),
                    Contains("float32"));

  // Shorter side to `size`, the longer one floor(size * long / short).
  CHECK(data::resize_shorter_side(constant({3, 40, 60}, 1), 20).shape() == Shape{3, 20, 30});
  CHECK(data::resize_shorter_side(constant({3, 60, 45}, 1), 32).shape() == Shape{3, 42, 32});
  CHECK(data::resize_shorter_side(constant({2, 3, 10, 10}, 1), 4).shape() == Shape{2, 3, 4, 4});
  CHECK_CLOSE(data::resize_shorter_side(constant({3, 50, 37}, 7.5f), 24),
              constant({3, 32, 24}, 7.5f), 1e-5, 0);
}

TEST_CASE("data: random resized crop", "[data][transforms]") {
  // Within bounds, area fraction and aspect ratio inside the ranges (up to rounding),
  // and the first attempt's draws when it fits.
  int first_attempt_hits = 0;
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    Generator g(seed);
    const data::CropBox b = data::random_resized_crop_box(120, 160, g);
    CHECK(b.top >= 0);
    CHECK(b.left >= 0);
    CHECK(b.height > 0);
    CHECK(b.width > 0);
    CHECK(b.top + b.height <= 120);
    CHECK(b.left + b.width <= 160);
    const double frac = static_cast<double>(b.height * b.width) / (120.0 * 160.0);
    CHECK(frac >= 0.07);
    CHECK(frac <= 1.0);
    const double aspect = static_cast<double>(b.width) / static_cast<double>(b.height);
    CHECK(aspect >= 0.7);
    CHECK(aspect <= 1.4);
    Generator r(seed);
    const double area = 120.0 * 160.0 * r.uniform(0.08, 1.0);
    const double ratio = std::exp(r.uniform(std::log(0.75), std::log(4.0 / 3.0)));
    const auto w = static_cast<std::int64_t>(std::nearbyint(std::sqrt(area * ratio)));
    const auto h = static_cast<std::int64_t>(std::nearbyint(std::sqrt(area / ratio)));
    if (w <= 160 && h <= 120) {
      ++first_attempt_hits;
      const auto top = static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(120 - h + 1)));
      const auto left = static_cast<std::int64_t>(r.below(static_cast<std::uint64_t>(160 - w + 1)));
      CHECK(b.top == top);
      CHECK(b.left == left);
      CHECK(b.height == h);
      CHECK(b.width == w);
    }
  }
  CHECK(first_attempt_hits > 200);

  // Impossible scales exhaust the 10 attempts: the centred fallback, aspect
  // clamped into [3/4, 4/3].
  Generator g(1);
  auto box = data::random_resized_crop_box(10, 40, g, {2.0, 3.0});  // wide: h = 10, w = round(40/3)
  CHECK((box.top == 0 && box.left == 13 && box.height == 10 && box.width == 13));
  box = data::random_resized_crop_box(40, 10, g, {2.0, 3.0});  // tall: w = 10, h = round(40/3)
  CHECK((box.top == 13 && box.left == 0 && box.height == 13 && box.width == 10));
  box = data::random_resized_crop_box(30, 35, g, {2.0, 3.0});  // ratio inside: whole image
  CHECK((box.top == 0 && box.left == 0 && box.height == 30 && box.width == 35));

  // The crop is resized to size x size; deterministic for a seed.
  Generator a(5), b(5);
  const Tensor img = iota({3, 40, 50});
  const Tensor out = data::random_resized_crop(img, 16, a);
  CHECK(out.shape() == Shape{3, 16, 16});
  CHECK(values(out) == values(data::random_resized_crop(img, 16, b)));
  CHECK_CLOSE(data::random_resized_crop(constant({3, 40, 50}, 2.0f), 16, a),
              constant({3, 16, 16}, 2.0f), 1e-5, 0);
}

TEST_CASE("data: transform pipelines", "[data][transforms]") {
  const Tensor img = full({3, 32, 32}, 255, DType::u8);
  Generator a(9), b(9);
  const Tensor t = data::cifar_train_transform()(img, a);
  CHECK(t.dtype() == DType::f32);
  CHECK(t.shape() == Shape{3, 32, 32});
  CHECK(values(t) == values(data::cifar_train_transform()(img, b)));
  for (float v : values(t)) CHECK((v == -1.0f || v == 1.0f));  // padding 0 -> -1, 255 -> 1
  CHECK_CLOSE(data::cifar_eval_transform()(img, a), constant({3, 32, 32}, 1.0f), 1e-6, 0);

  // The ImageNet mean colour normalises to 0.
  Tensor mean_img = empty({3, 300, 400}, DType::f32);
  for (int c = 0; c < 3; ++c)
    mean_img.narrow(0, c, 1).fill_(255.0 * data::kImageNetMean[static_cast<std::size_t>(c)]);
  const Tensor e = data::imagenet_eval_transform()(mean_img, a);
  CHECK(e.shape() == Shape{3, 224, 224});
  CHECK_CLOSE(e, constant({3, 224, 224}, 0.0f), 1e-5, 0);
  const Tensor r = data::imagenet_train_transform(64)(mean_img, a);
  CHECK(r.shape() == Shape{3, 64, 64});
  CHECK_CLOSE(r, constant({3, 64, 64}, 0.0f), 1e-5, 0);
}
