#include "test_util.h"

#include "train/sgd.h"

using namespace mpq;
using Catch::Matchers::Contains;

TEST_CASE("sgd: updates follow the documented formulas", "[sgd]") {
  for (bool nesterov : {false, true}) {
    Tensor p = from_vector<double>({1.0, -2.0}, {2});
    p.set_requires_grad(true);
    train::Sgd opt({p}, {0.1, 0.9, 0.01, nesterov});
    double v[2] = {0, 0}, ref[2] = {1.0, -2.0};
    const double grads[3][2] = {{0.5, -1.0}, {0.25, 2.0}, {-1.0, 0.0}};
    for (int s = 0; s < 3; ++s) {
      opt.zero_grad();
      sum(mul(p, from_vector<double>({grads[s][0], grads[s][1]}, {2}))).backward();
      opt.step();
      for (int i = 0; i < 2; ++i) {
        const double g = grads[s][i] + 0.01 * ref[i];
        v[i] = s == 0 ? g : 0.9 * v[i] + g;
        ref[i] -= 0.1 * (nesterov ? g + 0.9 * v[i] : v[i]);
      }
      CHECK(p.to_vector<double>()[0] == Approx(ref[0]).epsilon(1e-14));
      CHECK(p.to_vector<double>()[1] == Approx(ref[1]).epsilon(1e-14));
    }
  }
}

TEST_CASE("sgd: minimises a quadratic; rejects bad options", "[sgd]") {
  Tensor w = zeros({3});
  w.set_requires_grad(true);
  const Tensor target = from_vector<float>({1, -2, 3}, {3});
  train::Sgd opt({w}, {0.1, 0.9});
  for (int i = 0; i < 200; ++i) {
    opt.zero_grad();
    sum(pow(sub(w, target), 2.0)).backward();
    opt.step();
  }
  CHECK_CLOSE(w, target, 1e-4, 0);
  CHECK_THROWS_WITH(train::Sgd({w}, {-1.0}), Contains("negative learning rate"));
  CHECK_THROWS_WITH(train::Sgd({w}, {0.1, 1.5}), Contains("momentum"));
  CHECK_THROWS_WITH(train::Sgd({zeros({2})}, {0.1}), Contains("requires_grad"));
}
