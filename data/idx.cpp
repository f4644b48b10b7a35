#include "data/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <memory>
#include <vector>

namespace mpq::data {

namespace {

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// gzread reads plain files transparently, so one path serves both.
struct GzFile {
  gzFile f;
  explicit GzFile(const std::string& path) : f(gzopen(path.c_str(), "rb")) {}
  ~GzFile() {
    if (f) gzclose(f);
  }
};

// Reads exactly n bytes or reports how many were there.
std::size_t read_bytes(GzFile& in, void* dst, std::size_t n, const std::string& path) {
  std::size_t done = 0;
  auto* p = static_cast<unsigned char*>(dst);
  while (done < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
    const int got = gzread(in.f, p + done, chunk);
    if (got < 0) {
      int err = 0;
      const char* msg = gzerror(in.f, &err);
      MPQ_FAIL("read_idx: ", path, ": corrupt or unreadable (", msg ? msg : "zlib error", ")");
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

}  // namespace

Tensor read_idx(const std::string& path) {
  MPQ_CHECK(file_exists(path), "read_idx: file not found: '", path, "'");
  GzFile in(path);
  MPQ_CHECK(in.f != nullptr, "read_idx: cannot open '", path, "'");
  unsigned char magic[4];
  MPQ_CHECK(read_bytes(in, magic, 4, path) == 4, "read_idx: ", path,
            ": truncated (no 4-byte magic number)");
  MPQ_CHECK(magic[0] == 0 && magic[1] == 0, "read_idx: ", path, ": not an IDX file (magic 0x",
            std::hex,
            (int(magic[0]) << 24 | int(magic[1]) << 16 | int(magic[2]) << 8 | int(magic[3])),
            ", expected 0x000008NN)");
  MPQ_CHECK(magic[2] == 0x08, "read_idx: ", path, ": unsupported IDX element type 0x", std::hex,
            int(magic[2]), " (only 0x08, unsigned byte, is supported)");
  const int ndim = magic[3];
  MPQ_CHECK(ndim >= 1 && ndim <= 4, "read_idx: ", path, ": unsupported rank ", ndim);
  Shape shape(ndim);
  for (int i = 0; i < ndim; ++i) {
    unsigned char b[4];
    MPQ_CHECK(read_bytes(in, b, 4, path) == 4, "read_idx: ", path, ": truncated header (dimension ",
              i, " of ", ndim, " missing)");
    shape[i] =
        (std::int64_t(b[0]) << 24) | (std::int64_t(b[1]) << 16) | (std::int64_t(b[2]) << 8) | b[3];
  }
  std::int64_t n = 1;  // checked at every step: a hostile header must not overflow it
  for (auto d : shape) {
    MPQ_CHECK(d == 0 || n <= (std::int64_t(1) << 34) / d, "read_idx: ", path,
              ": implausible shape ", shape_str(shape));
    n *= d;
  }
  // Before allocating: the data must fit in what the file can hold. Plain: the
  // bytes after the header; gzipped: deflate expands at most 1032:1 (RFC 1951's
  // longest match per bit), so a 16-byte file cannot claim 10 GB.
  {
    struct stat st;
    const std::uint64_t file_size =
        ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
    const std::uint64_t header = 4 + 4 * static_cast<std::uint64_t>(ndim);
    const auto need = static_cast<std::uint64_t>(n);
    if (gzdirect(in.f) != 0) {
      const std::uint64_t room = file_size > header ? file_size - header : 0;
      MPQ_CHECK(need <= room, "read_idx: ", path, ": truncated: shape ", shape_str(shape),
                " needs ", n, " bytes of data, found ", room);
    } else {
      MPQ_CHECK(need <= file_size * 1032, "read_idx: ", path, ": truncated: shape ",
                shape_str(shape), " needs ", n, " bytes of data, more than the gzipped file of ",
                file_size, " bytes can hold (deflate expands at most 1032:1)");
    }
  }
  Tensor t = empty(shape, DType::u8);
  const std::size_t got = read_bytes(in, t.raw_data(), static_cast<std::size_t>(n), path);
  MPQ_CHECK(got == static_cast<std::size_t>(n), "read_idx: ", path, ": truncated: shape ",
            shape_str(shape), " needs ", n, " bytes of data, found ", got);
  unsigned char extra;
  MPQ_CHECK(read_bytes(in, &extra, 1, path) == 0, "read_idx: ", path,
            ": trailing bytes after the data of shape ", shape_str(shape));
  return t;
}

namespace {
std::string find_file(const std::string& dir, const std::string& stem) {
  for (const char* suffix : {".gz", ""}) {
    const std::string p = dir + "/" + stem + suffix;
    if (file_exists(p)) return p;
  }
  MPQ_FAIL("load_mnist: neither '", dir, "/", stem, ".gz' nor '", dir, "/", stem,
           "' exists (for Fashion-MNIST: apt-get install dataset-fashion-mnist)");
}
}  // namespace

MnistSplit load_mnist(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  const std::string img_path = find_file(dir, prefix + "-images-idx3-ubyte");
  const std::string lbl_path = find_file(dir, prefix + "-labels-idx1-ubyte");
  Tensor images = read_idx(img_path);
  Tensor labels8 = read_idx(lbl_path);
  MPQ_CHECK(images.dim() == 3, "load_mnist: ", img_path, ": expected images [N, H, W], got ",
            shape_str(images.shape()));
  MPQ_CHECK(images.shape()[1] == 28 && images.shape()[2] == 28, "load_mnist: ", img_path,
            ": expected 28x28 images [N, 28, 28], got ", shape_str(images.shape()));
  MPQ_CHECK(images.shape()[0] > 0, "load_mnist: ", img_path, ": no images (shape ",
            shape_str(images.shape()), ")");
  MPQ_CHECK(labels8.dim() == 1, "load_mnist: ", lbl_path, ": expected labels [N], got ",
            shape_str(labels8.shape()));
  MPQ_CHECK(images.shape()[0] == labels8.shape()[0], "load_mnist: ", images.shape()[0],
            " images in ", img_path, " but ", labels8.shape()[0], " labels in ", lbl_path);
  const std::uint8_t* l = labels8.data<std::uint8_t>();
  for (std::int64_t i = 0; i < labels8.numel(); ++i)
    MPQ_CHECK(l[i] < 10, "load_mnist: ", lbl_path, ": label ", int(l[i]), " at index ", i,
              " is outside [0, 10)");
  return {images, labels8.to(DType::i32)};
}

}  // namespace mpq::data
