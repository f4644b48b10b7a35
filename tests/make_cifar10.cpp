// Writes a small cifar-10-batches-bin folder in the real binary format for
// the resnet_cifar example's tests:
//
//   make_cifar10 DIR RECORDS_PER_BATCH
//
// DIR/data_batch_1..5.bin and DIR/test_batch.bin, each RECORDS_PER_BATCH
// records of <1 byte label><1024 R><1024 G><1024 B> (32x32, row-major planes).
// Label k tints its image with its own colour under pixel noise, so a short
// run can learn it. DIR is replaced.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3 || std::atoi(argv[2]) < 1) {
    std::fprintf(stderr, "usage: make_cifar10 DIR RECORDS_PER_BATCH (>= 1)\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const int records = std::atoi(argv[2]);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::uint32_t state = 88172645u;
  auto rnd = [&state] {  // xorshift32
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  };
  std::vector<std::string> files;
  for (int b = 1; b <= 5; ++b) files.push_back("data_batch_" + std::to_string(b) + ".bin");
  files.emplace_back("test_batch.bin");
  std::vector<unsigned char> rec(3073);
  for (const auto& name : files) {
    std::ofstream f(dir / name, std::ios::binary);
    for (int r = 0; r < records; ++r) {
      const int label = static_cast<int>(rnd() % 10);
      rec[0] = static_cast<unsigned char>(label);
      for (int ch = 0; ch < 3; ++ch) {
        // Each class has its own brightness per channel: 40 + 20 * ((label >> ch) + label) % 9.
        const int base = 40 + 20 * (((label >> ch) + label) % 9);
        for (int p = 0; p < 1024; ++p) {
          const int v = base + static_cast<int>(rnd() % 41) - 20;
          rec[static_cast<std::size_t>(1 + ch * 1024 + p)] =
              static_cast<unsigned char>(v < 0     ? 0
                                         : v > 255 ? 255
                                                   : v);
        }
      }
      f.write(reinterpret_cast<const char*>(rec.data()), static_cast<std::streamsize>(rec.size()));
    }
    if (!f) {
      std::fprintf(stderr, "make_cifar10: cannot write %s\n", (dir / name).c_str());
      return 1;
    }
  }
  std::printf("wrote %s: 5 training batches and a test batch of %d records\n", dir.c_str(),
              records);
  return 0;
}
