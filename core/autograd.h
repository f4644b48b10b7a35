// Dynamic autograd tape.
//
// Every differentiable op that sees an input with requires_grad records a
// Node on its result. The node keeps exactly what its backward needs (inside
// the backward closure) and one Edge per input: to the node that produced the
// input, or to the AccumulateGrad node of a leaf. backward() walks the nodes
// in reverse topological order, sums the gradients that reach a node from its
// consumers, and releases each node's saved tensors once it has run unless the
// graph is retained.
//
// Gradients of leaves accumulate (+=) into Tensor::grad(); gradients of
// intermediate results are never stored.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mpq {

struct Edge {
  std::shared_ptr<Node> node;  // null: this input needs no gradient
};

class Node {
 public:
  explicit Node(std::string name) : name_(std::move(name)) {}
  virtual ~Node() = default;
  // Gradient w.r.t. each input, given the gradient w.r.t. the output. An
  // undefined tensor in the result means "no gradient for that input".
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  // Frees saved state after backward (unless retain_graph).
  virtual void release() {}
  const std::string& name() const { return name_; }
  std::vector<Edge> next;

 private:
  std::string name_;
};

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

// A node whose backward is a closure; the closure's captures are its saved
// tensors, dropped by release().
class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, BackwardFn fn) : Node(std::move(name)), fn_(std::move(fn)) {}
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  void release() override { fn_ = nullptr; }

 private:
  BackwardFn fn_;
};

// Accumulates into the gradient of one leaf.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf)
      : Node("AccumulateGrad"), leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(const Tensor& grad_output) override;

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// Whether ops record onto the tape on this thread.
bool grad_mode_enabled();

// RAII: disables recording in its scope (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad mode is on and any input requires a gradient.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);

// Records `output` as the result of op `name` applied to `inputs` when any of
// them requires a gradient (and grad mode is on); returns output. `fn` maps
// the output's gradient to one gradient per input (undefined = none).
Tensor record(const char* name, Tensor output, std::initializer_list<const Tensor*> inputs,
              BackwardFn fn);
Tensor record(const char* name, Tensor output, const std::vector<Tensor>& inputs, BackwardFn fn);

// Runs backward from root with the given upstream gradient.
void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph);

}  // namespace mpq
