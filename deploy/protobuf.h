// A minimal Protocol Buffers writer (the wire format only: varints,
// fixed 32-bit floats and length-delimited fields), enough to write ONNX
// models (deploy/onnx_export.h) without a protobuf dependency.
//
//   Message m;
//   m.string(1, "name");      // field 1, length-delimited
//   m.varint(2, 7);           // field 2, varint
//   Message inner; ...; m.message(3, inner);
//   std::string bytes = m.bytes();
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace mpq::deploy {

class Message {
 public:
  void varint(int field, std::uint64_t value);
  void signed_varint(int field, std::int64_t value) {
    varint(field, static_cast<std::uint64_t>(value));
  }
  void float32(int field, float value);
  void string(int field, const std::string& value);
  void bytes(int field, std::span<const std::uint8_t> value);
  void message(int field, const Message& value) { string(field, value.out_); }
  // A packed repeated int64 field (one length-delimited record of varints).
  void packed_int64(int field, std::span<const std::int64_t> values);
  const std::string& bytes() const { return out_; }

 private:
  void key(int field, int wire_type);
  void raw_varint(std::uint64_t v);
  std::string out_;
};

}  // namespace mpq::deploy
