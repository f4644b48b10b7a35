// ONNX export of an IntegerModel that keeps the learned bitwidths
// (docs/integer.md section 9): standard operators only, every quantized
// weight an integer initializer with DequantizeLinear (its power-of-two step
// as the scale, zero point 0), every activation quantizer
// Clip(0, L step) -> QuantizeLinear -> DequantizeLinear, batch norm as the
// folded per-channel Mul and Add the engine uses, one float32 NCHW input and
// one output, the logits.
//
//   opset 21: weights of at most 4 bits stored as INT4 (two per byte), the
//             others as INT8 (ONNX IR version 10);
//   opset 13: INT8 containers only (IR version 7), for older runtimes and
//             Debian 12's onnx 1.12 checker.
//
// metadata_props: "mpq.preprocess" (JSON: pad, pad_value, mean, std,
// input_shape, classes: feed (pixel / 255 - mean) / std of images padded by
// `pad` zero pixels on each side) and "mpq.bitwidths" (JSON: layer -> bits).
#pragma once

#include <cstdint>
#include <string>

#include "deploy/integer_model.h"

namespace mpq::deploy {

struct OnnxOptions {
  int opset = 21;               // 21 or 13
  std::int64_t image_size = 0;  // the dataset's image side (0: the model's frame); sets "pad"
  std::string producer_version;
};

// Where the bytes went, for `mpq export`'s breakdown.
struct OnnxSizes {
  std::int64_t weights = 0;  // the integer weight initializers' raw data
  std::int64_t total = 0;
};

// The model's ONNX bytes. mpq::Error for what ONNX's operators cannot say
// exactly: a power-of-two activation grid (QuantizeLinear is uniform).
std::string onnx_model(const IntegerModel& model, const OnnxOptions& options,
                       OnnxSizes* sizes = nullptr);

}  // namespace mpq::deploy
