#include "test_util.h"

#include <cmath>
#include <map>

#include "train/optimizer.h"

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

TEST_CASE("sgd: decoupled weight decay and parameter groups", "[optimizer]") {
  Tensor a = from_vector<double>({1.0}, {1}), b = from_vector<double>({2.0}, {1});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  train::Sgd opt(std::vector<train::ParamGroup>{{{a}, 0.1, 1.0}, {{b}, 0.0, 0.5}},
                 {0.2, 0.0, 0.0, false, train::WeightDecay::decoupled});
  a.set_grad(from_vector<double>({0.5}, {1}));
  b.set_grad(from_vector<double>({0.5}, {1}));
  opt.step();
  CHECK(a.item() == Approx((1 - 0.2 * 0.1) * 1.0 - 0.2 * 0.5));  // shrink, then the gradient step
  CHECK(b.item() == Approx(2.0 - 0.1 * 0.5));                    // half the lr, no decay
  // State round trip.
  train::Sgd m({a}, {0.1, 0.9});
  a.set_grad(from_vector<double>({1.0}, {1}));
  m.step();
  const auto st = m.state();
  REQUIRE(st.size() == 2);
  CHECK(st[0].first == "p0.momentum");
  CHECK(st[1].first == "slots");
  train::Sgd m2({a}, {0.1, 0.9});
  m2.load_state(st);
  CHECK(m2.state()[0].second.item() == 1.0);
}

namespace {
using State = std::vector<std::pair<std::string, Tensor>>;
State without(const State& s, const std::string& key) {
  State out;
  for (const auto& kv : s)
    if (kv.first != key) out.push_back(kv);
  return out;
}
State replaced(State s, const std::string& key, Tensor t) {
  for (auto& kv : s)
    if (kv.first == key) kv.second = std::move(t);
  return s;
}
}  // namespace

TEST_CASE("optimizer: load_state refuses state that does not belong to it", "[optimizer]") {
  Tensor a = from_vector<float>({1, 2}, {2}), b = from_vector<float>({3}, {1});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  train::Sgd sgd({a, b}, {0.1, 0.9});
  a.set_grad(from_vector<float>({1, 1}, {2}));  // b has no gradient: no momentum yet
  sgd.step();
  const State st = sgd.state();
  CHECK(st.size() == 2);
  train::Sgd fresh({a, b}, {0.1, 0.9});
  fresh.load_state(st);  // b without momentum is what the mask says
  CHECK(fresh.state().size() == 2);
  using Catch::Matchers::Contains;
  // A missing momentum would silently restart it.
  CHECK_THROWS_WITH(fresh.load_state(without(st, "p0.momentum")),
                    Contains("'p0.momentum' is missing"));
  CHECK_THROWS_WITH(fresh.load_state(without(st, "slots")), Contains("no 'slots' mask"));
  // Another dtype is refused, not converted.
  CHECK_THROWS_WITH(fresh.load_state(replaced(st, "p0.momentum", from_vector<double>({1, 1}, {2}))),
                    Contains("'p0.momentum' is float64 [2], the parameter float32 [2]"));
  CHECK_THROWS_WITH(fresh.load_state(replaced(st, "p0.momentum", from_vector<float>({1}, {1}))),
                    Contains("'p0.momentum' is float32 [1]"));
  // The state of a network with other parameters.
  train::Sgd one({a}, {0.1, 0.9});
  CHECK_THROWS_WITH(one.load_state(st), Contains("'slots' is uint8 [2], expected uint8 [1]"));
  State extra = st;
  extra.emplace_back("p1.momentum", from_vector<float>({0}, {1}));
  CHECK_THROWS_WITH(fresh.load_state(extra), Contains("unexpected 'p1.momentum'"));
  // Adam's state is not SGD's.
  train::Adam adam({a, b}, {0.1});
  a.set_grad(from_vector<float>({1, 1}, {2}));
  adam.step();
  CHECK_THROWS_WITH(fresh.load_state(adam.state()), Contains("'p0.momentum' is missing"));
  CHECK_THROWS_WITH(train::Adam({a, b}, {0.1}).load_state(st), Contains("'p0.exp_avg' is missing"));
  CHECK_THROWS_WITH(
      train::Adam({a, b}, {0.1})
          .load_state(replaced(adam.state(), "p0.step", scalar_tensor(0.5, DType::f64))),
      Contains("'p0.step' is 0.5, not a step count"));
}

TEST_CASE("adam: the documented update, L2 and decoupled decay", "[optimizer]") {
  for (auto decay : {train::WeightDecay::l2, train::WeightDecay::decoupled}) {
    Tensor p = from_vector<double>({0.5}, {1});
    p.set_requires_grad(true);
    train::Adam opt({p}, {0.1, 0.9, 0.999, 1e-8, 0.01, decay});
    double m = 0, v = 0, ref = 0.5;
    const double grads[3] = {1.0, -2.0, 0.5};
    for (int t = 1; t <= 3; ++t) {
      p.set_grad(from_vector<double>({grads[t - 1]}, {1}));
      opt.step();
      const double g = grads[t - 1] + (decay == train::WeightDecay::l2 ? 0.01 * ref : 0.0);
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      const double upd =
          (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.999, t))) + 1e-8);
      ref = (decay == train::WeightDecay::decoupled ? 1 - 0.1 * 0.01 : 1.0) * ref - 0.1 * upd;
      CHECK(p.item() == Approx(ref).epsilon(1e-12));
    }
    train::Adam again({p}, {0.1});
    again.load_state(opt.state());
    const auto st = again.state();
    REQUIRE(st.size() == 4);
    CHECK(st[2].first == "p0.step");
    CHECK(st[2].second.item() == 3);  // step count restored
  }
}

TEST_CASE("adam: a parameter's bias correction counts its own steps", "[optimizer]") {
  // b gets its first gradient at the third step: its update must equal a fresh
  // Adam's first step on it, lr * g / (|g| + eps) ~ lr sign(g).
  Tensor a = from_vector<double>({1.0}, {1}), b = from_vector<double>({2.0}, {1});
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  train::Adam opt({a, b}, {0.1});
  for (int t = 0; t < 2; ++t) {
    a.set_grad(from_vector<double>({0.3}, {1}));
    opt.step();
  }
  a.set_grad(from_vector<double>({0.3}, {1}));
  b.set_grad(from_vector<double>({-0.5}, {1}));
  opt.step();
  CHECK(b.item() == Approx(2.0 + 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-12));
  const auto st = opt.state();
  std::map<std::string, double> steps;
  for (const auto& [k, v] : st)
    if (k.ends_with(".step")) steps[k] = v.item();
  CHECK(steps == std::map<std::string, double>{{"p0.step", 3}, {"p1.step", 1}});
  train::Adam restored({a, b}, {0.1});
  restored.load_state(st);
  std::map<std::string, double> again;
  for (const auto& [k, v] : restored.state())
    if (k.ends_with(".step")) again[k] = v.item();
  CHECK(again == steps);
}
