#include "train/schedule.h"

#include <cmath>
#include <numbers>
#include <sstream>

#include "core/error.h"

namespace mpq::train {

double Schedule::at(double e) const {
  MPQ_CHECK(e >= 0, "Schedule: negative epoch ", e);
  double v = lr;
  switch (kind) {
    case Kind::constant:
      break;
    case Kind::step:
      v = lr * std::pow(gamma, std::floor(e / step_size));
      break;
    case Kind::multistep: {
      int passed = 0;
      for (double m : milestones) passed += e >= m;
      v = lr * std::pow(gamma, passed);
      break;
    }
    case Kind::cosine:
      v = lr_min +
          (lr - lr_min) * (1 + std::cos(std::numbers::pi * std::min(e, total) / total)) / 2;
      break;
  }
  if (warmup > 0 && e < warmup) v *= e / warmup;
  return v;
}

std::string Schedule::str() const {
  std::ostringstream os;
  switch (kind) {
    case Kind::constant:
      os << "constant " << lr;
      break;
    case Kind::step:
      os << "step " << lr << " x" << gamma << " every " << step_size << " epochs";
      break;
    case Kind::multistep: {
      os << "multistep " << lr << " x" << gamma << " at";
      for (double m : milestones) os << ' ' << m;
      break;
    }
    case Kind::cosine:
      os << "cosine " << lr << " -> " << lr_min << " over " << total << " epochs";
      break;
  }
  if (warmup > 0) os << ", warmup " << warmup;
  return os.str();
}

Schedule Schedule::parse(const std::string& spec, double lr, double total_epochs, double gamma) {
  Schedule s;
  s.lr = lr;
  s.gamma = gamma;
  s.total = total_epochs;
  const auto colon = spec.find(':');
  const std::string name = spec.substr(0, colon),
                    arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  auto number = [&](const std::string& t) {
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    MPQ_CHECK(used == t.size() && !t.empty() && v > 0, "schedule '", spec, "': '", t,
              "' is not a positive number");
    return v;
  };
  if (name == "constant") {
    s.kind = Kind::constant;
  } else if (name == "cosine") {
    s.kind = Kind::cosine;
    MPQ_CHECK(total_epochs > 0, "schedule 'cosine' needs a positive number of epochs");
  } else if (name == "step") {
    s.kind = Kind::step;
    s.step_size = number(arg);
  } else if (name == "multistep") {
    s.kind = Kind::multistep;
    std::stringstream ss(arg);
    std::string item;
    while (std::getline(ss, item, ',')) s.milestones.push_back(number(item));
    MPQ_CHECK(!s.milestones.empty(), "schedule '", spec,
              "': list the milestones, e.g. multistep:80,120");
  } else {
    MPQ_FAIL("unknown schedule '", spec,
             "' (expected constant, step:N, multistep:A,B,... or cosine)");
  }
  return s;
}

}  // namespace mpq::train
