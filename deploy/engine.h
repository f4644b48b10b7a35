// The integer inference engine: runs an IntegerModel on uint8 images with
// integer arithmetic only (docs/integer.md): oneDNN int8 convolutions (u8
// activations x s8 weights, s32 sums; VNNI where the CPU has it), the
// fixed-point requantization of deploy/requant.h onto the next quantizer's
// levels, residual additions aligned by exact shifts, and an integer
// classifier whose sums become real logits only at the end. Nothing here
// uses autograd or float convolution.
//
//   deploy::Engine engine(deploy::load_model_file("model.mpqm"));
//   deploy::EngineOutput out;
//   engine.run(images_u8, n, 1, 28, 28, out);   // [N, C, h, w] pixels
//   int top1 = out.argmax(0);
//
// The weights are unpacked and reordered into oneDNN's int8 layout once per
// batch size (the primitives and buffers are kept for the next batch of that
// size). One Engine runs one batch at a time (not thread-safe).
//
// Threads (OpenMP, mpq::set_num_threads). A batch of at least two chunks of
// kChunk images per thread runs in throughput mode: the chunks are spread
// over the threads, and each thread takes its chunk through the whole
// network alone (oneDNN single-threaded inside), so that a layer's int32
// sums are requantized while they are still in the core's cache and no
// thread waits for another between layers. A smaller batch (and
// keep_levels) runs layer after layer with every thread in each layer.
// The results are the same either way (integer arithmetic).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "deploy/integer_model.h"
#include "deploy/requant.h"

namespace mpq::deploy {

struct EngineOutput {
  std::int64_t batch = 0, classes = 0;
  std::vector<double> logits;  // [batch, classes]
  // With keep_levels: every activation tensor's levels, [N, H, W, C] (tensor
  // 0: the framed input pixels).
  std::vector<std::vector<std::uint8_t>> levels;
  int argmax(std::int64_t row) const;
};

// One activation tensor's shape (per image).
struct TensorShape {
  std::int64_t channels = 0, height = 0, width = 0;
  std::int64_t numel() const { return channels * height * width; }
};

class Engine {
 public:
  explicit Engine(IntegerModel model);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // images: uint8 pixels [n, channels, height, width], height and width at
  // most the model's frame (smaller images are centred in it with zero
  // pixels: floor(half) of the margin above and left, as data::center_crop).
  void run(const std::uint8_t* images, std::int64_t n, std::int64_t channels, std::int64_t height,
           std::int64_t width, EngineOutput& out, bool keep_levels = false);

  // Layer by layer (comparisons with fake-quant): replace the levels of an
  // activation tensor of the last batch of n images ([n, H, W, C]), run one
  // conv on the current levels of its inputs, read a tensor's levels.
  void set_levels(int tensor, std::int64_t n, const std::vector<std::uint8_t>& levels);
  void run_conv(std::size_t index, std::int64_t n);
  void run_pool(std::size_t index, std::int64_t n);
  // (set_levels, run_conv, run_pool and levels act on the layer-by-layer
  // buffers, the ones run() uses with keep_levels.)
  const std::vector<std::uint8_t>& levels(int tensor) const {
    return spaces_[0].buffers[static_cast<std::size_t>(tensor)];
  }

  // Images per chunk in throughput mode.
  static constexpr std::int64_t kChunk = 8;

  const IntegerModel& model() const { return model_; }
  const TensorShape& shape(int tensor) const { return shapes_[static_cast<std::size_t>(tensor)]; }
  // Only the oneDNN int8 convolutions of a batch of n (after a run() of n
  // images, in the same mode), on whatever levels the buffers hold: what the
  // engine's arithmetic costs without requantization, framing or the head
  // (the bench's int8 roofline).
  void run_convolutions_only(std::int64_t n);
  // Multiply-adds of one image's convolutions and classifier.
  std::int64_t macs_per_image() const;

 private:
  struct Layer;  // per conv: requantization tables, oneDNN state per batch size
  // What one thread (throughput mode) or the whole batch works in.
  struct Workspace {
    std::vector<std::vector<std::uint8_t>> buffers;  // per tensor, [n, H, W, C]
    std::vector<std::int32_t> acc;                   // one conv's int32 sums, [n, H, W, O]
    std::vector<std::int32_t> pacc;                  // its projection shortcut's sums
    std::vector<std::uint8_t> scratch;               // oneDNN's scratchpad
  };
  // The oneDNN primitives of batch size n (created before threads use them).
  void prepare(std::int64_t n);
  bool throughput_mode(std::int64_t n, bool keep_levels) const;
  // A workspace per OpenMP thread (throughput mode).
  void ensure_thread_spaces();
  // Every tensor's buffer in ws at least n images long.
  void size_inputs(std::int64_t n, Workspace& ws) const;
  void frame(const std::uint8_t* images, std::int64_t n, std::int64_t channels, std::int64_t height,
             std::int64_t width, Workspace& ws) const;
  // One conv on ws; `parallel`: its requantization uses every thread.
  void conv(std::size_t index, std::int64_t n, Workspace& ws, bool parallel, bool requant = true);
  void pool(std::size_t index, std::int64_t n, Workspace& ws, bool parallel) const;
  // Conv `index` and the pools that follow it.
  void step(std::size_t index, std::int64_t n, Workspace& ws, bool parallel);
  void head(std::int64_t n, const Workspace& ws, double* logits) const;

  IntegerModel model_;
  std::vector<TensorShape> shapes_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Workspace> spaces_;  // [0]: a whole batch; [1 + t]: thread t's chunks
  std::vector<std::vector<std::size_t>> pools_after_;  // per conv, the pools that follow it
};

}  // namespace mpq::deploy
