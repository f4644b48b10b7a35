#include "quant/spec.h"

#include <cctype>

#include "core/error.h"

namespace mpq::quant {

std::string_view parametrization_name(Parametrization p) {
  static constexpr std::array<std::string_view, 6> names{"U1", "U2", "U3", "P1", "P2", "P3"};
  return names[static_cast<int>(p)];
}

Parametrization parse_parametrization(std::string_view name) {
  std::string up(name);
  for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (int i = 0; i < 6; ++i)
    if (parametrization_name(static_cast<Parametrization>(i)) == up)
      return static_cast<Parametrization>(i);
  MPQ_FAIL("unknown parametrization '", name, "' (expected one of U1, U2, U3, P1, P2, P3)");
}

bool is_uniform(Parametrization p) {
  return p == Parametrization::U1 || p == Parametrization::U2 || p == Parametrization::U3;
}

std::array<std::string_view, 2> raw_parameter_names(Parametrization p) {
  switch (p) {
    case Parametrization::U1:
      return {"b", "d"};
    case Parametrization::U2:
      return {"b", "qmax"};
    case Parametrization::U3:
      return {"d", "qmax"};
    case Parametrization::P1:
      return {"b", "qmax"};
    case Parametrization::P2:
      return {"b", "qmin"};
    case Parametrization::P3:
      return {"qmin", "qmax"};
  }
  return {"", ""};
}

QuantizerSpec QuantizerSpec::weights(Parametrization p) {
  QuantizerSpec s;
  s.param = p;
  s.is_signed = true;
  s.with_zero = false;
  s.b = {2, 8};
  s.d = {0x1p-8, 1};
  s.qmax = {0x1p-8, 127};
  s.qmin = {0x1p-16, 127};
  return s;
}

QuantizerSpec QuantizerSpec::activations(Parametrization p) {
  QuantizerSpec s;
  s.param = p;
  s.is_signed = false;
  s.with_zero = true;
  s.b = {1, 8};
  s.d = {0x1p-8, 1};
  s.qmax = {0x1p-8, 255};
  s.qmin = {0x1p-14, 255};
  return s;
}

Range QuantizerSpec::bounds(std::string_view name) const {
  if (name == "b") return b;
  if (name == "d") return d;
  if (name == "qmax") return qmax;
  if (name == "qmin") return qmin;
  MPQ_FAIL("QuantizerSpec: unknown parameter '", name, "' (expected b, d, qmax or qmin)");
}

std::string QuantizerSpec::str() const {
  std::string s(parametrization_name(param));
  s += is_signed ? " signed" : " unsigned";
  if (!is_uniform(param)) s += with_zero ? " with zero" : " without zero";
  if (is_uniform(param) && !pow2_step) s += " real-valued step";
  return s;
}

}  // namespace mpq::quant
