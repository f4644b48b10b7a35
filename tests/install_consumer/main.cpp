// Trains y = 2x + 1 with mpq's autograd to check that the installed headers
// and library work together.
#include <cmath>
#include <cstdio>

#include <core/rng.h>
#include <ops/elementwise.h>
#include <ops/matmul.h>
#include <ops/reduce.h>
#include <train/optimizer.h>

int main() {
  using namespace mpq;
  Generator gen(3);
  Tensor x = rand_uniform({64, 1}, -1, 1, gen);
  Tensor y = add(mul(x, 2.0), 1.0);
  Tensor w = zeros({1, 1}), b = zeros({1});
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  train::Sgd opt({w, b}, {0.5, 0.0, 0.0, false});
  for (int i = 0; i < 200; ++i) {
    Tensor d = sub(linear(x, w, b), y);
    Tensor loss = mean(mul(d, d));
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  std::printf("w = %.4f, b = %.4f\n", w.item(), b.item());
  return std::abs(w.item() - 2.0) < 1e-3 && std::abs(b.item() - 1.0) < 1e-3 ? 0 : 1;
}
