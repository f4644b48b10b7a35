// Learning-rate schedules as pure functions of training progress, measured in
// (fractional) epochs e, so that step- and epoch-based training agree.
//
//   step:      lr0 * gamma^floor(e / step_size)
//   multistep: lr0 * gamma^(number of milestones <= e)   (the paper: /10 at 80 and 120 of 160)
//   cosine:    lr_min + (lr0 - lr_min) (1 + cos(pi e / total)) / 2
//   constant:  lr0
// Any of them can start with a linear warmup from 0 over warmup epochs.
#pragma once

#include <string>
#include <vector>

namespace mpq::train {

struct Schedule {
  enum class Kind { constant, step, multistep, cosine };
  Kind kind = Kind::constant;
  double lr = 0.1;
  double gamma = 0.1;
  double step_size = 30;
  std::vector<double> milestones;
  double total = 1;   // cosine: epochs of the whole run
  double lr_min = 0;  // cosine floor
  double warmup = 0;  // epochs of linear warmup

  double at(double epoch) const;
  std::string str() const;
  // "constant", "step:30", "multistep:80,120", "cosine" (total from the run).
  static Schedule parse(const std::string& spec, double lr, double total_epochs,
                        double gamma = 0.1);
};

}  // namespace mpq::train
