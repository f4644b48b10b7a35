// safetensors checkpoints.
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/file_io.h"
#include "temp_dir.h"
#include "test_util.h"
#include "train/checkpoint.h"
#include "train/json.h"

using namespace mpq;
using namespace mpq::train;
using Catch::Matchers::Contains;

TEST_CASE("checkpoint: bit-exact round trip in the safetensors layout", "[checkpoint]") {
  test::TempDir dir;
  Checkpoint c;
  c.tensors = {{"layer1.weight", test::rand_f32({3, 4}, 1)},
               {"b64", test::rand_f64({5}, 2)},
               {"i", from_vector<std::int32_t>({-1, 7}, {2})},
               {"s8", from_vector<std::int8_t>({-128, 127}, {2})},
               {"u", from_vector<std::uint8_t>({0, 255, 9}, {3})},
               {"scalar", scalar_tensor(1.5)},
               {"t", test::rand_f32({4, 3}, 3).t()}};  // non-contiguous
  c.metadata = {{"epoch", "7"}, {"config", "lr=0.1"}};
  const std::string path = dir.file("ck.safetensors");
  save_checkpoint(path, c);
  const Checkpoint back = load_checkpoint(path);
  REQUIRE(back.tensors.size() == c.tensors.size());
  for (std::size_t i = 0; i < c.tensors.size(); ++i) {
    INFO(c.tensors[i].first);
    CHECK(back.tensors[i].first == c.tensors[i].first);
    CHECK(back.tensors[i].second.dtype() == c.tensors[i].second.dtype());
    CHECK(back.tensors[i].second.shape() == c.tensors[i].second.shape());
    CHECK(back.tensors[i].second.to_vector<double>() == c.tensors[i].second.to_vector<double>());
  }
  CHECK(back.metadata.at("epoch") == "7");
  CHECK(back.metadata.count("mpq.crc32") == 0);  // checked on load, not handed out
  // The layout: u64 header size, JSON header, data.
  const std::string bytes = mpq::read_file(path, "test");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n * 256 + static_cast<unsigned char>(bytes[i]);
  const Json header = Json::parse(bytes.substr(8, n));
  CHECK(header.at("layer1.weight").at("dtype").string() == "F32");
  CHECK(header.at("layer1.weight").at("data_offsets").array()[1].number() == 48);
  CHECK(header.at("__metadata__").at("epoch").string() == "7");
  CHECK((8 + n) % 8 == 0);
}

// One float tensor "w" [64] saved as dir/ck.safetensors; the bytes to corrupt.
static std::string save_small_checkpoint(const test::TempDir& dir, Checkpoint& c) {
  c.tensors = {{"w", test::rand_f32({64}, 1)}};
  save_checkpoint(dir.file("ck.safetensors"), c);
  return mpq::read_file(dir.file("ck.safetensors"), "test");
}

TEST_CASE("checkpoint: corruption and truncation are detected; writes are atomic", "[checkpoint]") {
  test::TempDir dir;
  Checkpoint c;
  const std::string good = save_small_checkpoint(dir, c);
  const std::string path = dir.file("ck.safetensors");
  std::string flipped = good;
  flipped[flipped.size() - 3] ^= 0x40;
  dir.write("flip.safetensors", flipped);
  CHECK_THROWS_WITH(load_checkpoint(dir.file("flip.safetensors")),
                    Contains("checksum") && Contains("corrupted"));
  // A change in the header (here the metadata) is caught as well.
  train::Checkpoint meta;
  meta.tensors = c.tensors;
  meta.metadata = {{"epoch", "12"}};
  save_checkpoint(dir.file("meta.safetensors"), meta);
  std::string edited = mpq::read_file(dir.file("meta.safetensors"), "test");
  edited[edited.find("\"12\"") + 2] = '3';
  dir.write("edited.safetensors", edited);
  CHECK_THROWS_WITH(load_checkpoint(dir.file("edited.safetensors")), Contains("checksum"));
  dir.write("short.safetensors", good.substr(0, good.size() - 10));
  CHECK_THROWS_WITH(load_checkpoint(dir.file("short.safetensors")), Contains("outside the data"));
  dir.write("hdr.safetensors", good.substr(0, 20));
  CHECK_THROWS_WITH(load_checkpoint(dir.file("hdr.safetensors")), Contains("truncated header"));
  dir.write("tiny.safetensors", "abc");
  CHECK_THROWS_WITH(load_checkpoint(dir.file("tiny.safetensors")), Contains("truncated"));
  std::string bad_json = good;
  bad_json[9] = '!';
  dir.write("json.safetensors", bad_json);
  CHECK_THROWS_WITH(load_checkpoint(dir.file("json.safetensors")), Contains("malformed JSON"));
  CHECK_THROWS_WITH(load_checkpoint(dir.file("none.safetensors")), Contains("cannot open"));
  // A crash mid-write leaves only a partial temporary file: the previous checkpoint still loads,
  // and the next save replaces both cleanly.
  dir.write("ck.safetensors.tmp", good.substr(0, 30));
  CHECK(load_checkpoint(path).tensors[0].second.to_vector<float>() ==
        c.tensors[0].second.to_vector<float>());
  c.tensors[0].second = zeros({64});
  save_checkpoint(path, c);
  CHECK(load_checkpoint(path).tensors[0].second.to_vector<float>() == std::vector<float>(64, 0.0f));
  CHECK(!std::ifstream(dir.file("ck.safetensors.tmp")).good());
}

TEST_CASE(
    "checkpoint: a file without its CRC, fractional offsets or absurd shapes are refused (issue "
    "14)",
    "[checkpoint]") {
  test::TempDir dir;
  Checkpoint c;
  const std::string good = save_small_checkpoint(dir, c);
  // The CRC key renamed (same length, so the header stays valid) and a data byte flipped:
  // this was accepted and trained on.
  std::string renamed = good;
  renamed.replace(renamed.find("mpq.crc32"), 9, "mpq.crc99");
  renamed[renamed.size() - 3] ^= 0x40;
  dir.write("nocrc.safetensors", renamed);
  CHECK_THROWS_WITH(load_checkpoint(dir.file("nocrc.safetensors")),
                    Contains("nocrc.safetensors") && Contains("no 'mpq.crc32' checksum"));
  // Fractional offsets (same length as the integers they replace).
  std::string frac = good;
  const auto at = frac.find("[0, 256]");
  REQUIRE(at != std::string::npos);
  frac.replace(at, 8, "[0, 2.5]");
  dir.write("frac.safetensors", frac);
  CHECK_THROWS_WITH(load_checkpoint(dir.file("frac.safetensors")),
                    Contains("fractional data_offsets"));
  // A shape past int64's range (the cast was undefined: "negative dimension ...
  // -9223372036854775808"). (the header grows, so its 8-byte length prefix is rewritten)
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n * 256 + static_cast<unsigned char>(good[i]);
  std::string header = good.substr(8, n);
  const auto sh = header.find("\"shape\": [64]");
  REQUIRE(sh != std::string::npos);
  header.replace(sh, 13, "\"shape\": [9e99]");
  std::string big(8, '\0');
  for (int i = 0; i < 8; ++i) big[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  big += header + good.substr(8 + n);
  dir.write("big.safetensors", big);
  CHECK_THROWS_WITH(load_checkpoint(dir.file("big.safetensors")),
                    Contains("bad shape for 'w'") && Contains("[0, 2^46]"));
}

TEST_CASE("checkpoint: a write that fails (a full disk) keeps the previous checkpoint",
          "[checkpoint]") {
  test::TempDir dir;
  const std::string path = dir.file("last.safetensors");
  Checkpoint old;
  old.tensors = {{"w", test::rand_f32({4}, 1)}};
  old.metadata = {{"epoch", "1"}};
  save_checkpoint(path, old);
  Checkpoint big;
  big.tensors = {{"w", test::rand_f32({64, 1024}, 2)}};  // 256 kB
  big.metadata = {{"epoch", "2"}};
  {
    // A file size limit of 64 kB makes the write fail part way, as a full
    // disk would (EFBIG instead of ENOSPC; SIGXFSZ ignored so that write()
    // returns the error instead of killing the process).
    struct rlimit before {};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &before) == 0);
    void (*old_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = before;
    small.rlim_cur = 64 * 1024;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string error;
    try {
      save_checkpoint(path, big);
    } catch (const Error& e) {
      error = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &before);
    std::signal(SIGXFSZ, old_handler);
    CHECK_THAT(error, Contains("last.safetensors.tmp' failed (disk full?)"));
  }
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  const Checkpoint back = load_checkpoint(path);
  CHECK(back.metadata.at("epoch") == "1");
  CHECK(back.tensors.at(0).second.to_vector<float>() == old.tensors[0].second.to_vector<float>());
  // A folder that is not there: refused, nothing written.
  CHECK_THROWS_WITH(save_checkpoint(dir.file("absent/last.safetensors"), old),
                    Contains("cannot write") && Contains("absent/last.safetensors.tmp"));
}
