// The paper's toy experiment (docs/quantizers.md, "The paper's toy experiment"): fit one
// quantizer's two parameters by plain gradient descent to minimise the MSE between x and Q(x) on
// samples of N(0, 1), with the same learning rate for all six parametrizations, and compare how
// they converge.
//
// Every quantizer starts from the same point: the paper's weight
// initialisation at --bits (4) from max|x|. After each step the raw
// parameters are clipped into their bounds (docs/method.md section 4). Writes a CSV of the
// trajectories and an SVG plot; prints a summary table.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/file_io.h"
#include "core/rng.h"
#include "examples/args.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "quant/quantizer.h"
#include "train/plot.h"

using namespace mpq;
using namespace mpq::quant;

namespace {

struct Trajectory {
  std::vector<double> step, mse, bits, raw0, raw1;
};

int run(int argc, char** argv) {
  examples::Args args(
      "quant_toy",
      "Fits U1, U2, U3, P1, P2, P3 (signed, weight bounds) to N(0,1) samples by gradient\n"
      "descent on MSE(x, Q(x)) with one learning rate, and writes <out>/toy.csv and\n"
      "<out>/toy.svg.");
  args.add("samples", "10000", "number of N(0,1) samples");
  args.add("steps", "1000", "gradient-descent steps");
  args.add("lr", "1", "learning rate (the same for all parametrizations)");
  args.add("bits", "4", "bitwidth of the common initialisation");
  args.add("seed", "1", "random seed of the samples");
  args.add("out", "runs/quant_toy", "output folder (created)");
  if (!args.parse(argc, argv)) return 0;
  const std::int64_t n = args.integer("samples", 1, 100000000);
  const std::int64_t steps = args.integer("steps", 1, 10000000);
  const double lr = args.real("lr", 0.0, 1e6);
  const double bits = args.real("bits", 2, 8);
  const std::string out = args.str("out");
  std::filesystem::create_directories(out);

  Generator gen(static_cast<std::uint64_t>(args.integer("seed", 0, INT64_MAX)));
  const Tensor x = randn({n}, 0.0, 1.0, gen, DType::f64);

  std::ostringstream csv;
  csv << "param,step,mse,bits,raw_name0,raw0,raw_name1,raw1,d,qmax,qmin\n";
  std::vector<Trajectory> all;
  std::printf("%-4s %12s %12s %12s %6s %10s\n", "", "initial MSE", "final MSE", "best MSE", "bits",
              "increases");
  for (int pi = 0; pi < 6; ++pi) {
    const auto p = static_cast<Parametrization>(pi);
    const QuantizerSpec spec = QuantizerSpec::weights(p);
    Quantizer qz = Quantizer::for_weights(spec, x, bits, DType::f64);
    const auto names = raw_parameter_names(p);
    Trajectory t;
    for (std::int64_t s = 0; s <= steps; ++s) {
      for (auto nm : names) qz.raw(nm).set_grad(Tensor());
      const Tensor err = sub(qz.forward(x), x);
      const Tensor mse = mean(mul(err, err));
      const QuantizerValues v = qz.values();
      t.step.push_back(static_cast<double>(s));
      t.mse.push_back(mse.item());
      t.bits.push_back(v.b);
      t.raw0.push_back(qz.raw(names[0]).item());
      t.raw1.push_back(qz.raw(names[1]).item());
      csv << parametrization_name(p) << ',' << s << ',' << mse.item() << ',' << v.b << ','
          << names[0] << ',' << t.raw0.back() << ',' << names[1] << ',' << t.raw1.back() << ','
          << v.d << ',' << v.qmax << ',' << v.qmin << '\n';
      if (s == steps) break;
      mse.backward();
      for (auto nm : names) {
        Tensor r = qz.raw(nm);
        const Tensor g = r.grad();
        if (g.defined()) r.fill_(r.item() - lr * g.item());
      }
      qz.clip_parameters();
    }
    // Oscillation: how many steps made the error worse (0 for a monotone descent).
    int increases = 0;
    for (std::size_t i = 1; i < t.mse.size(); ++i)
      increases += t.mse[i] > t.mse[i - 1] * (1 + 1e-12);
    double best = t.mse[0];
    for (double m : t.mse) best = std::min(best, m);
    std::printf("%-4s %12.6g %12.6g %12.6g %6.0f %10d\n",
                std::string(parametrization_name(p)).c_str(), t.mse.front(), t.mse.back(), best,
                t.bits.back(), increases);
    all.push_back(std::move(t));
  }
  mpq::write_file_atomic(out + "/toy.csv", csv.str());

  train::Panel mse{"MSE(x, Q(x)) on N(0,1), lr " + args.str("lr"), "step", "MSE", {}, true};
  train::Panel bits_panel{"bitwidth (rounded or inferred)", "step", "bits", {}};
  for (int pi = 0; pi < 6; ++pi) {
    const std::string name(parametrization_name(static_cast<Parametrization>(pi)));
    mse.series.push_back({name, all[pi].step, all[pi].mse, train::color(pi)});
    bits_panel.series.push_back({name, all[pi].step, all[pi].bits, train::color(pi)});
  }
  mpq::write_file_atomic(out + "/toy.svg", train::svg_plot({mse, bits_panel}));
  std::printf("wrote %s/toy.csv and %s/toy.svg\n", out.c_str(), out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return mpq::examples::run_main(run, argc, argv);
}
