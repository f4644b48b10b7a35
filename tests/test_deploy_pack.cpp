// Bit packing of integer codes (deploy/pack.h): the documented bit layout on
// hand-worked streams, round trips of every code of every bitwidth 1..8,
// signed and unsigned, at every length up to two bytes past a byte boundary,
// and the refusals (codes out of range, bad bitwidths, short or long streams,
// padding bits set).
#include <catch2/catch.hpp>

#include <vector>

#include "core/error.h"
#include "core/rng.h"
#include "deploy/pack.h"

using namespace mpq;
using namespace mpq::deploy;
using Catch::Matchers::Contains;

TEST_CASE("pack: the bit layout is little-endian, least significant bit first", "[deploy]") {
  // 2-bit unsigned {1, 2, 3, 0}: bits 01 | 10 | 11 | 00 from the lowest -> 0b00111001.
  CHECK(pack_codes(std::vector<std::int32_t>{1, 2, 3, 0}, 2, false) ==
        std::vector<std::uint8_t>{0x39});
  // 3-bit signed {-1, 3, -4}: 111, 011, 100 (two's complement) over 9 bits:
  // byte 0 = bits 0-7 = 1,1,1, 1,1,0, 0,0 -> 0x1F; byte 1 = the last bit, 1.
  CHECK(pack_codes(std::vector<std::int32_t>{-1, 3, -4}, 3, true) ==
        std::vector<std::uint8_t>{0x1F, 0x01});
  CHECK(unpack_codes(std::vector<std::uint8_t>{0x1F, 0x01}, 3, 3, true) ==
        std::vector<std::int32_t>{-1, 3, -4});
  // 8 bits are plain bytes; 5-bit codes straddle bytes.
  CHECK(pack_codes(std::vector<std::int32_t>{-128, 127, -1}, 8, true) ==
        std::vector<std::uint8_t>{0x80, 0x7F, 0xFF});
  CHECK(pack_codes(std::vector<std::int32_t>{31, 1}, 5, false) ==
        std::vector<std::uint8_t>{0x3F, 0x00});
  CHECK(packed_size(0, 2) == 0);
  CHECK(packed_size(4, 2) == 1);
  CHECK(packed_size(5, 2) == 2);
  CHECK(packed_size(1000, 3) == 375);
  CHECK(code_min(4, true) == -8);
  CHECK(code_max(4, true) == 7);
  CHECK(code_max(4, false) == 15);
}

TEST_CASE("pack: every code of every bitwidth round-trips at every length", "[deploy]") {
  Generator g(7);
  for (int bits = kMinPackBits; bits <= kMaxPackBits; ++bits)
    for (bool is_signed : {false, true}) {
      const std::int32_t lo = code_min(bits, is_signed), hi = code_max(bits, is_signed);
      INFO(bits << " bits, " << (is_signed ? "signed" : "unsigned"));
      // Every code once.
      std::vector<std::int32_t> all;
      for (std::int32_t c = lo; c <= hi; ++c) all.push_back(c);
      const auto packed = pack_codes(all, bits, is_signed);
      CHECK(packed.size() == packed_size(static_cast<std::int64_t>(all.size()), bits));
      CHECK(unpack_codes(packed, static_cast<std::int64_t>(all.size()), bits, is_signed) == all);
      // Random codes at every length 0..33: every position of a code in a byte,
      // and every amount of padding.
      for (std::int64_t n = 0; n <= 33; ++n) {
        std::vector<std::int32_t> v(static_cast<std::size_t>(n));
        for (auto& c : v)
          c = lo + static_cast<std::int32_t>(g.below(static_cast<std::uint64_t>(hi - lo + 1)));
        const auto p = pack_codes(v, bits, is_signed);
        REQUIRE(p.size() == static_cast<std::size_t>((n * bits + 7) / 8));
        CHECK(unpack_codes(p, n, bits, is_signed) == v);
      }
    }
}

TEST_CASE("pack: codes outside the grid, bad bitwidths and bad streams are refused", "[deploy]") {
  CHECK_THROWS_WITH(pack_codes(std::vector<std::int32_t>{0, 1, 4}, 2, false),
                    Contains("code 4 at index 2") && Contains("2-bit unsigned range [0, 3]"));
  CHECK_THROWS_WITH(pack_codes(std::vector<std::int32_t>{-3}, 2, true),
                    Contains("code -3 at index 0") && Contains("[-2, 1]"));
  CHECK_THROWS_WITH(pack_codes(std::vector<std::int32_t>{-1}, 4, false), Contains("unsigned"));
  CHECK_THROWS_WITH(pack_codes(std::vector<std::int32_t>{0}, 0, false),
                    Contains("bitwidth 0 outside [1, 8]"));
  CHECK_THROWS_WITH(pack_codes(std::vector<std::int32_t>{0}, 9, true),
                    Contains("bitwidth 9 outside [1, 8]"));
  // 5 codes of 3 bits take 2 bytes: one byte is short, three are too many.
  CHECK_THROWS_WITH(unpack_codes(std::vector<std::uint8_t>{0}, 5, 3, false),
                    Contains("5 codes of 3 bits take 2 bytes, got 1"));
  CHECK_THROWS_WITH(unpack_codes(std::vector<std::uint8_t>{0, 0, 0}, 5, 3, false),
                    Contains("got 3"));
  // 15 bits used: the top bit of byte 1 is padding and must be zero.
  CHECK_THROWS_WITH(unpack_codes(std::vector<std::uint8_t>{0, 0x80}, 5, 3, false),
                    Contains("padding bits") && Contains("not zero"));
  CHECK(unpack_codes(std::vector<std::uint8_t>{0xFF, 0x7F}, 5, 3, false) ==
        std::vector<std::int32_t>{7, 7, 7, 7, 7});
  CHECK_THROWS_AS(unpack_codes(std::vector<std::uint8_t>{}, -1, 3, false), Error);
}
