// Bit packing of integer codes at their learned bitwidth: the storage of the
// exported model file (issue 16), where a 2-bit weight takes 2 bits, not a
// byte.
//
// Layout: code i of a tensor occupies bits [i*b, (i+1)*b) of one little-endian
// bit stream, least significant bit first: bit k of the stream is bit (k % 8)
// of byte k / 8, and a code's lowest bit comes first. The stream takes
// ceil(count * b / 8) bytes; the unused high bits of the last byte are zero
// (unpack refuses a stream where they are not, as it refuses a short one).
// Signed codes are stored as b-bit two's complement, range
// [-2^(b-1), 2^(b-1) - 1]; unsigned codes range over [0, 2^b - 1].
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mpq::deploy {

inline constexpr int kMinPackBits = 1;
inline constexpr int kMaxPackBits = 8;

// Bytes of `count` codes of `bits` bits.
std::size_t packed_size(std::int64_t count, int bits);

// The smallest and largest code of a b-bit signed or unsigned grid.
std::int32_t code_min(int bits, bool is_signed);
std::int32_t code_max(int bits, bool is_signed);

// Packs `codes`; mpq::Error names the first code outside the b-bit range (its
// index and value), or a bitwidth outside [1, 8].
std::vector<std::uint8_t> pack_codes(std::span<const std::int32_t> codes, int bits, bool is_signed);

// The `count` codes of a packed stream (sign-extended when signed); mpq::Error
// when `bytes` is not exactly packed_size(count, bits) long or its padding
// bits are not zero.
std::vector<std::int32_t> unpack_codes(std::span<const std::uint8_t> bytes, std::int64_t count,
                                       int bits, bool is_signed);

}  // namespace mpq::deploy
