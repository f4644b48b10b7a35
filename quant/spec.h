// What a quantizer is: its parametrization, signedness, zero level, and the
// bounds of its raw trainable parameters (docs/method.md section 4).
//
//   | name | kind        | raw trained parameters |
//   | U1   | uniform     | b, d                   |
//   | U2   | uniform     | b, q_max               |
//   | U3   | uniform     | d, q_max (b inferred)  |
//   | P1   | power of 2  | b, q_max               |
//   | P2   | power of 2  | b, q_min               |
//   | P3   | power of 2  | q_min, q_max (b inferred) |
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::quant {

enum class Parametrization { U1, U2, U3, P1, P2, P3 };

std::string_view parametrization_name(Parametrization p);
// Accepts "U1".."P3" (case-insensitive); errors list the valid names.
Parametrization parse_parametrization(std::string_view name);
bool is_uniform(Parametrization p);
// Names of the raw parameters this parametrization trains, e.g. {"d", "qmax"}.
std::array<std::string_view, 2> raw_parameter_names(Parametrization p);

struct Range {
  double lo, hi;
};

struct QuantizerSpec {
  Parametrization param = Parametrization::U3;
  bool is_signed = true;
  bool with_zero = false;  // power-of-two only: include the zero level
  bool pow2_step = true;   // uniform only: round d to a power of two (the paper's setting)
  Range b{2, 8}, d{0x1p-8, 1}, qmax{0x1p-8, 127}, qmin{0x1p-16, 127};

  // The paper's weight quantizer: signed, no zero level, weight bounds.
  static QuantizerSpec weights(Parametrization p);
  // The paper's activation quantizer: unsigned (replaces ReLU), with zero, activation bounds.
  static QuantizerSpec activations(Parametrization p);
  // Bounds of the raw parameter `name` ("b", "d", "qmax" or "qmin").
  Range bounds(std::string_view name) const;
  std::string str() const;  // e.g. "U3 signed"
};

}  // namespace mpq::quant
