// Writes a small ImageNet-style image folder for the imagenet example's tests:
//
//   make_image_folder ROOT CLASSES TRAIN_PER_CLASS VAL_PER_CLASS
//
// ROOT/{train,val}/class<k>/img<i>.png, RGB, 28-44 pixels on a side (sizes
// vary so that the random resized crop and the evaluation resize both work).
// Class k tints its images with its own colour under pixel noise, so a short
// run can learn them. ROOT/train/class0/zz_broken.png is not a PNG: the loader
// must warn and skip it. ROOT is replaced.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace {

// The classes' colours (R, G, B), repeated when there are more classes.
constexpr unsigned char kColours[6][3] = {{220, 40, 40},  {40, 200, 60},  {50, 60, 230},
                                          {230, 220, 40}, {200, 50, 210}, {40, 210, 210}};

bool write_image(const std::string& path, int cls, int index, std::uint32_t& state) {
  auto rnd = [&state] {  // xorshift32
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  };
  const int h = 28 + static_cast<int>(rnd() % 17), w = 28 + static_cast<int>(rnd() % 17);
  std::vector<unsigned char> p(static_cast<std::size_t>(h * w * 3));
  const unsigned char* c = kColours[cls % 6];
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < 3; ++ch) {
        const int noise = static_cast<int>(rnd() % 81) - 40;
        const int v = c[ch] + noise + (cls / 6) * 20 * (((x + y + index) / 4) % 2);
        p[static_cast<std::size_t>((y * w + x) * 3 + ch)] =
            static_cast<unsigned char>(v < 0     ? 0
                                       : v > 255 ? 255
                                                 : v);
      }
  return stbi_write_png(path.c_str(), w, h, 3, p.data(), w * 3) != 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: make_image_folder ROOT CLASSES TRAIN_PER_CLASS VAL_PER_CLASS\n");
    return 2;
  }
  const std::filesystem::path root = argv[1];
  const int classes = std::atoi(argv[2]), per_split[2] = {std::atoi(argv[3]), std::atoi(argv[4])};
  if (classes < 1 || per_split[0] < 1 || per_split[1] < 1) {
    std::fprintf(stderr, "make_image_folder: counts must be positive\n");
    return 2;
  }
  std::filesystem::remove_all(root);
  std::uint32_t state = 2463534242u;
  const char* splits[2] = {"train", "val"};
  for (int s = 0; s < 2; ++s)
    for (int k = 0; k < classes; ++k) {
      const auto dir = root / splits[s] / ("class" + std::to_string(k));
      std::filesystem::create_directories(dir);
      for (int i = 0; i < per_split[s]; ++i)
        if (!write_image((dir / ("img" + std::to_string(i) + ".png")).string(), k, i, state)) {
          std::fprintf(stderr, "make_image_folder: cannot write into %s\n", dir.c_str());
          return 1;
        }
    }
  std::ofstream(root / "train" / "class0" / "zz_broken.png") << "not a png";
  std::printf("wrote %s: %d classes, %d train and %d val images each\n", root.c_str(), classes,
              per_split[0], per_split[1]);
  return 0;
}
