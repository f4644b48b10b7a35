// train::Json: the strict parser, the writer, and errors that name the
// document and the JSON pointer of the value at fault.
#include "test_util.h"
#include "train/json.h"

using namespace mpq;
using namespace mpq::train;
using Catch::Matchers::Contains;

TEST_CASE("json: parse, dump and errors", "[json]") {
  const Json j =
      Json::parse(R"({"a": [1, 2.5, -3e2], "b": {"c": "x\"y\n"}, "t": true, "n": null})");
  CHECK(j.at("a").array()[1].number() == 2.5);
  CHECK(j.at("a").array()[2].number() == -300);
  CHECK(j.at("b").at("c").string() == "x\"y\n");
  CHECK(j.at("t").boolean());
  CHECK(j.at("n").is_null());
  CHECK(Json::parse(j.dump()).dump() == j.dump());
  Json w;
  w["k"] = 3;
  w["s"] = "v";
  CHECK(w.dump() == R"({"k": 3, "s": "v"})");
  CHECK_THROWS_WITH(Json::parse("{\"a\": }", "test"), Contains("test: malformed JSON at byte"));
  CHECK_THROWS_WITH(Json::parse("[1, 2"), Contains("malformed"));
  CHECK_THROWS_WITH(Json::parse("{} x"), Contains("trailing"));
  CHECK_THROWS_WITH(j.at("zz"), Contains("missing key 'zz'"));
}

TEST_CASE("json: errors name the document and the value's JSON pointer", "[json]") {
  const Json j =
      Json::parse(R"({"lr": "0.1", "rows": [{"x/y": 1, "n": 2}], "e": {}})", "run/config.json");
  CHECK_THROWS_WITH(j.at("lr").number(), "run/config.json at /lr: expected a number, got a string");
  CHECK_THROWS_WITH(j.at("rows").array()[0].at("n").string(),
                    "run/config.json at /rows/0/n: expected a string, got a number");
  // RFC 6901 escapes '/' in a key as "~1".
  CHECK_THROWS_WITH(j.at("rows").array()[0].at("x/y").array(),
                    "run/config.json at /rows/0/x~1y: expected an array, got a number");
  CHECK_THROWS_WITH(j.at("e").at("train_ce"), "run/config.json at /e: missing key 'train_ce'");
  CHECK_THROWS_WITH(j.array(),
                    "run/config.json at the top level: expected an array, got an object");
  CHECK_THROWS_WITH(Json(2.0).string(), "JSON value: expected a string, got a number");
}

TEST_CASE("json: the parser refuses what RFC 8259 does not allow", "[json]") {
  auto refused = [](const std::string& text, const std::string& why) {
    INFO(text);
    CHECK_THROWS_WITH(Json::parse(text, "doc"), Contains("doc: malformed JSON") && Contains(why));
  };
  refused(R"({"a": 1, "a": 2})", "duplicate key 'a'");
  refused("[01]", "leading zero");
  refused("[1.]", "digit is missing");
  refused("[.5]", "unexpected character");
  refused("[-]", "digit is missing");
  refused("[1e]", "digit is missing");
  refused("[+1]", "unexpected character");
  refused("[1e400]", "out of range");
  refused("[\"a\tb\"]", "control character");
  refused(R"(["\x"])", "bad escape");
  // Non-hex digits in \u used to escape as std::invalid_argument from stoul.
  refused(R"(["\uzzzz"])", "not a hex digit");
  refused(R"(["\u12"])", "bad \\u escape");
  refused(R"(["\ud83d"])", "lone high surrogate");
  refused(R"(["\ude00"])", "lone low surrogate");
  refused(std::string(65, '[') + std::string(65, ']'), "nested too deeply");
  refused("", "unexpected end");
  CHECK(Json::parse("[1e-400]").array()[0].number() == 0);  // underflow rounds to zero
  CHECK(Json::parse("[-0.5E+1]").array()[0].number() == -5);
}

TEST_CASE("json: \\u escapes decode to UTF-8, surrogate pairs included", "[json]") {
  CHECK(Json::parse(R"(["\u0041\u00e9\u20AC"])").array()[0].string() == "A\xc3\xa9\xe2\x82\xac");
  // U+1F600 as the pair D83D DE00.
  CHECK(Json::parse(R"(["\ud83d\ude00"])").array()[0].string() == "\xf0\x9f\x98\x80");
  const Json s = Json::parse(R"(["\u0001\u001f"])");
  CHECK(Json::parse(s.dump()).dump() == s.dump());
}
