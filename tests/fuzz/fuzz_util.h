// Shared by the libFuzzer harnesses (scripts/fuzz.sh): parsers that take a
// path get the input through a file in /dev/shm (memory, not disk), named
// per process so that parallel fuzzing jobs do not share one.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace mpq::fuzz {

inline const std::string& scratch_path(const char* suffix) {
  static const std::string path = "/dev/shm/mpq-fuzz-" + std::to_string(::getpid()) + suffix;
  return path;
}

// Writes the input to the scratch file; returns its path.
inline const std::string& as_file(const std::uint8_t* data, std::size_t size, const char* suffix) {
  const std::string& path = scratch_path(suffix);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();  // the harness itself is broken
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return path;
}

}  // namespace mpq::fuzz
