#include "train/json.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace mpq::train {

bool Json::boolean() const {
  MPQ_CHECK(type_ == Type::boolean, "JSON: expected a boolean");
  return b_;
}
double Json::number() const {
  MPQ_CHECK(is_number(), "JSON: expected a number");
  return d_;
}
const std::string& Json::string() const {
  MPQ_CHECK(is_string(), "JSON: expected a string");
  return s_;
}
const Json::Array& Json::array() const {
  MPQ_CHECK(is_array(), "JSON: expected an array");
  return *a_;
}
const Json::Object& Json::object() const {
  MPQ_CHECK(is_object(), "JSON: expected an object");
  return *o_;
}
Json::Object& Json::object() {
  MPQ_CHECK(is_object(), "JSON: expected an object");
  return *o_;
}
const Json& Json::at(const std::string& key) const {
  const Object& o = object();
  auto it = o.find(key);
  MPQ_CHECK(it != o.end(), "JSON: missing key '", key, "'");
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

struct Parser {
  const std::string& s;
  const std::string& what;
  std::size_t i = 0;
  int depth = 0;

  [[noreturn]] void fail(const char* msg) {
    MPQ_FAIL(what, ": malformed JSON at byte ", i, ": ", msg);
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
  Json value() {
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
          std::string k = str();
          if (!eat(':')) fail("expected ':'");
          o[k] = value();
        } while (eat(','));
        if (!eat('}')) fail("expected ',' or '}'");
      }
      v = Json(std::move(o));
    } else if (c == '[') {
      ++i;
      Json::Array a;
      if (!eat(']')) {
        do a.push_back(value());
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
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const std::size_t start = i;
      if (s[i] == '-') ++i;
      while (i < s.size() &&
             std::string_view("0123456789.eE+-").find(s[i]) != std::string_view::npos)
        ++i;
      std::size_t used = 0;
      double d = 0;
      try {
        d = std::stod(s.substr(start, i - start), &used);
      } catch (const std::exception&) {
        fail("bad number");
      }
      if (used != i - start) fail("bad number");
      v = Json(d);
    } else {
      fail("unexpected character");
    }
    --depth;
    return v;
  }
  std::string str() {
    ++i;  // opening quote
    std::string out;
    while (true) {
      if (i >= s.size()) fail("unterminated string");
      const char c = s[i++];
      if (c == '"') return out;
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
          if (i + 4 > s.size()) fail("bad \\u escape");
          const unsigned code = static_cast<unsigned>(std::stoul(s.substr(i, 4), nullptr, 16));
          i += 4;
          // UTF-8 encode the BMP code point (surrogate pairs are not used by mpq).
          if (code < 0x80) {
            out += static_cast<char>(code);
          } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
          }
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }
};
}  // namespace

std::string Json::dump() const {
  std::string out;
  dump_value(*this, out);
  return out;
}

Json Json::parse(const std::string& text, const std::string& what) {
  Parser p{text, what};
  Json v = p.value();
  p.ws();
  if (p.i != text.size()) p.fail("trailing characters");
  return v;
}

}  // namespace mpq::train
