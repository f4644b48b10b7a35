// Module: the building block of networks, shaped like PyTorch's nn.Module.
//
// A module owns named parameters (trainable tensors), buffers (state such as
// BN running statistics), quantizers and child modules. Names are
// hierarchical, joined with '.', in registration order:
// "layer2.1.conv1.weight". The state dict holds every parameter and buffer
// (and the raw parameters of every quantizer, as "<quantizer>.<raw name>"),
// and loading it checks names, shapes and dtypes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "quant/quantizer.h"

namespace mpq::models {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// One place where a tensor of the network is (or could be) quantized.
struct QuantSite {
  enum class Kind { weight, bias, activation };
  std::string name;  // e.g. "layer1.0.conv1.weight", "layer1.0.act1"
  Kind kind;
  const quant::Quantizer* quantizer;  // null: stays float (32 bits)
  std::int64_t count;  // elements (weights) or C*H*W per sample (activations; 0 before a forward)
};

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // ---- hierarchy ----
  NamedTensors named_parameters(const std::string& prefix = "") const;  // trainable only
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers(const std::string& prefix = "") const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const {
    return children_;
  }
  // The descendant at a dotted path of child names ("layer1.0.conv1"), or null.
  Module* find(const std::string& path) const;
  std::vector<QuantSite> quant_sites(const std::string& prefix = "") const;
  std::vector<std::shared_ptr<quant::Quantizer>> quantizers() const;
  // Parameters of the network (weights, BN) and of its quantizers, separately
  // (the paper trains both, optimizers may treat them apart).
  std::vector<Tensor> model_parameters() const;
  std::vector<Tensor> quantizer_parameters() const;
  std::int64_t num_parameters() const;  // trainable elements, quantizer parameters excluded

  // ---- mode ----
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- device ----
  // Moves every parameter, buffer and quantizer parameter (this module's and
  // its children's) to `device` in place; references to them stay valid.
  // Optimizers built before the move keep working (their state moves with the
  // first step that finds it on another device).
  void to(Device device);
  // The device of the first parameter or buffer (CPU for a module with none).
  Device device() const;

  // ---- state ----
  NamedTensors state_dict() const;
  // Copies every entry into the module's tensors. Errors list missing and
  // unexpected names, and any shape or dtype mismatch.
  void load_state_dict(const NamedTensors& state);

 protected:
  Tensor register_parameter(const std::string& name, Tensor t, bool trainable = true);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }
  // Adds, replaces (same name) or, for a null q, removes a quantizer.
  void set_quantizer(const std::string& name, std::shared_ptr<quant::Quantizer> q);
  // Sites this module itself declares (not its children); quantized layers override.
  virtual std::vector<QuantSite> own_quant_sites(const std::string& prefix) const;

 private:
  // Stored as shared handles so that returned references stay valid.
  std::vector<std::pair<std::string, Tensor>> params_, buffers_;
  std::vector<bool> trainable_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::vector<std::pair<std::string, std::shared_ptr<quant::Quantizer>>> quantizers_;
  bool training_ = true;

  void collect_state(const std::string& prefix, NamedTensors& out) const;
};

// "a" + "b" -> "a.b"; "" + "b" -> "b".
std::string join_name(const std::string& prefix, const std::string& name);

}  // namespace mpq::models
