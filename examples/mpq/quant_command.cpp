// mpq quant: one quantizer on one tensor, for teaching and scripting.
//
// Computes q = Q(x) and, for L = sum(upstream * q), dL/dx and dL/d(raw
// parameter), with the fused kernels of quant/ in float64.
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <sstream>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/file_io.h"
#include "core/npy.h"
#include "examples/args.h"
#include "examples/mpq/commands.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "quant/quantizer.h"
#include "train/plot.h"

namespace mpq::cli {

namespace {

using quant::Parametrization;
using quant::Quantizer;
using quant::QuantizerSpec;

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream os;
  os << std::setprecision(17) << v;
  return os.str();
}

// Per-element derivatives of Q at x for a sweep of inputs: dQ/dx and dQ/d(raw).
struct Sweep {
  std::vector<double> x, q, dqdx, dq0, dq1;
};

Sweep sweep(const Quantizer& qz, double lo, double hi, int n) {
  Sweep s;
  const auto names = quant::raw_parameter_names(qz.spec().param);
  for (int i = 0; i < n; ++i) {
    const double xv = lo + (hi - lo) * i / (n - 1);
    Tensor x = scalar_tensor(xv, DType::f64).reshape({1});
    x.set_requires_grad(true);
    for (auto nm : names) qz.raw(nm).set_grad(Tensor());
    Tensor q = qz.forward(x);
    q.backward(ones({1}, DType::f64));
    s.x.push_back(xv);
    s.q.push_back(q.item());
    s.dqdx.push_back(x.grad().item());
    auto g = [&](int k) {
      const Tensor t = qz.raw(names[k]).grad();
      return t.defined() ? t.item() : 0.0;
    };
    s.dq0.push_back(g(0));
    s.dq1.push_back(g(1));
  }
  return s;
}

std::string plot(const Quantizer& qz, const Tensor& x, const Tensor& q) {
  const quant::QuantizerValues v = qz.values();
  const double top = v.qmax;
  const double lo = qz.spec().is_signed ? -1.3 * top : -0.3 * top;
  const Sweep s = sweep(qz, lo, 1.3 * top, 1201);
  const auto names = quant::raw_parameter_names(qz.spec().param);
  train::Panel p1{"Q(x): " + qz.spec().str() + ", " + json_number(v.b) + " bits", "x", "Q(x)", {}};
  p1.series.push_back({"Q(x)", s.x, s.q, train::color(0)});
  p1.series.push_back({"x", {lo, 1.3 * top}, {lo, 1.3 * top}, "#bbbbbb"});
  // Up to 2000 of the input's elements as points.
  const auto xv = x.to_vector<double>(), qv = q.to_vector<double>();
  const std::size_t stride = std::max<std::size_t>(1, xv.size() / 2000);
  train::Series pts{"input elements", {}, {}, train::color(1), true};
  for (std::size_t i = 0; i < xv.size(); i += stride) {
    if (xv[i] < lo || xv[i] > 1.3 * top) continue;
    pts.x.push_back(xv[i]);
    pts.y.push_back(qv[i]);
  }
  p1.series.push_back(pts);
  train::Panel p2{
      "dQ/dx (straight-through)", "x", "dQ/dx", {{"dQ/dx", s.x, s.dqdx, train::color(0)}}};
  train::Panel p3{"dQ/d(raw parameter) per element", "x", "derivative", {}};
  p3.series.push_back({"dQ/d" + std::string(names[0]), s.x, s.dq0, train::color(2)});
  p3.series.push_back({"dQ/d" + std::string(names[1]), s.x, s.dq1, train::color(3)});
  return train::svg_plot({p1, p2, p3});
}

}  // namespace

int quant_command(int argc, char** argv) {
  examples::Args args(
      "mpq quant",
      "Applies one quantizer of Uhlich et al. (ICLR 2020) to a tensor read from a .npy file\n"
      "and reports q = Q(x), dL/dx and dL/d(raw parameter) for L = sum(upstream * q), and the\n"
      "inferred bitwidth. Computation is in float64 with mpq's fused kernels.\n\n"
      "Parametrizations (raw trained parameters):\n"
      "  U1 (b, d)   U2 (b, qmax)   U3 (d, qmax)     uniform: q = d round(clip(x, lo, qmax) / d)\n"
      "  P1 (b, qmax) P2 (b, qmin)  P3 (qmin, qmax)  power of two: q = sign(x) 2^round(log2|x|)\n"
      "Parameters not given start from the paper's initialisation at 4 bits (weights: from\n"
      "max|x| when signed; activations: d = 2^-3, qmax = 15/8 when --unsigned). Bounds are the\n"
      "paper's weight bounds when signed and activation bounds when unsigned; raw values\n"
      "outside them are clipped and receive zero gradient.\n\n"
      "Example:\n"
      "  mpq quant --param U3 --d 0.25 --qmax 0.9 --input x.npy --json out.json --plot q.svg");
  args.add("param", "", "parametrization: U1, U2, U3, P1, P2 or P3 (required)");
  args.add_switch("unsigned",
                  "unsigned quantizer (after ReLU: negative inputs map to 0 / the lowest level)");
  args.add_switch("with-zero", "power of two only: include the zero level");
  args.add_switch("real-step",
                  "uniform only: use d as given instead of rounding it to a power of two");
  args.add("b", "", "raw bitwidth (U1, U2, P1, P2)");
  args.add("d", "", "raw step size (U1, U3)");
  args.add("qmax", "", "raw dynamic range q_max (U2, U3, P1, P3)");
  args.add("qmin", "", "raw smallest magnitude q_min (P2, P3)");
  args.add("input", "", "input tensor, float32 or float64 .npy of any shape (required)");
  args.add("upstream", "", "upstream gradient dL/dq, .npy of the input's shape (default: ones)");
  args.add("output", "", "write q to this .npy (float32, the input's shape)");
  args.add("grad-input", "", "write dL/dx to this .npy (float32, the input's shape)");
  args.add("json", "", "write a JSON summary: param, signed, with_zero, bitwidth, effective, grad");
  args.add("plot", "", "write an SVG of Q(x), dQ/dx and the per-element parameter gradients");
  args.add("device", "cpu", "cpu, cuda or cuda:N: where the quantizer runs");
  if (!args.parse(argc, argv)) return 0;

  MPQ_CHECK(args.given("param"), "mpq quant: --param is required (U1, U2, U3, P1, P2 or P3)");
  MPQ_CHECK(args.given("input"), "mpq quant: --input is required (a .npy file)");
  const Parametrization p = quant::parse_parametrization(args.str("param"));
  const bool is_signed = !args.on("unsigned");
  QuantizerSpec spec = is_signed ? QuantizerSpec::weights(p) : QuantizerSpec::activations(p);
  spec.with_zero = args.on("with-zero");
  spec.pow2_step = !args.on("real-step");
  MPQ_CHECK(!spec.with_zero || !quant::is_uniform(p),
            "mpq quant: --with-zero applies to P1, P2 and P3 only");
  MPQ_CHECK(spec.pow2_step || quant::is_uniform(p),
            "mpq quant: --real-step applies to U1, U2 and U3 only");
  const auto names = quant::raw_parameter_names(p);
  for (const char* flag : {"b", "d", "qmax", "qmin"}) {
    const bool used = names[0] == flag || names[1] == flag;
    MPQ_CHECK(used || !args.given(flag), "mpq quant: ", quant::parametrization_name(p), " trains ",
              names[0], " and ", names[1], "; --", flag, " is not one of its parameters");
  }

  const Tensor raw_x = load_npy(args.str("input"));
  MPQ_CHECK(is_floating(raw_x.dtype()), "mpq quant: ", args.str("input"), " holds ",
            dtype_name(raw_x.dtype()), "; expected float32 or float64");
  MPQ_CHECK(raw_x.numel() > 0, "mpq quant: ", args.str("input"), " is empty");
  Tensor x = raw_x.to(DType::f64).contiguous();
  for (double v : x.to_vector<double>())
    MPQ_CHECK(std::isfinite(v), "mpq quant: ", args.str("input"), " contains NaN or Inf");
  Tensor upstream = ones(x.shape(), DType::f64);
  if (args.given("upstream")) {
    const Tensor u = load_npy(args.str("upstream"));
    MPQ_CHECK(is_floating(u.dtype()) && u.shape() == x.shape(), "mpq quant: --upstream ",
              args.str("upstream"), " is ", dtype_name(u.dtype()), " ", shape_str(u.shape()),
              "; expected a floating tensor of shape ", shape_str(x.shape()));
    upstream = u.to(DType::f64).contiguous();
    for (double v : upstream.to_vector<double>())
      MPQ_CHECK(std::isfinite(v), "mpq quant: --upstream ", args.str("upstream"),
                " contains NaN or Inf");
  }

  const double bits = args.given("b") ? args.real("b", -1e9, 1e9) : 4.0;
  const quant::QuantizerValues init =
      quant::initial_values(spec, std::min(std::max(bits, 1.0), 32.0), is_signed ? x : Tensor());
  auto raw_value = [&](std::string_view n) {
    const std::string flag(n);
    if (args.given(flag)) return args.real(flag, -1e30, 1e30);
    return init.get(n);
  };
  Quantizer qz(spec, raw_value(names[0]), raw_value(names[1]), DType::f64);
  const Device device = Device::parse(args.str("device"));
  if (!device.is_cpu()) {
    require_device(device, "mpq quant");
    qz.to(device);
    x = x.to(device);
    upstream = upstream.to(device);
  }

  x.set_requires_grad(true);
  const Tensor q = qz.forward(x);
  q.backward(upstream);
  const Tensor gx = x.grad();
  const quant::QuantizerValues v = qz.values();
  double g[2];
  for (int k = 0; k < 2; ++k) {
    const Tensor t = qz.raw(names[k]).grad();
    g[k] = t.defined() ? t.item() : 0.0;
  }

  // Every output is written at once, all or none (a failing --json must not
  // leave a new --output behind).
  std::vector<std::pair<std::string, std::string>> outputs;
  if (args.given("output"))
    outputs.emplace_back(
        args.str("output"),
        npy_bytes(q.detach().to(Device::cpu()).to(DType::f32).reshape(raw_x.shape())));
  if (args.given("grad-input"))
    outputs.emplace_back(args.str("grad-input"),
                         npy_bytes(gx.to(Device::cpu()).to(DType::f32).reshape(raw_x.shape())));
  if (args.given("json")) {
    std::ostringstream js;
    js << "{\"param\": \"" << quant::parametrization_name(p)
       << "\", \"signed\": " << (is_signed ? "true" : "false")
       << ", \"with_zero\": " << (spec.with_zero ? "true" : "false")
       << ", \"bitwidth\": " << json_number(v.b) << ", \"effective\": {";
    if (quant::is_uniform(p))
      js << "\"d\": " << json_number(v.d) << ", \"qmax\": " << json_number(v.qmax);
    else
      js << "\"qmin\": " << json_number(v.qmin) << ", \"qmax\": " << json_number(v.qmax);
    js << "}, \"grad\": {\"" << names[0] << "\": " << json_number(g[0]) << ", \"" << names[1]
       << "\": " << json_number(g[1]) << "}}\n";
    outputs.emplace_back(args.str("json"), js.str());
  }
  if (args.given("plot")) {  // the sweep behind the plot runs on the CPU
    qz.to(Device::cpu());
    outputs.emplace_back(args.str("plot"),
                         plot(qz, x.detach().to(Device::cpu()), q.detach().to(Device::cpu())));
  }
  mpq::write_files_atomic(outputs);

  if (!args.given("output") && !args.given("grad-input") && !args.given("json") &&
      !args.given("plot")) {
    std::printf("quantizer   %s\n", spec.str().c_str());
    std::printf("raw         %s = %.6g, %s = %.6g\n", std::string(names[0]).c_str(),
                raw_value(names[0]), std::string(names[1]).c_str(), raw_value(names[1]));
    if (quant::is_uniform(p)) {
      std::printf("effective   d = %.6g, qmax = %.6g\n", v.d, v.qmax);
      const double top = v.d * std::round(v.qmax / v.d);
      std::printf("levels      %.6g .. %.6g in steps of %.6g (%.0f levels)\n",
                  is_signed ? -top : 0.0, top, v.d,
                  is_signed ? 2 * std::round(v.qmax / v.d) + 1 : std::round(v.qmax / v.d) + 1);
    } else {
      std::printf("effective   qmin = %.6g, qmax = %.6g\n", v.qmin, v.qmax);
      std::printf("levels      %s{%.6g .. %.6g} (powers of two)%s\n", is_signed ? "+-" : "", v.qmin,
                  v.qmax, spec.with_zero ? " and 0" : "");
    }
    std::printf("bitwidth    %.0f\n", v.b);
    std::printf("input       %s, %lld elements\n", shape_str(raw_x.shape()).c_str(),
                static_cast<long long>(raw_x.numel()));
    std::printf("|dL/dx|     %.6g\n", std::sqrt(sum(mul(gx, gx)).item()));
    std::printf("dL/d%-6s  %.6g\ndL/d%-6s  %.6g\n", std::string(names[0]).c_str(), g[0],
                std::string(names[1]).c_str(), g[1]);
  }
  return 0;
}

}  // namespace mpq::cli
