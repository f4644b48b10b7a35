#include "core/npy.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>

namespace mpq {

namespace {
const char kMagic[] = "\x93NUMPY";

DType parse_descr(const std::string& descr, const std::string& path) {
  if (descr == "<f4") return DType::f32;
  if (descr == "<f8") return DType::f64;
  if (descr == "<i4") return DType::i32;
  if (descr == "|i1" || descr == "<i1") return DType::i8;
  if (descr == "|u1" || descr == "<u1") return DType::u8;
  MPQ_FAIL("load_npy: ", path, ": unsupported dtype '", descr,
           "' (expected <f4, <f8, <i4, |i1 or |u1, little-endian)");
}

const char* descr_of(DType t) {
  switch (t) {
    case DType::f32:
      return "<f4";
    case DType::f64:
      return "<f8";
    case DType::i32:
      return "<i4";
    case DType::i8:
      return "|i1";
    case DType::u8:
      return "|u1";
  }
  return "";
}
}  // namespace

Tensor load_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MPQ_CHECK(in.good(), "load_npy: cannot open '", path, "'");
  char magic[8];
  in.read(magic, 8);
  MPQ_CHECK(in.gcount() == 8 && std::memcmp(magic, kMagic, 6) == 0, "load_npy: ", path,
            ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  MPQ_CHECK(major >= 1 && major <= 3, "load_npy: ", path, ": unsupported format version ", major);
  std::size_t header_len = 0;
  unsigned char len_bytes[4] = {0, 0, 0, 0};
  const int nlen = major == 1 ? 2 : 4;
  in.read(reinterpret_cast<char*>(len_bytes), nlen);
  MPQ_CHECK(in.gcount() == nlen, "load_npy: ", path, ": truncated header");
  for (int i = nlen; i-- > 0;) header_len = header_len * 256 + len_bytes[i];
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  MPQ_CHECK(static_cast<std::size_t>(in.gcount()) == header_len, "load_npy: ", path,
            ": truncated header");

  std::smatch m;
  MPQ_CHECK(std::regex_search(header, m, std::regex("'descr':\\s*'([^']*)'")), "load_npy: ", path,
            ": header has no 'descr'");
  const DType dtype = parse_descr(m[1], path);
  MPQ_CHECK(std::regex_search(header, m, std::regex("'fortran_order':\\s*(True|False)")),
            "load_npy: ", path, ": header has no 'fortran_order'");
  MPQ_CHECK(m[1] == "False", "load_npy: ", path, ": Fortran-ordered arrays are not supported");
  MPQ_CHECK(std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)")),
            "load_npy: ", path, ": header has no 'shape'");
  Shape shape;
  const std::string dims = m[1];
  std::regex num("(\\d+)");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator();
       ++it)
    shape.push_back(std::stoll((*it)[1]));

  Tensor t = empty(shape, dtype);
  const std::size_t nbytes = t.numel() * dtype_size(dtype);
  in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(nbytes));
  MPQ_CHECK(static_cast<std::size_t>(in.gcount()) == nbytes, "load_npy: ", path,
            ": truncated data (", in.gcount(), " of ", nbytes, " bytes for shape ",
            shape_str(shape), " ", dtype_name(dtype), ")");
  return t;
}

void save_npy(const std::string& path, const Tensor& t) {
  const Tensor c = t.detach().contiguous();
  std::string header =
      std::string("{'descr': '") + descr_of(c.dtype()) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < c.shape().size(); ++i) header += std::to_string(c.shape()[i]) + ", ";
  if (c.shape().size() > 1)
    header.resize(header.size() - 2);
  else if (c.shape().size() == 1)
    header.resize(header.size() - 1);
  header += "), }";
  // Pad with spaces so that the data starts on a 64-byte boundary; end with \n.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    MPQ_CHECK(out.good(), "save_npy: cannot write '", tmp, "'");
    out.write(kMagic, 6);
    const char version[2] = {1, 0};
    out.write(version, 2);
    const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xff),
                                  static_cast<unsigned char>(header.size() >> 8)};
    out.write(reinterpret_cast<const char*>(len), 2);
    out << header;
    out.write(static_cast<const char*>(c.raw_data()),
              static_cast<std::streamsize>(c.numel() * dtype_size(c.dtype())));
    out.flush();
    MPQ_CHECK(out.good(), "save_npy: writing '", tmp, "' failed");
  }
  MPQ_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "save_npy: cannot rename '", tmp, "' to '",
            path, "'");
}

}  // namespace mpq
