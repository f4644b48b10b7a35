#include "train/json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace mpq::train {

const char* Json::type_name() const {
  switch (type_) {
    case Type::null:
      return "null";
    case Type::boolean:
      return "a boolean";
    case Type::number:
      return "a number";
    case Type::string:
      return "a string";
    case Type::array:
      return "an array";
    case Type::object:
      return "an object";
  }
  return "?";
}
std::string Json::where() const {
  if (!origin_) return "JSON value";
  return *origin_ + " at " + (pointer_.empty() ? std::string("the top level") : pointer_);
}
void Json::type_error(const char* expected) const {
  MPQ_FAIL(where(), ": expected ", expected, ", got ", type_name());
}

bool Json::boolean() const {
  if (type_ != Type::boolean) type_error("a boolean");
  return b_;
}
double Json::number() const {
  if (!is_number()) type_error("a number");
  return d_;
}
const std::string& Json::string() const {
  if (!is_string()) type_error("a string");
  return s_;
}
const Json::Array& Json::array() const {
  if (!is_array()) type_error("an array");
  return *a_;
}
const Json::Object& Json::object() const {
  if (!is_object()) type_error("an object");
  return *o_;
}
Json::Object& Json::object() {
  if (!is_object()) type_error("an object");
  return *o_;
}
const Json& Json::at(const std::string& key) const {
  const Object& o = object();
  auto it = o.find(key);
  MPQ_CHECK(it != o.end(), where(), ": missing key '", key, "'");
  return it->second;
}
bool Json::has(const std::string& key) const {
  return is_object() && object().count(key) > 0;
}
Json& Json::operator[](const std::string& key) {
  if (is_null()) {
    type_ = Type::object;
    o_ = std::make_shared<Object>();
  }
  return object()[key];
}

namespace {
void dump_string(const std::string& s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void dump_value(const Json& j, std::string& out) {
  if (j.is_null()) {
    out += "null";
  } else if (j.is_number()) {
    const double d = j.number();
    if (!std::isfinite(d)) {
      out += "null";  // JSON has no NaN/Inf
    } else if (d == std::floor(d) && std::abs(d) < 9.0e15) {
      out += std::to_string(static_cast<long long>(d));
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      out += buf;
    }
  } else if (j.is_string()) {
    dump_string(j.string(), out);
  } else if (j.is_array()) {
    out += '[';
    bool first = true;
    for (const Json& e : j.array()) {
      if (!first) out += ", ";
      first = false;
      dump_value(e, out);
    }
    out += ']';
  } else if (j.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : j.object()) {
      if (!first) out += ", ";
      first = false;
      dump_string(k, out);
      out += ": ";
      dump_value(v, out);
    }
    out += '}';
  } else {
    out += j.boolean() ? "true" : "false";
  }
}

// RFC 6901: '~' and '/' in a key are written "~0" and "~1".
std::string pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

void append_utf8(std::uint32_t code, std::string& out) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

struct JsonParser {
  const std::string& s;
  std::shared_ptr<const std::string> origin;
  std::size_t i = 0;
  int depth = 0;

  [[noreturn]] void fail(const std::string& msg) {
    MPQ_FAIL(*origin, ": malformed JSON at byte ", i, ": ", msg);
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  Json value(const std::string& pointer) {
    ws();
    if (i >= s.size()) fail("unexpected end");
    if (++depth > 64) fail("nested too deeply");
    Json v;
    const char c = s[i];
    if (c == '{') {
      ++i;
      Json::Object o;
      if (!eat('}')) {
        do {
          ws();
          if (i >= s.size() || s[i] != '"') fail("expected a string key");
          const std::size_t key_at = i;
          std::string k = str();
          if (o.count(k)) {
            i = key_at;
            fail("duplicate key '" + k + "'");
          }
          if (!eat(':')) fail("expected ':'");
          Json member = value(pointer + "/" + pointer_token(k));
          o.emplace(std::move(k), std::move(member));
        } while (eat(','));
        if (!eat('}')) fail("expected ',' or '}'");
      }
      v = Json(std::move(o));
    } else if (c == '[') {
      ++i;
      Json::Array a;
      if (!eat(']')) {
        do a.push_back(value(pointer + "/" + std::to_string(a.size())));
        while (eat(','));
        if (!eat(']')) fail("expected ',' or ']'");
      }
      v = Json(std::move(a));
    } else if (c == '"') {
      v = Json(str());
    } else if (s.compare(i, 4, "true") == 0) {
      i += 4;
      v = Json(true);
    } else if (s.compare(i, 5, "false") == 0) {
      i += 5;
      v = Json(false);
    } else if (s.compare(i, 4, "null") == 0) {
      i += 4;
    } else if (c == '-' || is_digit(c)) {
      v = Json(number());
    } else {
      fail("unexpected character");
    }
    v.origin_ = origin;
    v.pointer_ = pointer;
    --depth;
    return v;
  }
  // RFC 8259 section 6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  double number() {
    const std::size_t start = i;
    auto digits = [&] {
      const std::size_t from = i;
      while (i < s.size() && is_digit(s[i])) ++i;
      if (i == from) fail("bad number (a digit is missing)");
    };
    if (s[i] == '-') ++i;
    if (i < s.size() && s[i] == '0') {
      ++i;
      if (i < s.size() && is_digit(s[i])) fail("bad number (leading zero)");
    } else {
      digits();
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      digits();
    }
    const std::string text = s.substr(start, i - start);
    errno = 0;
    const double d = std::strtod(text.c_str(), nullptr);
    // Underflow rounds to zero (or a denormal); overflow has no double.
    if (errno == ERANGE && std::isinf(d)) {
      i = start;
      fail("number out of range: " + text);
    }
    return d;
  }
  unsigned hex4() {
    if (s.size() - i < 4) fail("bad \\u escape");
    unsigned code = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s[i++];
      code <<= 4;
      if (is_digit(h))
        code |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f')
        code |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        code |= static_cast<unsigned>(h - 'A' + 10);
      else
        fail("bad \\u escape (not a hex digit)");
    }
    return code;
  }
  std::string str() {
    ++i;  // opening quote
    std::string out;
    while (true) {
      if (i >= s.size()) fail("unterminated string");
      const char c = s[i++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) {
        --i;
        fail("control character in a string");
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) fail("unterminated escape");
      const char e = s[i++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          std::uint32_t code = hex4();
          // Outside the BMP, RFC 8259 section 7: a high surrogate D800-DBFF
          // then a low one DC00-DFFF give 0x10000 + (hi - D800) * 0x400 + (lo - DC00).
          if (code >= 0xDC00 && code <= 0xDFFF) fail("bad \\u escape (a lone low surrogate)");
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (s.compare(i, 2, "\\u") != 0) fail("bad \\u escape (a lone high surrogate)");
            i += 2;
            const unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("bad \\u escape (a lone high surrogate)");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(code, out);
          break;
        }
        default:
          --i;
          fail("bad escape");
      }
    }
  }
};

std::string Json::dump() const {
  std::string out;
  dump_value(*this, out);
  return out;
}

Json Json::parse(const std::string& text, const std::string& what) {
  JsonParser p{text, std::make_shared<const std::string>(what)};
  Json v = p.value("");
  p.ws();
  if (p.i != text.size()) p.fail("trailing characters");
  return v;
}

}  // namespace mpq::train
