// Element types of a tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"

namespace mpq {

enum class DType : std::uint8_t { f32, f64, i32, i8, u8 };

std::size_t dtype_size(DType t);
std::string_view dtype_name(DType t);
bool is_floating(DType t);

// Maps a C++ type to its DType at compile time.
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<std::int32_t>() {
  return DType::i32;
}
template <>
constexpr DType dtype_of<std::int8_t>() {
  return DType::i8;
}
template <>
constexpr DType dtype_of<std::uint8_t>() {
  return DType::u8;
}

// Calls f.template operator()<T>() with T the C++ type of a floating dtype.
// `op` names the caller in the error for a non-floating dtype.
template <class F>
decltype(auto) dispatch_floating(DType t, std::string_view op, F&& f) {
  switch (t) {
    case DType::f32:
      return f.template operator()<float>();
    case DType::f64:
      return f.template operator()<double>();
    default:
      MPQ_FAIL(op, ": expected a floating dtype (float32 or float64), got ", dtype_name(t));
  }
}

// Same for every dtype.
template <class F>
decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::f32:
      return f.template operator()<float>();
    case DType::f64:
      return f.template operator()<double>();
    case DType::i32:
      return f.template operator()<std::int32_t>();
    case DType::i8:
      return f.template operator()<std::int8_t>();
    case DType::u8:
      return f.template operator()<std::uint8_t>();
  }
  MPQ_FAIL("unknown dtype");
}

}  // namespace mpq
