// From a trained fake-quant network to an IntegerModel (docs/integer.md,
// "From training to integers").
//
// Every quantizer becomes its integer grid (a power-of-two step; levels the
// quantizer's own outputs divided by the step, which the export checks to be
// exact integers on the grid), every batch norm its folded per-channel
// scale and shift (BatchNorm2d::inference_affine, plus the conv's quantized
// bias when there is one), the graph the model's layer list.
//
// Supported: the CIFAR ResNets (resnet20/32/56, option A or B shortcuts)
// and ResNet-18, every weight and activation quantized, uniform (U1-U3) or
// power-of-two (P1-P3). Anything else is refused with the reason (a float
// activation, MobileNetV2's float linear bottlenecks, a grid beyond int8).
#pragma once

#include <string>

#include "deploy/integer_model.h"
#include "models/module.h"
#include "quant/quantizer.h"

namespace mpq::deploy {

// The quantizer's grid; `what` names it in errors (a non-power-of-two step,
// a bitwidth beyond 8).
Grid grid_of(const quant::Quantizer& q, const std::string& what);

// The weight's levels on `grid`: q(w) / step, checked to be integers on it.
WeightTensor weight_levels(const quant::Quantizer& q, const Tensor& w, const Grid& grid,
                           const std::string& what);

// `net` (eval mode is set here) as integers. `model` is its zoo name.
// float_network: `net` is a float network (no quantizers); the result holds
// its float weights and ReLUs (IntegerModel::float_network) for the float
// ONNX export.
IntegerModel lower_network(models::Module& net, const std::string& model, const InputSpec& input,
                           bool float_network = false);

}  // namespace mpq::deploy
