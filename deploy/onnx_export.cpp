#include "deploy/onnx_export.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/error.h"
#include "deploy/protobuf.h"
#include "train/json.h"

// Field numbers and enums of onnx.proto (ONNX 1.16):
//   ModelProto       ir_version 1, producer_name 2, producer_version 3,
//                    graph 7, opset_import 8, metadata_props 14
//   OperatorSetId    domain 1, version 2
//   StringStringEntry key 1, value 2
//   GraphProto       node 1, name 2, initializer 5, input 11, output 12
//   NodeProto        input 1, output 2, name 3, op_type 4, attribute 5
//   AttributeProto   name 1, f 2, i 3, ints 8, type 20 (FLOAT 1, INT 2, INTS 7)
//   TensorProto      dims 1, data_type 2, name 8, raw_data 9
//                    (FLOAT 1, UINT8 2, INT8 3, INT64 7, INT4 22)
//   ValueInfoProto   name 1, type 2; TypeProto tensor_type 1;
//   TypeProto.Tensor elem_type 1, shape 2; TensorShapeProto dim 1;
//   Dimension        dim_value 1, dim_param 2

namespace mpq::deploy {

namespace {

enum DataType : int { kFloat = 1, kUint8 = 2, kInt8 = 3, kInt64 = 7, kInt4 = 22 };

class Graph {
 public:
  // A node; returns its (first) output's name.
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::string& output, const std::vector<Message>& attributes = {}) {
    Message n;
    for (const std::string& i : inputs) n.string(1, i);
    n.string(2, output);
    n.string(3, output + ":" + op);
    n.string(4, op);
    for (const Message& a : attributes) n.message(5, a);
    graph_.message(1, n);
    return output;
  }
  static Message ints(const std::string& name, const std::vector<std::int64_t>& v) {
    Message a;
    a.string(1, name);
    a.varint(20, 7);
    for (const std::int64_t x : v) a.signed_varint(8, x);
    return a;
  }
  static Message integer(const std::string& name, std::int64_t v) {
    Message a;
    a.string(1, name);
    a.varint(20, 2);
    a.signed_varint(3, v);
    return a;
  }
  std::string tensor(const std::string& name, int type, const std::vector<std::int64_t>& dims,
                     std::span<const std::uint8_t> raw) {
    Message t;
    for (const std::int64_t d : dims) t.signed_varint(1, d);
    t.varint(2, static_cast<std::uint64_t>(type));
    t.string(8, name);
    t.bytes(9, raw);
    graph_.message(5, t);
    return name;
  }
  std::string floats(const std::string& name, const std::vector<std::int64_t>& dims,
                     const std::vector<float>& v) {
    return tensor(name, kFloat, dims,
                  {reinterpret_cast<const std::uint8_t*>(v.data()), 4 * v.size()});
  }
  std::string int64s(const std::string& name, const std::vector<std::int64_t>& v) {
    return tensor(name, kInt64, {static_cast<std::int64_t>(v.size())},
                  {reinterpret_cast<const std::uint8_t*>(v.data()), 8 * v.size()});
  }
  void value(int field, const std::string& name, const std::vector<std::int64_t>& dims) {
    Message shape;
    for (const std::int64_t d : dims) {
      Message dim;
      if (d < 0) {
        dim.string(2, "batch");
      } else {
        dim.signed_varint(1, d);
      }
      shape.message(1, dim);
    }
    Message tensor_type;
    tensor_type.varint(1, kFloat);
    tensor_type.message(2, shape);
    Message type;
    type.message(1, tensor_type);
    Message v;
    v.string(1, name);
    v.message(2, type);
    graph_.message(field, v);
  }
  Message& proto() { return graph_; }

 private:
  Message graph_;
};

// A weight as an integer initializer and its DequantizeLinear; returns the
// float weight's name. INT4 (opset 21) when every level fits [-8, 7].
std::string weight(Graph& g, const std::string& name, const WeightTensor& w, int opset,
                   std::int64_t& weight_bytes) {
  if (!w.values.empty()) {  // a float network's weight, as it is
    weight_bytes += static_cast<std::int64_t>(4 * w.values.size());
    return g.floats(name, w.shape, w.values);
  }
  bool int4 = opset >= 21 && w.grid.bits <= 4;
  for (const std::int32_t l : w.levels) int4 = int4 && l >= -8 && l <= 7;
  std::vector<std::uint8_t> raw;
  if (int4) {
    // Two values per byte, the first in the low nibble (ONNX's packing).
    raw.assign((w.levels.size() + 1) / 2, 0);
    for (std::size_t i = 0; i < w.levels.size(); ++i)
      raw[i / 2] |= static_cast<std::uint8_t>((w.levels[i] & 0xf) << (4 * (i % 2)));
  } else {
    for (const std::int32_t l : w.levels)
      raw.push_back(static_cast<std::uint8_t>(static_cast<std::int8_t>(l)));
  }
  weight_bytes += static_cast<std::int64_t>(raw.size());
  const int type = int4 ? kInt4 : kInt8;
  const std::string q = g.tensor(name + "_q", type, w.shape, raw);
  const std::string scale = g.floats(name + "_scale", {}, {std::ldexp(1.0f, w.grid.step_exp)});
  const std::uint8_t zero[1] = {0};
  const std::string zp = g.tensor(name + "_zero", type, {}, zero);
  return g.node("DequantizeLinear", {q, scale, zp}, name);
}

}  // namespace

std::string onnx_model(const IntegerModel& m, const OnnxOptions& o, OnnxSizes* sizes) {
  m.check();
  MPQ_CHECK(o.opset == 21 || o.opset == 13, "onnx: opset ", o.opset, " (use 21 or 13)");
  for (int t = 1; t < m.num_tensors; ++t)
    MPQ_CHECK(m.tensor_grids[static_cast<std::size_t>(t)].kind == GridKind::uniform,
              "onnx: ", m.tensor_names[static_cast<std::size_t>(t)],
              " is a power-of-two activation quantizer; ONNX's QuantizeLinear is uniform, so "
              "the export would not compute the same network (use mpq export's .mpqm format)");
  Graph g;
  std::int64_t weight_bytes = 0;
  const InputSpec& in = m.input;
  g.value(11, "input", {-1, in.channels, in.height, in.width});
  std::vector<std::string> value(static_cast<std::size_t>(m.num_tensors));
  value[0] = "input";
  // Every tensor's channels (IntegerModel::check has checked the graph).
  std::vector<std::int64_t> channels(static_cast<std::size_t>(m.num_tensors), in.channels);
  for (std::size_t k = 0; k < m.convs.size(); ++k) {
    channels[static_cast<std::size_t>(m.convs[k].output)] = m.convs[k].out_channels;
    for (const PoolNode& p : m.pools)
      if (p.after == static_cast<int>(k))
        channels[static_cast<std::size_t>(p.output)] = m.convs[k].out_channels;
  }
  auto column = [](std::int64_t c) { return std::vector<std::int64_t>{c, 1, 1}; };
  for (std::size_t k = 0; k < m.convs.size(); ++k) {
    const ConvNode& c = m.convs[k];
    const std::string& n = c.name;
    const std::string w = weight(g, n + ".weight", c.weight, o.opset, weight_bytes);
    std::string y = g.node("Conv", {value[static_cast<std::size_t>(c.input)], w}, n + ".conv",
                           {Graph::ints("kernel_shape", {c.kernel, c.kernel}),
                            Graph::ints("strides", {c.stride, c.stride}),
                            Graph::ints("pads", {c.padding, c.padding, c.padding, c.padding}),
                            Graph::integer("group", c.groups)});
    // The folded batch norm, as the engine reads it: y = scale conv + shift.
    y = g.node("Mul", {y, g.floats(n + ".bn_scale", column(c.out_channels), c.scale)},
               n + ".scaled");
    y = g.node("Add", {y, g.floats(n + ".bn_shift", column(c.out_channels), c.shift)}, n + ".bn");
    if (c.residual) {
      const std::string x = value[static_cast<std::size_t>(c.residual->tensor)];
      std::string s;
      if (c.projection) {
        const Projection& p = *c.projection;
        const std::string pw = weight(g, n + ".projection.weight", p.weight, o.opset, weight_bytes);
        s = g.node("Conv", {x, pw}, n + ".projection",
                   {Graph::ints("kernel_shape", {p.kernel, p.kernel}),
                    Graph::ints("strides", {p.stride, p.stride}),
                    Graph::ints("pads", {p.padding, p.padding, p.padding, p.padding})});
        s = g.node("Mul",
                   {s, g.floats(n + ".projection.bn_scale", column(c.out_channels), p.scale)},
                   n + ".projection.scaled");
        s = g.node("Add",
                   {s, g.floats(n + ".projection.bn_shift", column(c.out_channels), p.shift)},
                   n + ".projection.bn");
      } else {
        s = x;
        const std::int64_t rs = c.residual->stride;
        if (rs != 1) {
          const std::int64_t end = std::numeric_limits<std::int64_t>::max();
          s = g.node(
              "Slice",
              {s, g.int64s(n + ".shortcut_starts", {0, 0}),
               g.int64s(n + ".shortcut_ends", {end, end}), g.int64s(n + ".shortcut_axes", {2, 3}),
               g.int64s(n + ".shortcut_steps", {rs, rs})},
              n + ".shortcut_subsampled");
        }
        // Zero channels around the input's: option A.
        const std::int64_t in_channels = channels[static_cast<std::size_t>(c.residual->tensor)];
        const std::int64_t before = c.residual->channel_offset;
        const std::int64_t after = c.out_channels - in_channels - before;
        if (before != 0 || after != 0)
          s = g.node("Pad", {s, g.int64s(n + ".shortcut_pads", {0, before, 0, 0, 0, after, 0, 0})},
                     n + ".shortcut");
      }
      y = g.node("Add", {y, s}, n + ".sum");
    }
    const std::string act = c.out_name;
    if (m.float_network) {
      value[static_cast<std::size_t>(c.output)] = g.node("Relu", {y}, act);
    } else {
      // The activation quantizer: Clip(0, L step), onto its grid and back.
      const float step = std::ldexp(1.0f, c.out.step_exp);
      y = g.node("Clip",
                 {y, g.floats(act + ".min", {}, {0.0f}),
                  g.floats(act + ".max", {}, {static_cast<float>(c.out.top) * step})},
                 act + ".clipped");
      const std::string sc = g.floats(act + ".scale", {}, {step});
      const std::uint8_t zero[1] = {0};
      const std::string zp = g.tensor(act + ".zero", kUint8, {}, zero);
      y = g.node("QuantizeLinear", {y, sc, zp}, act + ".q");
      value[static_cast<std::size_t>(c.output)] = g.node("DequantizeLinear", {y, sc, zp}, act);
    }
    for (const PoolNode& p : m.pools)
      if (p.after == static_cast<int>(k))
        value[static_cast<std::size_t>(p.output)] =
            g.node("MaxPool", {value[static_cast<std::size_t>(p.input)]}, p.name,
                   {Graph::ints("kernel_shape", {p.kernel, p.kernel}),
                    Graph::ints("strides", {p.stride, p.stride}),
                    Graph::ints("pads", {p.padding, p.padding, p.padding, p.padding})});
  }
  const HeadNode& h = m.head;
  std::string y = g.node("GlobalAveragePool", {value[static_cast<std::size_t>(h.input)]}, "pool");
  y = g.node("Flatten", {y}, "features", {Graph::integer("axis", 1)});
  const std::string fw = weight(g, "fc.weight", h.weight, o.opset, weight_bytes);
  std::vector<std::string> gemm{y, fw};
  if (h.bias) gemm.push_back(weight(g, "fc.bias", *h.bias, o.opset, weight_bytes));
  if (!h.float_bias.empty()) gemm.push_back(g.floats("fc.bias", {h.classes}, h.float_bias));
  g.node("Gemm", gemm, "logits", {Graph::integer("transB", 1)});
  g.value(12, "logits", {-1, h.classes});
  g.proto().string(2, m.model);

  // What a user needs to feed raw images, and the learned bitwidths.
  train::Json::Array mean, stddev;
  for (std::size_t c = 0; c < in.mean.size(); ++c) {
    mean.emplace_back(in.mean[c] / 255.0);
    stddev.emplace_back(in.std[c] / 255.0);
  }
  const std::int64_t image = o.image_size > 0 ? o.image_size : in.height;
  MPQ_CHECK(image <= in.height && image <= in.width, "onnx: images of ", image,
            " pixels do not fit the model's ", in.height, "x", in.width, " frame");
  train::Json preprocess = train::Json::Object{
      {"pad", train::Json((in.height - image) / 2)},
      {"pad_value", train::Json(0)},
      {"mean", train::Json(std::move(mean))},
      {"std", train::Json(std::move(stddev))},
      {"input_shape", train::Json::Array{train::Json(1), train::Json(in.channels),
                                         train::Json(in.height), train::Json(in.width)}},
      {"classes", train::Json(h.classes)}};
  train::Json::Object bits;
  for (const ConvNode& c : m.convs) {
    if (m.float_network) break;  // 32 bits everywhere: no entry
    bits[c.name + ".weight"] = train::Json(c.weight.grid.bits);
    if (c.projection)
      bits[c.name + ".projection.weight"] = train::Json(c.projection->weight.grid.bits);
    bits[c.out_name] = train::Json(c.out.bits);
  }
  if (!m.float_network) {
    bits["fc.weight"] = train::Json(h.weight.grid.bits);
    if (h.bias) bits["fc.bias"] = train::Json(h.bias->grid.bits);
  }

  Message model;
  model.varint(1, o.opset >= 21 ? 10 : 7);
  model.string(2, "mpq");
  model.string(3, o.producer_version);
  model.message(7, g.proto());
  Message opset;
  opset.string(1, "");
  opset.varint(2, static_cast<std::uint64_t>(o.opset));
  model.message(8, opset);
  for (const auto& [key, text] :
       {std::pair<std::string, std::string>{"mpq.preprocess", preprocess.dump()},
        {"mpq.bitwidths", train::Json(std::move(bits)).dump()}}) {
    Message e;
    e.string(1, key);
    e.string(2, text);
    model.message(14, e);
  }
  if (sizes) {
    sizes->weights = weight_bytes;
    sizes->total = static_cast<std::int64_t>(model.bytes().size());
  }
  return model.bytes();
}

}  // namespace mpq::deploy
