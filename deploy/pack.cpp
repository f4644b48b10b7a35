#include "deploy/pack.h"

#include "core/error.h"

namespace mpq::deploy {

namespace {
void check_bits(int bits) {
  MPQ_CHECK(bits >= kMinPackBits && bits <= kMaxPackBits, "pack: bitwidth ", bits, " outside [",
            kMinPackBits, ", ", kMaxPackBits, "]");
}
}  // namespace

std::size_t packed_size(std::int64_t count, int bits) {
  check_bits(bits);
  MPQ_CHECK(count >= 0, "pack: negative count ", count);
  return static_cast<std::size_t>((count * bits + 7) / 8);
}

std::int32_t code_min(int bits, bool is_signed) {
  check_bits(bits);
  return is_signed ? -(std::int32_t{1} << (bits - 1)) : 0;
}

std::int32_t code_max(int bits, bool is_signed) {
  check_bits(bits);
  return is_signed ? (std::int32_t{1} << (bits - 1)) - 1 : (std::int32_t{1} << bits) - 1;
}

std::vector<std::uint8_t> pack_codes(std::span<const std::int32_t> codes, int bits,
                                     bool is_signed) {
  const std::int32_t lo = code_min(bits, is_signed), hi = code_max(bits, is_signed);
  const std::uint32_t mask = (std::uint32_t{1} << bits) - 1;
  std::vector<std::uint8_t> out(packed_size(static_cast<std::int64_t>(codes.size()), bits), 0);
  std::uint64_t bit = 0;
  for (std::size_t i = 0; i < codes.size(); ++i, bit += static_cast<std::uint64_t>(bits)) {
    const std::int32_t c = codes[i];
    MPQ_CHECK(c >= lo && c <= hi, "pack: code ", c, " at index ", i, " is outside the ", bits,
              "-bit ", is_signed ? "signed" : "unsigned", " range [", lo, ", ", hi, "]");
    // The b low bits (two's complement for negative codes), written LSB first;
    // a code spans at most two bytes since b <= 8.
    const std::uint32_t v = static_cast<std::uint32_t>(c) & mask;
    const std::size_t byte = static_cast<std::size_t>(bit / 8);
    const unsigned shift = static_cast<unsigned>(bit % 8);
    out[byte] = static_cast<std::uint8_t>(out[byte] | (v << shift));
    if (shift + static_cast<unsigned>(bits) > 8)
      out[byte + 1] = static_cast<std::uint8_t>(out[byte + 1] | (v >> (8 - shift)));
  }
  return out;
}

std::vector<std::int32_t> unpack_codes(std::span<const std::uint8_t> bytes, std::int64_t count,
                                       int bits, bool is_signed) {
  const std::size_t need = packed_size(count, bits);
  MPQ_CHECK(bytes.size() == need, "unpack: ", count, " codes of ", bits, " bits take ", need,
            " bytes, got ", bytes.size());
  const std::uint64_t used = static_cast<std::uint64_t>(count) * static_cast<std::uint64_t>(bits);
  if (used % 8 != 0) {
    const unsigned pad = 8 - static_cast<unsigned>(used % 8);
    MPQ_CHECK((bytes.back() >> (8 - pad)) == 0, "unpack: the ", pad,
              " padding bits of the last byte are not zero (a corrupt or foreign stream)");
  }
  const std::uint32_t mask = (std::uint32_t{1} << bits) - 1;
  const std::uint32_t sign = std::uint32_t{1} << (bits - 1);
  std::vector<std::int32_t> out(static_cast<std::size_t>(count));
  std::uint64_t bit = 0;
  for (std::size_t i = 0; i < out.size(); ++i, bit += static_cast<std::uint64_t>(bits)) {
    const std::size_t byte = static_cast<std::size_t>(bit / 8);
    const unsigned shift = static_cast<unsigned>(bit % 8);
    std::uint32_t v = static_cast<std::uint32_t>(bytes[byte]) >> shift;
    if (shift + static_cast<unsigned>(bits) > 8)
      v |= static_cast<std::uint32_t>(bytes[byte + 1]) << (8 - shift);
    v &= mask;
    // Sign extension: subtract 2^b when the top bit is set.
    out[i] = is_signed && (v & sign) ? static_cast<std::int32_t>(v) - (std::int32_t{1} << bits)
                                     : static_cast<std::int32_t>(v);
  }
  return out;
}

}  // namespace mpq::deploy
