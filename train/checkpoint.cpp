#include "train/checkpoint.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "train/json.h"

namespace mpq::train {

namespace {

const char* dtype_tag(DType t) {
  switch (t) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::i32:
      return "I32";
    case DType::i8:
      return "I8";
    case DType::u8:
      return "U8";
  }
  return "";
}

DType parse_tag(const std::string& tag, const std::string& path, const std::string& name) {
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::i8, DType::u8})
    if (tag == dtype_tag(t)) return t;
  MPQ_FAIL("load_checkpoint: ", path, ": tensor '", name, "' has unsupported dtype '", tag, "'");
}

std::uint32_t crc32_of(const std::string& data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  std::size_t done = 0;
  while (done < data.size()) {
    const uInt chunk = static_cast<uInt>(std::min<std::size_t>(data.size() - done, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + done), chunk);
    done += chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

constexpr const char* kCrcKey = "mpq.crc32";
constexpr const char* kCrcPlaceholder = "00000000";

std::string crc_hex(std::uint32_t crc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", crc);
  return buf;
}

// Offset of the 8 hex digits of "mpq.crc32" in a header's text.
std::size_t crc_slot(const std::string& header, const std::string& path) {
  const std::string key = std::string("\"") + kCrcKey + "\": \"";
  const std::size_t at = header.find(key);
  MPQ_CHECK(at != std::string::npos, "checkpoint ", path, ": no CRC slot in the header");
  return at + key.size();
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  std::string data;
  Json header = Json::Object{};
  for (const auto& [name, t] : ckpt.tensors) {
    MPQ_CHECK(name != "__metadata__" && !header.has(name),
              "save_checkpoint: duplicate or reserved name '", name, "'");
    const Tensor c = t.detach().to(Device::cpu()).contiguous();  // saved from any device
    const std::size_t begin = data.size(), nbytes = c.numel() * dtype_size(c.dtype());
    data.append(static_cast<const char*>(c.raw_data()), nbytes);
    Json::Array shape;
    for (auto d : c.shape()) shape.push_back(Json(d));
    header[name] = Json::Object{
        {"dtype", dtype_tag(c.dtype())},
        {"shape", Json(shape)},
        {"data_offsets", Json::Array{Json(static_cast<std::int64_t>(begin)),
                                     Json(static_cast<std::int64_t>(begin + nbytes))}}};
  }
  Json meta = Json::Object{};
  for (const auto& [k, v] : ckpt.metadata) meta[k] = v;
  meta[kCrcKey] = kCrcPlaceholder;
  header["__metadata__"] = meta;
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  // The CRC covers the header (with the placeholder in its own slot) and the data.
  const std::size_t slot = crc_slot(h, path);
  const std::string crc = crc_hex(crc32_of(h + data));
  h.replace(slot, crc.size(), crc);
  std::string bytes(8, '\0');
  std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  bytes += h;
  bytes += data;
  write_file_atomic(path, bytes);
}

Checkpoint load_checkpoint(const std::string& path) {
  return parse_checkpoint(read_file(path, "load_checkpoint"), path);
}

Checkpoint parse_checkpoint(const std::string& bytes, const std::string& path) {
  MPQ_CHECK(bytes.size() >= 8, "load_checkpoint: ", path, ": truncated (", bytes.size(),
            " bytes, no header size)");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n * 256 + static_cast<unsigned char>(bytes[i]);
  MPQ_CHECK(n <= bytes.size() - 8, "load_checkpoint: ", path, ": truncated header (", n,
            " bytes announced, ", bytes.size() - 8, " present)");
  const std::string header_text = bytes.substr(8, n);
  const Json header = Json::parse(header_text, "load_checkpoint: " + path);
  MPQ_CHECK(header.is_object(), "load_checkpoint: ", path, ": the header is not a JSON object");
  const std::string data = bytes.substr(8 + n);
  Checkpoint ckpt;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (const auto& [name, entry] : header.object()) {
    if (name == "__metadata__") {
      MPQ_CHECK(entry.is_object(), "load_checkpoint: ", path, ": __metadata__ is not an object");
      for (const auto& [k, v] : entry.object()) {
        MPQ_CHECK(v.is_string(), "load_checkpoint: ", path, ": metadata '", k, "' is not a string");
        ckpt.metadata[k] = v.string();
      }
      continue;
    }
    MPQ_CHECK(
        entry.is_object() && entry.has("dtype") && entry.has("shape") && entry.has("data_offsets"),
        "load_checkpoint: ", path, ": entry '", name, "' lacks dtype, shape or data_offsets");
    const DType dt = parse_tag(entry.at("dtype").string(), path, name);
    Shape shape;
    for (const Json& d : entry.at("shape").array()) {
      // Bounded before the cast: a double past int64's range would make the
      // conversion undefined (and the shape check below meaningless).
      MPQ_CHECK(d.is_number() && d.number() >= 0 && d.number() == std::floor(d.number()) &&
                    d.number() <= static_cast<double>(std::int64_t(1) << 46),
                "load_checkpoint: ", path, ": bad shape for '", name,
                "' (dimensions must be whole numbers in [0, 2^46])");
      shape.push_back(static_cast<std::int64_t>(d.number()));
    }
    const auto& off = entry.at("data_offsets").array();
    MPQ_CHECK(off.size() == 2, "load_checkpoint: ", path, ": bad data_offsets for '", name, "'");
    const double b = off[0].number(), e = off[1].number();
    MPQ_CHECK(b == std::floor(b) && e == std::floor(e), "load_checkpoint: ", path, ": tensor '",
              name, "' has fractional data_offsets ", b, "..", e);
    MPQ_CHECK(b >= 0 && e >= b && e <= static_cast<double>(data.size()), "load_checkpoint: ", path,
              ": tensor '", name, "' lies outside the data (offsets ", b, "..", e, ", data ",
              data.size(), " bytes; truncated?)");
    const auto begin = static_cast<std::size_t>(b), end = static_cast<std::size_t>(e);
    // Check the size against the shape before allocating (a corrupted shape must
    // not turn into a huge allocation).
    double expected = static_cast<double>(dtype_size(dt));
    for (auto d : shape) expected *= static_cast<double>(d);
    MPQ_CHECK(static_cast<double>(end - begin) == expected, "load_checkpoint: ", path, ": tensor '",
              name, "' has ", end - begin, " bytes for shape ", shape_str(shape), " ",
              dtype_name(dt));
    Tensor t = empty(shape, dt);
    if (end > begin) std::memcpy(t.raw_data(), data.data() + begin, end - begin);
    ranges.emplace_back(begin, end);
    ckpt.tensors.emplace_back(name, t);
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i)
    MPQ_CHECK(ranges[i].first >= ranges[i - 1].second, "load_checkpoint: ", path,
              ": overlapping tensor data");
  // Every checkpoint mpq reads is one mpq wrote, and each carries its CRC: a
  // file without one (the key removed or renamed, then data bytes flipped)
  // must not pass as intact.
  auto it = ckpt.metadata.find(kCrcKey);
  MPQ_CHECK(it != ckpt.metadata.end(), "load_checkpoint: ", path, ": no '", kCrcKey,
            "' checksum in the metadata (not a checkpoint written by mpq, or its header was "
            "edited)");
  std::string zeroed = header_text;
  zeroed.replace(crc_slot(header_text, path), 8, kCrcPlaceholder);
  MPQ_CHECK(it->second == crc_hex(crc32_of(zeroed + data)), "load_checkpoint: ", path,
            ": checksum mismatch (the file is corrupted)");
  ckpt.metadata.erase(it);
  // Keep the order in which the tensors were stored (the header map sorts by name).
  std::sort(ckpt.tensors.begin(), ckpt.tensors.end(), [&](const auto& a, const auto& b2) {
    return header.at(a.first).at("data_offsets").array()[0].number() <
           header.at(b2.first).at("data_offsets").array()[0].number();
  });
  return ckpt;
}

models::NamedTensors tensors_under(const Checkpoint& ck, const std::string& prefix) {
  models::NamedTensors out;
  for (const auto& [k, v] : ck.tensors)
    if (k.rfind(prefix, 0) == 0) out.emplace_back(k.substr(prefix.size()), v);
  return out;
}

}  // namespace mpq::train
