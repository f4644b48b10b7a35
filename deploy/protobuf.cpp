#include "deploy/protobuf.h"

#include <cstring>

namespace mpq::deploy {

// Wire types: 0 varint, 2 length-delimited, 5 32-bit.
void Message::key(int field, int wire_type) {
  raw_varint((static_cast<std::uint64_t>(field) << 3) | static_cast<std::uint64_t>(wire_type));
}

void Message::raw_varint(std::uint64_t v) {
  // 7 bits per byte, least significant group first, high bit: more follows.
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void Message::varint(int field, std::uint64_t value) {
  key(field, 0);
  raw_varint(value);
}

void Message::float32(int field, float value) {
  key(field, 5);
  char b[4];
  std::memcpy(b, &value, 4);  // little-endian on x86-64, as the wire format
  out_.append(b, 4);
}

void Message::string(int field, const std::string& value) {
  key(field, 2);
  raw_varint(value.size());
  out_ += value;
}

void Message::bytes(int field, std::span<const std::uint8_t> value) {
  key(field, 2);
  raw_varint(value.size());
  out_.append(reinterpret_cast<const char*>(value.data()), value.size());
}

void Message::packed_int64(int field, std::span<const std::int64_t> values) {
  Message inner;
  for (const std::int64_t v : values) inner.raw_varint(static_cast<std::uint64_t>(v));
  string(field, inner.out_);
}

}  // namespace mpq::deploy
