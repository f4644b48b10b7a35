#include "core/autograd.h"

#include "core/layout.h"

#include <unordered_map>
#include <unordered_set>

#include "core/backend.h"
#include "core/copy.h"

namespace mpq {

namespace {
thread_local bool g_grad_mode = true;

// The AccumulateGrad node of a leaf, shared by every op that uses the leaf
// while a graph is alive.
std::shared_ptr<Node> grad_accumulator(const std::shared_ptr<TensorImpl>& leaf) {
  if (auto node = leaf->grad_accumulator.lock()) return node;
  auto node = std::make_shared<AccumulateGrad>(leaf);
  leaf->grad_accumulator = node;
  return node;
}

Edge edge_for(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  if (t.grad_fn()) return {t.grad_fn()};
  return {grad_accumulator(t.impl_ptr())};
}
}  // namespace

bool grad_mode_enabled() {
  return g_grad_mode;
}

NoGradGuard::NoGradGuard() : previous_(g_grad_mode) {
  g_grad_mode = false;
}
NoGradGuard::~NoGradGuard() {
  g_grad_mode = previous_;
}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad_output) {
  MPQ_CHECK(fn_ != nullptr, "backward: the graph through '", name(),
            "' was already freed by an earlier backward(); pass retain_graph = true to the first "
            "backward() to run it twice");
  return fn_(grad_output);
}

namespace {

// Gradient sums, run by the backward pass (under NoGradGuard, so nothing is
// recorded) through the backend table's add kernel: core needs no op.
// a + b into a new tensor, broadcast, in the layout ops::add gives it.
Tensor grad_sum(const Tensor& a, const Tensor& b_in) {
  const Tensor b = b_in.dtype() == a.dtype() ? b_in : b_in.to(a.dtype());
  check_same_device("backward", {&a, &b});
  const Shape s = broadcast_shapes(a.shape(), b.shape(), "backward");
  Tensor out = empty_result_like(s, a.dtype(), {&a, &b});
  backend(out.device())
      .binary(BinaryOp::add, a.detach().expand(s), b.detach().expand(s), out, 0, 0);
  return out;
}

// dst += src in place (src broadcast to dst's shape).
void grad_accumulate(const Tensor& dst, const Tensor& src) {
  check_same_device("backward", {&dst, &src});
  backend(dst.device()).binary(BinaryOp::add, dst, src.detach().expand(dst.shape()), dst, 0, 0);
}

}  // namespace

std::vector<Tensor> AccumulateGrad::apply(const Tensor& g) {
  TensorImpl& leaf = *leaf_;
  MPQ_CHECK(g.shape() == leaf.shape, "AccumulateGrad: gradient of shape ", shape_str(g.shape()),
            " for a leaf of shape ", shape_str(leaf.shape));
  Tensor gc = g.dtype() == leaf.dtype ? g : g.to(leaf.dtype);
  if (!leaf.grad) {
    // The gradient takes the leaf's layout when the leaf is dense (a
    // channels-last leaf gets a channels-last gradient), row-major otherwise.
    Tensor copy = empty_dense_like(Tensor(leaf_));
    copy_elements(copy, gc);
    leaf.grad = copy.impl_ptr();
  } else {
    grad_accumulate(Tensor(leaf.grad), gc);
  }
  return {};
}

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_mode) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

Tensor record(const char* name, Tensor output, std::initializer_list<const Tensor*> inputs,
              BackwardFn fn) {
  if (!any_requires_grad(inputs)) return output;
  auto node = std::make_shared<FunctionNode>(name, std::move(fn));
  node->next.reserve(inputs.size());
  for (const Tensor* t : inputs) node->next.push_back(edge_for(*t));
  output.impl().requires_grad = true;
  output.impl().grad_fn = std::move(node);
  return output;
}

Tensor record(const char* name, Tensor output, const std::vector<Tensor>& inputs, BackwardFn fn) {
  bool any = false;
  if (g_grad_mode)
    for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return output;
  auto node = std::make_shared<FunctionNode>(name, std::move(fn));
  node->next.reserve(inputs.size());
  for (const Tensor& t : inputs) node->next.push_back(edge_for(t));
  output.impl().requires_grad = true;
  output.impl().grad_fn = std::move(node);
  return output;
}

void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph) {
  MPQ_CHECK(root.requires_grad(),
            "backward: the tensor does not require grad (no op that produced "
            "it had an input with requires_grad)");
  Tensor g = grad_output;
  if (!g.defined()) {
    MPQ_CHECK(root.numel() == 1,
              "backward: a gradient must be given for a non-scalar output of shape ",
              shape_str(root.shape()));
    g = ones(root.shape(), root.dtype(), root.device());
  }
  MPQ_CHECK(g.shape() == root.shape(), "backward: gradient of shape ", shape_str(g.shape()),
            " for an output of shape ", shape_str(root.shape()));
  MPQ_CHECK(g.dtype() == root.dtype() && g.device() == root.device(), "backward: gradient is ",
            dtype_name(g.dtype()), " on ", g.device().str(), " but the output is ",
            dtype_name(root.dtype()), " on ", root.device().str());
  NoGradGuard no_grad;
  Edge root_edge = edge_for(root);

  // Count, for each node reachable from the root, how many edges point at it.
  std::unordered_map<Node*, int> dependencies;
  {
    std::vector<Node*> stack{root_edge.node.get()};
    std::unordered_set<Node*> seen{root_edge.node.get()};
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (const Edge& e : n->next) {
        if (!e.node) continue;
        ++dependencies[e.node.get()];
        if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
      }
    }
  }

  // Kahn's algorithm: a node runs once every consumer has sent its gradient.
  std::unordered_map<Node*, Tensor> buffers;
  buffers[root_edge.node.get()] = g;
  std::vector<std::shared_ptr<Node>> ready{root_edge.node};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    Tensor grad;
    if (auto it = buffers.find(node.get()); it != buffers.end()) {
      grad = std::move(it->second);
      buffers.erase(it);
    }
    std::vector<Tensor> input_grads;
    if (grad.defined()) input_grads = node->apply(grad);
    if (!retain_graph) node->release();
    for (std::size_t i = 0; i < node->next.size(); ++i) {
      const Edge& e = node->next[i];
      if (!e.node) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        Tensor& buf = buffers[e.node.get()];
        buf = buf.defined() ? grad_sum(buf, input_grads[i]) : input_grads[i];
      }
      if (--dependencies[e.node.get()] == 0) ready.push_back(e.node);
    }
  }
}

}  // namespace mpq
