// Shared oneDNN state: one CPU engine and stream for the process, and a
// per-shape cache for primitives so that each configuration is created once.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/tensor.h"

namespace mpq::cpu::onednn {

dnnl::engine& engine();
dnnl::stream& stream();

// Plain (row-major, strided) memory descriptor of a float32 tensor.
dnnl::memory::desc plain_desc(const Tensor& t);
dnnl::memory::desc plain_desc(const Shape& shape, const Strides& strides);

// A memory object wrapping a tensor's data (no copy).
dnnl::memory wrap(const Tensor& t);
dnnl::memory wrap(const Tensor& t, const dnnl::memory::desc& desc);

// Returns a memory in `want` layout holding the contents of `have`: `have`
// itself when the layouts match, otherwise a reorder into `scratch`, which is
// (re)allocated as needed and keeps the buffer for the next call.
dnnl::memory to_layout(const dnnl::memory& have, const dnnl::memory::desc& want,
                       std::shared_ptr<Tensor>& scratch);
// Reorders src into dst (any layouts).
void reorder(const dnnl::memory& src, const dnnl::memory& dst);

// Cache of objects keyed by a string describing the configuration.
template <class T>
class Cache {
 public:
  template <class Make>
  T& get(const std::string& key, Make&& make) {
    auto it = map_.find(key);
    if (it == map_.end()) it = map_.emplace(key, std::make_unique<T>(make())).first;
    return *it->second;
  }
  std::size_t size() const { return map_.size(); }

 private:
  std::unordered_map<std::string, std::unique_ptr<T>> map_;
};

}  // namespace mpq::cpu::onednn
