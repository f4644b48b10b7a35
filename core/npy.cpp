#include "core/npy.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "core/file_io.h"

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

// The text of `key`'s value in the header dict: a quoted string, a
// parenthesised tuple or a bare word.
std::string header_value(const std::string& header, const std::string& key,
                         const std::string& path) {
  const std::string quoted = "'" + key + "'";
  std::size_t at = header.find(quoted);
  MPQ_CHECK(at != std::string::npos, "load_npy: ", path, ": header has no '", key, "'");
  at = header.find(':', at + quoted.size());
  MPQ_CHECK(at != std::string::npos, "load_npy: ", path, ": malformed header near '", key, "'");
  at = header.find_first_not_of(' ', at + 1);
  MPQ_CHECK(at != std::string::npos, "load_npy: ", path, ": malformed header near '", key, "'");
  std::size_t end;
  if (header[at] == '\'') {
    end = header.find('\'', at + 1);
    MPQ_CHECK(end != std::string::npos, "load_npy: ", path, ": unterminated string in the header");
    ++end;
  } else if (header[at] == '(') {
    end = header.find(')', at);
    MPQ_CHECK(end != std::string::npos, "load_npy: ", path, ": unterminated tuple in the header");
    ++end;
  } else {
    end = header.find_first_of(",}", at);
    MPQ_CHECK(end != std::string::npos, "load_npy: ", path, ": malformed header near '", key, "'");
    while (end > at && header[end - 1] == ' ') --end;
  }
  return header.substr(at, end - at);
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
  // Sizes are checked against the file before anything is allocated: a tiny
  // file must not make us allocate (and zero) what its header claims.
  const std::streamoff here = in.tellg();
  in.seekg(0, std::ios::end);
  const std::streamoff file_size = in.tellg();
  in.seekg(here);
  MPQ_CHECK(here >= 0 && file_size >= here, "load_npy: ", path, ": cannot determine the file size");
  const auto remaining = static_cast<std::uint64_t>(file_size - here);
  MPQ_CHECK(header_len <= remaining, "load_npy: ", path, ": truncated header (", header_len,
            " bytes announced, ", remaining, " present)");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  MPQ_CHECK(static_cast<std::size_t>(in.gcount()) == header_len, "load_npy: ", path,
            ": truncated header");

  const std::string descr = header_value(header, "descr", path);
  MPQ_CHECK(descr.size() >= 2 && descr.front() == '\'' && descr.back() == '\'', "load_npy: ", path,
            ": malformed 'descr' in the header");
  const DType dtype = parse_descr(descr.substr(1, descr.size() - 2), path);
  const std::string fortran = header_value(header, "fortran_order", path);
  MPQ_CHECK(fortran == "False" || fortran == "True", "load_npy: ", path,
            ": malformed 'fortran_order'");
  MPQ_CHECK(fortran == "False", "load_npy: ", path, ": Fortran-ordered arrays are not supported");
  const std::string dims = header_value(header, "shape", path);
  MPQ_CHECK(dims.size() >= 2 && dims.front() == '(' && dims.back() == ')', "load_npy: ", path,
            ": malformed 'shape' in the header");
  Shape shape;
  std::int64_t cur = -1;
  bool number_ended = false;  // a space after digits: only ',' may follow ("(2 2,)" is not [22])
  for (char ch : dims.substr(1, dims.size() - 2)) {
    if (ch >= '0' && ch <= '9') {
      MPQ_CHECK(!number_ended, "load_npy: ", path, ": malformed shape ", dims);
      cur = (cur < 0 ? 0 : cur) * 10 + (ch - '0');
      MPQ_CHECK(cur < (std::int64_t(1) << 40), "load_npy: ", path, ": implausible shape ", dims);
    } else if (ch == ',') {
      MPQ_CHECK(cur >= 0, "load_npy: ", path, ": malformed shape ", dims);
      shape.push_back(cur);
      cur = -1;
      number_ended = false;
    } else {
      MPQ_CHECK(ch == ' ', "load_npy: ", path, ": malformed shape ", dims);
      number_ended = cur >= 0;
    }
  }
  if (cur >= 0) shape.push_back(cur);

  // The data the shape needs must be in the file; each dimension is < 2^40 and
  // the product is bounded by the bytes present at every step, so it cannot overflow.
  const std::uint64_t data_bytes = remaining - header_len;
  // A shape with a zero dimension needs no data at all (empty() still refuses
  // its other dimensions when they are absurd).
  const bool no_data = std::find(shape.begin(), shape.end(), 0) != shape.end();
  std::uint64_t expected = dtype_size(dtype);
  for (auto d : no_data ? std::vector<std::int64_t>{} : shape) {
    const auto ud = static_cast<std::uint64_t>(d);
    MPQ_CHECK(ud == 0 || expected <= data_bytes / ud, "load_npy: ", path,
              ": truncated data (shape ", shape_str(shape), " ", dtype_name(dtype),
              " needs more than the ", data_bytes, " bytes present)");
    expected *= ud;
  }
  Tensor t = empty(shape, dtype);
  const std::size_t nbytes = t.numel() * dtype_size(dtype);
  in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(nbytes));
  MPQ_CHECK(static_cast<std::size_t>(in.gcount()) == nbytes, "load_npy: ", path,
            ": truncated data (", in.gcount(), " of ", nbytes, " bytes for shape ",
            shape_str(shape), " ", dtype_name(dtype), ")");
  return t;
}

std::string npy_bytes(const Tensor& t) {
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
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(c.raw_data()),
             static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype()));
  return out;
}

void save_npy(const std::string& path, const Tensor& t) {
  write_file_atomic(path, npy_bytes(t));
}

}  // namespace mpq
