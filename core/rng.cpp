#include "core/rng.h"

#include <cmath>
#include <numbers>

namespace mpq {

namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
__extension__ typedef unsigned __int128 u128;
std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}
}  // namespace

void Generator::seed_with(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (auto& w : s_) w = splitmix64(x);
  has_spare_ = false;
  spare_ = 0.0;
}

std::uint64_t Generator::next_u64() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Generator::uniform() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

double Generator::uniform(double lo, double hi) {
  return lo + (hi - lo) * uniform();
}

double Generator::normal(double mean, double stddev) {
  if (has_spare_) {
    has_spare_ = false;
    return mean + stddev * spare_;
  }
  // u1 in (0, 1] so that log(u1) is finite.
  const double u1 = 1.0 - uniform();
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return mean + stddev * r * std::cos(theta);
}

std::uint64_t Generator::below(std::uint64_t n) {
  MPQ_CHECK(n > 0, "Generator::below: empty range");
  // Lemire: the high word of x * n is uniform in [0, n) once the low word
  // clears the threshold (2^64 - n) mod n.
  const std::uint64_t threshold = (0 - n) % n;
  while (true) {
    const u128 m = static_cast<u128>(next_u64()) * n;
    if (static_cast<std::uint64_t>(m) >= threshold) return static_cast<std::uint64_t>(m >> 64);
  }
}

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(std::uint64_t seed) {
  default_generator().seed_with(seed);
}

namespace {
template <class F>
Tensor fill_random(const Shape& shape, DType dtype, const char* op, F&& draw) {
  Tensor t = empty(shape, dtype);
  dispatch_floating(dtype, op, [&]<class T>() {
    T* p = t.data<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(draw());
  });
  return t;
}
}  // namespace

Tensor rand_uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype) {
  MPQ_CHECK(lo <= hi, "rand_uniform: lower bound ", lo, " above upper bound ", hi);
  return fill_random(shape, dtype, "rand_uniform", [&] { return gen.uniform(lo, hi); });
}

Tensor randn(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype) {
  return fill_random(shape, dtype, "randn", [&] { return gen.normal(mean, stddev); });
}

Tensor randperm(std::int64_t n, Generator& gen) {
  MPQ_CHECK(n >= 0 && n <= INT32_MAX, "randperm: n = ", n, " out of range");
  Tensor t = arange(n, DType::i32);
  std::int32_t* p = t.data<std::int32_t>();
  for (std::int64_t i = n - 1; i > 0; --i)
    std::swap(p[i], p[gen.below(static_cast<std::uint64_t>(i) + 1)]);
  return t;
}

std::pair<double, double> fan_in_out(const Shape& s) {
  MPQ_CHECK(s.size() >= 2, "fan_in_out: expected a weight with at least 2 dimensions, got ",
            shape_str(s));
  double receptive = 1;
  for (std::size_t i = 2; i < s.size(); ++i) receptive *= static_cast<double>(s[i]);
  return {static_cast<double>(s[1]) * receptive, static_cast<double>(s[0]) * receptive};
}

namespace {
void fill_(Tensor& w, const Tensor& values) {
  MPQ_CHECK(w.is_contiguous(), "init: weight must be contiguous");
  w.copy_(values);
}
}  // namespace

void kaiming_normal_(Tensor& w, double gain, Generator& gen) {
  const double std = gain / std::sqrt(fan_in_out(w.shape()).first);
  fill_(w, randn(w.shape(), 0.0, std, gen, w.dtype()));
}

void kaiming_uniform_(Tensor& w, double gain, Generator& gen) {
  const double b = gain * std::sqrt(3.0 / fan_in_out(w.shape()).first);
  fill_(w, rand_uniform(w.shape(), -b, b, gen, w.dtype()));
}

void xavier_uniform_(Tensor& w, double gain, Generator& gen) {
  const auto [fi, fo] = fan_in_out(w.shape());
  const double b = gain * std::sqrt(6.0 / (fi + fo));
  fill_(w, rand_uniform(w.shape(), -b, b, gen, w.dtype()));
}

void xavier_normal_(Tensor& w, double gain, Generator& gen) {
  const auto [fi, fo] = fan_in_out(w.shape());
  fill_(w, randn(w.shape(), 0.0, gain * std::sqrt(2.0 / (fi + fo)), gen, w.dtype()));
}

}  // namespace mpq
