#include "models/quant_summary.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "quant/memory.h"

namespace mpq::models {

QuantSummary quant_summary(const Module& m) {
  QuantSummary s;
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  double weight_bits = 0;
  for (const QuantSite& site : m.quant_sites()) {
    QuantRow r{site.name,
               site.kind == QuantSite::Kind::activation ? "activation"
               : site.kind == QuantSite::Kind::weight   ? "weight"
                                                        : "bias",
               "float",
               nan,
               nan,
               nan,
               32.0,
               site.count,
               0.0};
    if (site.quantizer) {
      const quant::QuantizerValues v = site.quantizer->values();
      r.param = std::string(quant::parametrization_name(site.quantizer->spec().param));
      r.d = v.d;
      r.qmax = v.qmax;
      r.qmin = v.qmin;
      r.bits = v.b;
    }
    r.kb = quant::memory_kb(r.bits, r.count);
    if (site.kind == QuantSite::Kind::activation) {
      ++s.activation_layers;
      s.activation_count += r.count;
      s.sum_activation_kb += r.kb;
      if (r.kb > s.max_activation_kb) s.max_activation_kb = r.kb;
      if (r.count > s.max_activation_count) s.max_activation_count = r.count;
    } else {
      s.weight_count += r.count;
      s.weight_kb += r.kb;
      weight_bits += r.bits * static_cast<double>(r.count);
    }
    s.rows.push_back(std::move(r));
  }
  s.mean_weight_bits = s.weight_count ? weight_bits / static_cast<double>(s.weight_count) : 0;
  return s;
}

namespace {
std::string fmt(double v) {
  if (std::isnan(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}
std::string thousands(std::int64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}
}  // namespace

std::string format_quant_summary(const QuantSummary& s, bool per_layer) {
  std::string out;
  char line[256];
  if (per_layer) {
    std::snprintf(line, sizeof line, "%-28s %-10s %-5s %10s %10s %10s %5s %10s %9s\n", "tensor",
                  "kind", "param", "d", "qmax", "qmin", "bits", "count", "kB");
    out += line;
    for (const QuantRow& r : s.rows) {
      std::snprintf(line, sizeof line, "%-28s %-10s %-5s %10s %10s %10s %5s %10s %9.1f\n",
                    r.name.c_str(), r.kind.c_str(), r.param.c_str(), fmt(r.d).c_str(),
                    fmt(r.qmax).c_str(), fmt(r.qmin).c_str(), fmt(r.bits).c_str(),
                    thousands(r.count).c_str(), r.kb);
      out += line;
    }
    out += "\n";
  }
  std::snprintf(line, sizeof line,
                "weights (conv + FC):       %s values, %.1f kB (mean %.2f bits)\n",
                thousands(s.weight_count).c_str(), s.weight_kb, s.mean_weight_bits);
  out += line;
  std::snprintf(line, sizeof line, "largest activation:        %s values, %.1f kB\n",
                thousands(s.max_activation_count).c_str(), s.max_activation_kb);
  out += line;
  std::snprintf(line, sizeof line, "sum of %d activations:     %s values, %.1f kB\n",
                s.activation_layers, thousands(s.activation_count).c_str(), s.sum_activation_kb);
  out += line;
  return out;
}

}  // namespace mpq::models
