// A small JSON value with a strict parser and a writer: enough for
// safetensors headers, run summaries and JSON-lines logs. Numbers are
// doubles (integers up to 2^53 round-trip exactly).
//
// The parser follows RFC 8259 strictly (no leading zeros, no control
// characters in strings, no duplicate keys, well-formed \u escapes including
// surrogate pairs) and refuses nesting deeper than 64. Every parsed value
// remembers the document it came from and its JSON pointer (RFC 6901), so a
// type or missing-key error names both:
//   "run/config.json at /batch-size: expected a string, got a number".
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mpq::train {

class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::map<std::string, Json>;  // keys sorted on output

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::boolean), b_(b) {}
  Json(double d) : type_(Type::number), d_(d) {}
  Json(int i) : type_(Type::number), d_(static_cast<double>(i)) {}
  Json(std::int64_t i) : type_(Type::number), d_(static_cast<double>(i)) {}
  Json(const char* s) : type_(Type::string), s_(s) {}
  Json(std::string s) : type_(Type::string), s_(std::move(s)) {}
  Json(Array a) : type_(Type::array), a_(std::make_shared<Array>(std::move(a))) {}
  Json(Object o) : type_(Type::object), o_(std::make_shared<Object>(std::move(o))) {}

  bool is_null() const { return type_ == Type::null; }
  bool is_number() const { return type_ == Type::number; }
  bool is_string() const { return type_ == Type::string; }
  bool is_array() const { return type_ == Type::array; }
  bool is_object() const { return type_ == Type::object; }
  bool boolean() const;
  double number() const;
  const std::string& string() const;
  const Array& array() const;
  const Object& object() const;
  Object& object();
  // Member access on an object (errors name the key when missing).
  const Json& at(const std::string& key) const;
  bool has(const std::string& key) const;
  Json& operator[](const std::string& key);  // creates an object / member

  // Where this value came from: "<document> at <JSON pointer>" for parsed
  // values, "JSON value" for built ones.
  std::string where() const;

  std::string dump() const;  // compact, one line
  // Throws mpq::Error naming `what` and the byte offset on malformed input.
  static Json parse(const std::string& text, const std::string& what = "JSON");

 private:
  // A tagged struct rather than std::variant: GCC 12 warns falsely
  // (-Wmaybe-uninitialized) on variants holding std::string.
  enum class Type { null, boolean, number, string, array, object };
  Type type_ = Type::null;
  bool b_ = false;
  double d_ = 0;
  std::string s_;
  std::shared_ptr<Array> a_;
  std::shared_ptr<Object> o_;
  std::shared_ptr<const std::string> origin_;  // the parsed document's name
  std::string pointer_;                        // RFC 6901, "" for the root

  const char* type_name() const;
  [[noreturn]] void type_error(const char* expected) const;
  friend struct JsonParser;
};

}  // namespace mpq::train
