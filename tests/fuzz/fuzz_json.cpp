// JSON (train/json.h: config.json, log.jsonl, safetensors headers). A
// document that parses is dumped, and the dump must parse to the same dump.
#include "core/error.h"
#include "train/json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using mpq::train::Json;
  std::string dumped;
  try {
    dumped = Json::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz").dump();
  } catch (const mpq::Error&) {
    return 0;
  }
  if (Json::parse(dumped, "dump").dump() != dumped) __builtin_trap();
  return 0;
}
