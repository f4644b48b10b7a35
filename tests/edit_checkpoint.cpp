// Writes a changed copy of an mpq checkpoint, with a valid CRC: what a user
// (or another program) could hand the loader that the CRC cannot catch. Used
// by tests/hostile_runs.cmake.
//
//   edit_checkpoint IN OUT [--meta KEY=VALUE]... [--drop TENSOR]... [--f64 TENSOR]...
#include <cstdio>
#include <string>

#include "core/error.h"
#include "train/checkpoint.h"

using namespace mpq;

int main(int argc, char** argv) {
  try {
    MPQ_CHECK(argc >= 3, "usage: edit_checkpoint IN OUT [--meta K=V] [--drop T] [--f64 T]");
    train::Checkpoint ck = train::load_checkpoint(argv[1]);
    for (int i = 3; i < argc; i += 2) {
      MPQ_CHECK(i + 1 < argc, "edit_checkpoint: ", argv[i], " needs a value");
      const std::string flag = argv[i], value = argv[i + 1];
      if (flag == "--meta") {
        const auto eq = value.find('=');
        MPQ_CHECK(eq != std::string::npos, "edit_checkpoint: --meta takes KEY=VALUE");
        ck.metadata[value.substr(0, eq)] = value.substr(eq + 1);
        continue;
      }
      MPQ_CHECK(flag == "--drop" || flag == "--f64", "edit_checkpoint: unknown flag ", flag);
      bool found = false;
      for (auto it = ck.tensors.begin(); it != ck.tensors.end(); ++it) {
        if (it->first != value) continue;
        found = true;
        if (flag == "--drop") {
          ck.tensors.erase(it);
        } else {
          it->second = it->second.to(DType::f64);
        }
        break;
      }
      MPQ_CHECK(found, "edit_checkpoint: no tensor '", value, "'");
    }
    train::save_checkpoint(argv[2], ck);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
