#include "deploy/model_file.h"

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <span>

#include "core/error.h"
#include "core/file_io.h"
#include "deploy/pack.h"
#include "train/json.h"

// The header, compact because it counts against the file's size:
//   {"format": "mpq integer model", "model": "resnet20", "source": "...",
//    "input": [C, H, W, [mean per channel], [std per channel]],
//    "tensors": [["input"], [name, grid...], ...],
//    "convs": [[name, input, output, in_channels, out_channels, kernel, stride,
//               padding, groups, weight grid, residual, projection], ...],
//    "pools": [[name, after conv, input, output, kernel, stride, padding], ...],
//    "head": [input, classes, weight grid, bias grid or null, float bias (0/1)]}
// A grid is [kind (0 uniform, 1 power of two), signed, with zero, bits,
// step exponent, L or K]; a residual is [] or [tensor, stride, channel
// offset]; a projection is [] or [kernel, stride, padding, weight grid].
// Conv weights are [out, in / groups, kernel, kernel]; a tensor's grid is the
// one of the quantizer that writes it (tensor 0, the input, has none).

namespace mpq::deploy {

namespace {

constexpr char kMagic[8] = {'M', 'P', 'Q', 'M', 'O', 'D', 'E', 'L'};
constexpr const char* kFormat = "mpq integer model";

std::uint32_t crc32_of(const char* data, std::size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}

std::uint32_t get_u32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int k = 0; k < 4; ++k)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + static_cast<std::size_t>(k)]))
         << (8 * k);
  return v;
}

train::Json grid_json(const Grid& g) {
  return train::Json::Array{train::Json(g.kind == GridKind::uniform ? 0 : 1),
                            train::Json(g.is_signed ? 1 : 0),
                            train::Json(g.with_zero ? 1 : 0),
                            train::Json(g.bits),
                            train::Json(g.step_exp),
                            train::Json(g.top)};
}

void put_floats(std::string& out, const std::vector<float>& v) {
  if (v.empty()) return;
  const std::size_t at = out.size();
  out.resize(at + 4 * v.size());
  std::memcpy(out.data() + at, v.data(), 4 * v.size());  // x86-64: little-endian
}

void put_weight(std::string& out, const WeightTensor& w) {
  const std::vector<std::int32_t> codes = codes_of_levels(w.grid, w.levels);
  const bool two_complement = w.grid.kind == GridKind::uniform && w.grid.is_signed;
  const std::vector<std::uint8_t> packed = pack_codes(codes, w.grid.bits, two_complement);
  out.append(reinterpret_cast<const char*>(packed.data()), packed.size());
}

// ---- reading ---------------------------------------------------------------

// Reads a header field with the file's name and the field's place in errors.
class Reader {
 public:
  explicit Reader(std::string name) : name_(std::move(name)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    MPQ_FAIL(name_, ": ", where, ": ", what);
  }
  std::int64_t integer(const train::Json& j, const std::string& where, std::int64_t lo,
                       std::int64_t hi) const {
    if (!j.is_number()) fail(where, "expected an integer");
    const double d = j.number();
    if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != std::floor(d))
      fail(where, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                      "], got " + j.dump());
    return static_cast<std::int64_t>(d);
  }
  double number(const train::Json& j, const std::string& where) const {
    if (!j.is_number() || !std::isfinite(j.number())) fail(where, "expected a finite number");
    return j.number();
  }
  const std::string& string(const train::Json& j, const std::string& where) const {
    if (!j.is_string()) fail(where, "expected a string");
    return j.string();
  }
  const train::Json::Array& array(const train::Json& j, const std::string& where,
                                  std::size_t min_size, std::size_t max_size) const {
    if (!j.is_array()) fail(where, "expected an array");
    const auto& a = j.array();
    if (a.size() < min_size || a.size() > max_size)
      fail(where, "expected " + std::to_string(min_size) +
                      (min_size == max_size ? "" : " to " + std::to_string(max_size)) +
                      " entries, got " + std::to_string(a.size()));
    return a;
  }
  const train::Json& field(const train::Json& j, const std::string& key) const {
    if (!j.is_object() || !j.has(key)) fail("header", "no field '" + key + "'");
    return j.at(key);
  }
  Grid grid(const train::Json& j, const std::string& where) const {
    const auto& a = array(j, where, 6, 6);
    Grid g;
    g.kind = integer(a[0], where + " kind", 0, 1) == 0 ? GridKind::uniform : GridKind::pow2;
    g.is_signed = integer(a[1], where + " signed", 0, 1) == 1;
    g.with_zero = integer(a[2], where + " with zero", 0, 1) == 1;
    g.bits = static_cast<int>(integer(a[3], where + " bits", kMinPackBits, kMaxPackBits));
    g.step_exp = static_cast<int>(integer(a[4], where + " step exponent", -64, 64));
    g.top = static_cast<int>(
        integer(a[5], where + " top level", 0, g.kind == GridKind::uniform ? 255 : 30));
    return g;
  }

 private:
  std::string name_;
};

// The data section, consumed front to back.
class DataCursor {
 public:
  DataCursor(const std::string& bytes, std::size_t begin, std::size_t end, std::string name)
      : bytes_(bytes), at_(begin), end_(end), name_(std::move(name)) {}
  std::span<const std::uint8_t> take(std::size_t n, const std::string& what) {
    MPQ_CHECK(n <= end_ - at_, name_, ": the data section ends inside ", what, " (", n,
              " bytes needed, ", end_ - at_, " left)");
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes_.data() + at_);
    at_ += n;
    return {p, n};
  }
  std::vector<float> floats(std::int64_t count, const std::string& what) {
    const auto bytes = take(4 * static_cast<std::size_t>(count), what);
    per_channel_ += static_cast<std::int64_t>(bytes.size());
    std::vector<float> v(static_cast<std::size_t>(count));
    std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
  }
  // The packed codes of w (its shape and grid already read): take() checks
  // their size against the bytes left before unpacking allocates anything.
  void weight(WeightTensor& w, const std::string& what) {
    const bool two_complement = w.grid.kind == GridKind::uniform && w.grid.is_signed;
    const auto bytes = take(packed_size(w.numel(), w.grid.bits), what);
    packed_ += static_cast<std::int64_t>(bytes.size());
    try {
      w.levels =
          levels_of_codes(w.grid, unpack_codes(bytes, w.numel(), w.grid.bits, two_complement));
    } catch (const Error& e) {
      MPQ_FAIL(name_, ": ", what, ": ", e.what());
    }
  }
  // Bytes read so far as packed weights and as float32 per-channel arrays.
  std::int64_t packed() const { return packed_; }
  std::int64_t per_channel() const { return per_channel_; }
  std::size_t left() const { return end_ - at_; }

 private:
  const std::string& bytes_;
  std::size_t at_, end_;
  std::string name_;
  std::int64_t packed_ = 0, per_channel_ = 0;
};

}  // namespace

std::string serialize_model(const IntegerModel& m, ModelFileSizes* sizes) {
  MPQ_CHECK(!m.float_network,
            "model file: a float network has no integer form (export it as ONNX)");
  m.check();
  using train::Json;
  Json::Array tensors;
  for (int t = 0; t < m.num_tensors; ++t) {
    Json::Array e{Json(m.tensor_names[static_cast<std::size_t>(t)])};
    if (t > 0) {
      const Json grid = grid_json(m.tensor_grids[static_cast<std::size_t>(t)]);
      for (const Json& v : grid.array()) e.push_back(v);
    }
    tensors.emplace_back(std::move(e));
  }
  Json::Array convs;
  for (const ConvNode& c : m.convs) {
    Json::Array res, proj;
    if (c.residual)
      res = {Json(c.residual->tensor), Json(c.residual->stride), Json(c.residual->channel_offset)};
    if (c.projection)
      proj = {Json(c.projection->kernel), Json(c.projection->stride), Json(c.projection->padding),
              grid_json(c.projection->weight.grid)};
    convs.emplace_back(Json::Array{Json(c.name), Json(c.input), Json(c.output), Json(c.in_channels),
                                   Json(c.out_channels), Json(c.kernel), Json(c.stride),
                                   Json(c.padding), Json(c.groups), grid_json(c.weight.grid),
                                   Json(std::move(res)), Json(std::move(proj))});
  }
  Json::Array pools;
  for (const PoolNode& p : m.pools)
    pools.emplace_back(Json::Array{Json(p.name), Json(p.after), Json(p.input), Json(p.output),
                                   Json(p.kernel), Json(p.stride), Json(p.padding)});
  Json::Array means, stds;
  for (const double v : m.input.mean) means.emplace_back(v);
  for (const double v : m.input.std) stds.emplace_back(v);
  Json header = Json::Object{
      {"format", Json(kFormat)},
      {"model", Json(m.model)},
      {"source", Json(m.source)},
      {"input", Json::Array{Json(m.input.channels), Json(m.input.height), Json(m.input.width),
                            Json(std::move(means)), Json(std::move(stds))}},
      {"tensors", Json(std::move(tensors))},
      {"convs", Json(std::move(convs))},
      {"pools", Json(std::move(pools))},
      {"head", Json::Array{Json(m.head.input), Json(m.head.classes), grid_json(m.head.weight.grid),
                           m.head.bias ? grid_json(m.head.bias->grid) : Json(),
                           Json(m.head.float_bias.empty() ? 0 : 1)}}};
  const std::string text = header.dump();

  std::string data;
  ModelFileSizes s;
  for (const ConvNode& c : m.convs) {
    std::size_t before = data.size();
    put_weight(data, c.weight);
    s.packed_weights += static_cast<std::int64_t>(data.size() - before);
    before = data.size();
    put_floats(data, c.scale);
    put_floats(data, c.shift);
    s.per_channel += static_cast<std::int64_t>(data.size() - before);
    if (c.projection) {
      before = data.size();
      put_weight(data, c.projection->weight);
      s.packed_weights += static_cast<std::int64_t>(data.size() - before);
      before = data.size();
      put_floats(data, c.projection->scale);
      put_floats(data, c.projection->shift);
      s.per_channel += static_cast<std::int64_t>(data.size() - before);
    }
  }
  std::size_t before = data.size();
  put_weight(data, m.head.weight);
  if (m.head.bias) put_weight(data, *m.head.bias);
  s.packed_weights += static_cast<std::int64_t>(data.size() - before);
  before = data.size();
  put_floats(data, m.head.float_bias);
  s.per_channel += static_cast<std::int64_t>(data.size() - before);

  std::string out(kMagic, sizeof kMagic);
  put_u32(out, kModelFileVersion);
  put_u32(out, static_cast<std::uint32_t>(text.size()));
  out += text;
  out += data;
  put_u32(out, crc32_of(out.data(), out.size()));
  s.header = static_cast<std::int64_t>(out.size()) - s.packed_weights - s.per_channel;
  if (sizes) *sizes = s;
  return out;
}

void save_model_file(const std::string& path, const IntegerModel& model, ModelFileSizes* sizes) {
  write_file_atomic(path, serialize_model(model, sizes));
}

IntegerModel parse_model_file(const std::string& bytes, const std::string& name,
                              ModelFileSizes* sizes) {
  constexpr std::size_t kFixed = sizeof kMagic + 4 + 4;
  MPQ_CHECK(bytes.size() >= kFixed + 4, name, ": ", bytes.size(),
            " bytes: too short for an mpq model file (truncated?)");
  MPQ_CHECK(std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0, name,
            ": not an mpq model file (it does not start with MPQMODEL; write one with "
            "`mpq export`)");
  const std::uint32_t version = get_u32(bytes, sizeof kMagic);
  MPQ_CHECK(version == kModelFileVersion, name, ": format version ", version,
            "; this mpq reads version ", kModelFileVersion);
  const std::uint32_t stored = get_u32(bytes, bytes.size() - 4);
  MPQ_CHECK(crc32_of(bytes.data(), bytes.size() - 4) == stored, name,
            ": CRC-32 mismatch: the file is corrupt or truncated");
  const std::size_t header_size = get_u32(bytes, sizeof kMagic + 4);
  MPQ_CHECK(header_size <= bytes.size() - kFixed - 4, name, ": header of ", header_size,
            " bytes runs past the end of the file");
  const train::Json h = [&] {
    try {
      return train::Json::parse(bytes.substr(kFixed, header_size), name + " header");
    } catch (const Error& e) {
      MPQ_FAIL(name, ": the header is not valid JSON: ", e.what());
    }
  }();
  const Reader r(name);
  if (r.string(r.field(h, "format"), "format") != kFormat)
    r.fail("format", "expected \"" + std::string(kFormat) + "\"");

  IntegerModel m;
  m.model = r.string(r.field(h, "model"), "model");
  m.source = r.string(r.field(h, "source"), "source");
  {
    const auto& in = r.array(r.field(h, "input"), "input", 5, 5);
    m.input.channels = r.integer(in[0], "input channels", 1, 4096);
    m.input.height = r.integer(in[1], "input height", 1, 4096);
    m.input.width = r.integer(in[2], "input width", 1, 4096);
    const auto channels = static_cast<std::size_t>(m.input.channels);
    const auto& means = r.array(in[3], "input mean", channels, channels);
    const auto& stds = r.array(in[4], "input std", channels, channels);
    m.input.mean.clear();
    m.input.std.clear();
    for (std::size_t c = 0; c < channels; ++c) {
      m.input.mean.push_back(r.number(means[c], "input mean"));
      m.input.std.push_back(r.number(stds[c], "input std"));
    }
  }
  const auto& tensors = r.array(r.field(h, "tensors"), "tensors", 2, 100000);
  m.num_tensors = static_cast<int>(tensors.size());
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    const std::string where = "tensor " + std::to_string(t);
    const auto& e = r.array(tensors[t], where, t == 0 ? 1 : 7, t == 0 ? 1 : 7);
    m.tensor_names.push_back(r.string(e[0], where + " name"));
    Grid g;
    if (t > 0) {
      const train::Json::Array rest(e.begin() + 1, e.end());
      g = r.grid(train::Json(rest), where + " grid");
    }
    m.tensor_grids.push_back(g);
  }
  const auto& convs = r.array(r.field(h, "convs"), "convs", 1, 100000);
  for (std::size_t k = 0; k < convs.size(); ++k) {
    const std::string where = "conv " + std::to_string(k);
    const auto& e = r.array(convs[k], where, 12, 12);
    ConvNode c;
    c.name = r.string(e[0], where + " name");
    c.input = static_cast<int>(r.integer(e[1], where + " input", 0, m.num_tensors - 1));
    c.output = static_cast<int>(r.integer(e[2], where + " output", 1, m.num_tensors - 1));
    c.in_channels = r.integer(e[3], where + " input channels", 1, 65536);
    c.out_channels = r.integer(e[4], where + " output channels", 1, 65536);
    c.kernel = r.integer(e[5], where + " kernel", 1, 15);
    c.stride = r.integer(e[6], where + " stride", 1, 8);
    c.padding = r.integer(e[7], where + " padding", 0, 14);
    c.groups = r.integer(e[8], where + " groups", 1, 65536);
    c.weight.grid = r.grid(e[9], where + " weight grid");
    MPQ_CHECK(c.in_channels % c.groups == 0, name, ": ", where, ": ", c.in_channels,
              " input channels in ", c.groups, " groups");
    c.weight.shape = {c.out_channels, c.in_channels / c.groups, c.kernel, c.kernel};
    const auto& res = r.array(e[10], where + " residual", 0, 3);
    if (!res.empty()) {
      if (res.size() != 3) r.fail(where + " residual", "expected [] or [tensor, stride, offset]");
      Residual rd;
      rd.tensor =
          static_cast<int>(r.integer(res[0], where + " residual tensor", 1, m.num_tensors - 1));
      rd.stride = r.integer(res[1], where + " residual stride", 1, 8);
      rd.channel_offset = r.integer(res[2], where + " residual channel offset", 0, 65536);
      c.residual = rd;
    }
    const auto& proj = r.array(e[11], where + " projection", 0, 4);
    if (!proj.empty()) {
      if (proj.size() != 4 || !c.residual)
        r.fail(where + " projection",
               "expected [] or [kernel, stride, padding, grid] with a residual");
      Projection p;
      p.kernel = r.integer(proj[0], where + " projection kernel", 1, 15);
      p.stride = r.integer(proj[1], where + " projection stride", 1, 8);
      p.padding = r.integer(proj[2], where + " projection padding", 0, 14);
      p.weight.grid = r.grid(proj[3], where + " projection grid");
      c.projection = p;
    }
    c.out = m.tensor_grids[static_cast<std::size_t>(c.output)];
    c.out_name = m.tensor_names[static_cast<std::size_t>(c.output)];
    m.convs.push_back(std::move(c));
  }
  const auto& pools = r.array(r.field(h, "pools"), "pools", 0, 100000);
  for (std::size_t k = 0; k < pools.size(); ++k) {
    const std::string where = "pool " + std::to_string(k);
    const auto& e = r.array(pools[k], where, 7, 7);
    PoolNode p;
    p.name = r.string(e[0], where + " name");
    p.after = static_cast<int>(
        r.integer(e[1], where + " after", 0, static_cast<std::int64_t>(m.convs.size()) - 1));
    p.input = static_cast<int>(r.integer(e[2], where + " input", 1, m.num_tensors - 1));
    p.output = static_cast<int>(r.integer(e[3], where + " output", 1, m.num_tensors - 1));
    p.kernel = r.integer(e[4], where + " kernel", 1, 15);
    p.stride = r.integer(e[5], where + " stride", 1, 8);
    p.padding = r.integer(e[6], where + " padding", 0, 7);
    m.pools.push_back(p);
  }
  {
    const auto& e = r.array(r.field(h, "head"), "head", 5, 5);
    m.head.input = static_cast<int>(r.integer(e[0], "head input", 1, m.num_tensors - 1));
    m.head.classes = r.integer(e[1], "head classes", 1, 100000);
    m.head.weight.grid = r.grid(e[2], "head weight grid");
    if (!e[3].is_null()) {
      WeightTensor b;
      b.grid = r.grid(e[3], "head bias grid");
      b.shape = {m.head.classes};
      m.head.bias = b;
    }
    if (r.integer(e[4], "head float bias", 0, 1) == 1)
      m.head.float_bias.resize(static_cast<std::size_t>(m.head.classes));
  }

  // The data: each size is checked against what is left before it is read.
  DataCursor data(bytes, kFixed + header_size, bytes.size() - 4, name);
  std::vector<std::int64_t> channels(static_cast<std::size_t>(m.num_tensors), 0);
  channels[0] = m.input.channels;
  std::vector<std::vector<std::size_t>> pools_after(m.convs.size());
  for (std::size_t k = 0; k < m.pools.size(); ++k)
    pools_after[static_cast<std::size_t>(m.pools[k].after)].push_back(k);
  for (ConvNode& c : m.convs) {
    // The graph's channels before any data is read: a conv reads a tensor an
    // earlier layer (or the input) wrote, with that many channels.
    const auto in = static_cast<std::size_t>(c.input);
    MPQ_CHECK(channels[in] > 0, name, ": layer ", c.name, " reads tensor ", c.input,
              ", which no earlier layer writes");
    MPQ_CHECK(channels[in] == c.in_channels, name, ": layer ", c.name, " has ", c.in_channels,
              " input channels, but its input tensor ", c.input, " has ", channels[in]);
    data.weight(c.weight, "layer " + c.name + " weights");
    c.scale = data.floats(c.out_channels, "layer " + c.name + " batch-norm scales");
    c.shift = data.floats(c.out_channels, "layer " + c.name + " batch-norm shifts");
    if (c.projection) {
      Projection& p = *c.projection;
      const auto rt = static_cast<std::size_t>(c.residual->tensor);
      MPQ_CHECK(channels[rt] > 0, name, ": layer ", c.name, "'s projection reads tensor ",
                c.residual->tensor, ", which no earlier layer writes");
      p.weight.shape = {c.out_channels, channels[rt], p.kernel, p.kernel};
      data.weight(p.weight, "layer " + c.name + " projection weights");
      p.scale = data.floats(c.out_channels, "layer " + c.name + " projection scales");
      p.shift = data.floats(c.out_channels, "layer " + c.name + " projection shifts");
    }
    channels[static_cast<std::size_t>(c.output)] = c.out_channels;
    for (const std::size_t q : pools_after[static_cast<std::size_t>(&c - m.convs.data())]) {
      const PoolNode& p = m.pools[q];
      if (channels[static_cast<std::size_t>(p.input)] > 0)
        channels[static_cast<std::size_t>(p.output)] = channels[static_cast<std::size_t>(p.input)];
    }
  }
  const std::int64_t feat = channels[static_cast<std::size_t>(m.head.input)];
  MPQ_CHECK(feat > 0, name, ": the head reads tensor ", m.head.input, ", which no layer writes");
  m.head.weight.shape = {m.head.classes, feat};
  data.weight(m.head.weight, "classifier weights");
  if (m.head.bias) data.weight(*m.head.bias, "classifier bias");
  if (!m.head.float_bias.empty())
    m.head.float_bias = data.floats(m.head.classes, "classifier float bias");
  MPQ_CHECK(data.left() == 0, name, ": ", data.left(),
            " bytes after the last tensor the header describes");
  ModelFileSizes s;
  s.packed_weights = data.packed();
  s.per_channel = data.per_channel();
  s.header = static_cast<std::int64_t>(bytes.size()) - s.packed_weights - s.per_channel;
  try {
    m.check();
  } catch (const Error& e) {
    MPQ_FAIL(name, ": ", e.what());
  }
  if (sizes) *sizes = s;
  return m;
}

IntegerModel load_model_file(const std::string& path, ModelFileSizes* sizes) {
  return parse_model_file(read_file(path, "mpq model file"), "'" + path + "'", sizes);
}

}  // namespace mpq::deploy
