// The `mpq quant` command end to end: .npy in, .npy/JSON/SVG out, and clear
// errors (exit code 2) for malformed input.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/backend.h"
#include "core/file_io.h"
#include "core/npy.h"
#include "temp_dir.h"
#include "test_util.h"

using namespace mpq;
using Catch::Matchers::Contains;

namespace {
struct Result {
  int code;
  std::string out, err;
};

Result run_cli(const test::TempDir& dir, const std::string& args) {
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  // MPQ_CLI_PATH_OVERRIDE: the CLI when the tests run away from their build
  // folder (scripts/gpu_check.sh).
  const char* override_path = std::getenv("MPQ_CLI_PATH_OVERRIDE");
  const std::string cli = override_path ? override_path : MPQ_CLI_PATH;
  const std::string cmd = cli + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, mpq::read_file(out, "test"),
          mpq::read_file(err, "test")};
}
}  // namespace

TEST_CASE("mpq quant: .npy round trip with JSON, outputs and plot", "[cli][quant]") {
  test::TempDir dir;
  save_npy(dir.file("x.npy"), from_vector<double>({0.3, -0.45, 1.2, -2.0, 0.1}, {5}));
  save_npy(dir.file("u.npy"), from_vector<float>({1, 2, 3, 4, 5}, {5}));
  const Result r =
      run_cli(dir, "quant --param U3 --d 0.25 --qmax 0.9 --input " + dir.file("x.npy") +
                       " --upstream " + dir.file("u.npy") + " --output " + dir.file("q.npy") +
                       " --grad-input " + dir.file("gx.npy") + " --json " + dir.file("o.json") +
                       " --plot " + dir.file("p.svg"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Tensor q = load_npy(dir.file("q.npy")), gx = load_npy(dir.file("gx.npy"));
  CHECK(q.dtype() == DType::f32);
  CHECK(q.to_vector<float>() == std::vector<float>{0.25f, -0.5f, 1.0f, -1.0f, 0.0f});
  CHECK(gx.to_vector<float>() == std::vector<float>{1, 2, 0, 0, 5});
  const std::string json = mpq::read_file(dir.file("o.json"), "test");
  CHECK_THAT(json, Contains("\"param\": \"U3\"") && Contains("\"signed\": true") &&
                       Contains("\"with_zero\": false") && Contains("\"bitwidth\": 4") &&
                       Contains("\"effective\": {\"d\": 0.25, \"qmax\": 0.9") &&
                       Contains("\"grad\": {\"d\": -3") && Contains("\"qmax\": -1}"));
  const std::string svg = mpq::read_file(dir.file("p.svg"), "test");
  CHECK_THAT(svg, Contains("<svg") && Contains("dQ/dx") && Contains("dQ/dqmax"));
  // Without output flags: a summary on stdout.
  const Result s =
      run_cli(dir, "quant --param P3 --unsigned --with-zero --input " + dir.file("x.npy"));
  REQUIRE(s.code == 0);
  CHECK_THAT(s.out,
             Contains("P3 unsigned with zero") && Contains("bitwidth") && Contains("dL/dqmin"));
  CHECK(run_cli(dir, "quant --help").code == 0);
}

TEST_CASE("mpq quant: malformed input exits with code 2 and a clear message", "[cli][quant]") {
  test::TempDir dir;
  save_npy(dir.file("x.npy"), from_vector<float>({0.5f, -0.5f}, {2}));
  save_npy(dir.file("int.npy"), from_vector<std::int32_t>({1, 2}, {2}));
  save_npy(dir.file("u3.npy"), from_vector<float>({1, 2, 3}, {3}));
  save_npy(dir.file("nan.npy"), from_vector<float>({1, std::nanf("")}, {2}));
  const std::string good = mpq::read_file(dir.file("x.npy"), "test");
  dir.write("trunc.npy", good.substr(0, good.size() - 3));
  dir.write("junk.npy", "not a numpy file");
  const std::string x = " --input " + dir.file("x.npy");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"quant --param U3 --input " + dir.file("trunc.npy"), "truncated data"},
      {"quant --param U3 --input " + dir.file("junk.npy"), "bad magic"},
      {"quant --param U3 --input " + dir.file("int.npy"), "int32"},
      {"quant --param U3 --input " + dir.file("missing.npy"), "cannot open"},
      {"quant --param U7" + x, "unknown parametrization 'U7'"},
      {"quant --input " + dir.file("x.npy"), "--param is required"},
      {"quant --param U3", "--input is required"},
      {"quant --param U3 --b 3" + x, "--b is not one of its parameters"},
      {"quant --param U3 --with-zero" + x, "P1, P2 and P3 only"},
      {"quant --param U3 --d abc" + x, "expects a finite number"},
      {"quant --param U3 --upstream " + dir.file("u3.npy") + x,
       "expected a floating tensor of shape [2]"},
      {"quant --param U3 --upstream " + dir.file("nan.npy") + x,
       "--upstream " + dir.file("nan.npy") + " contains NaN or Inf"},
      {"quant --param U3 --bogus 1" + x, "unknown flag --bogus"},
      {"frobnicate", "unknown command"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args);
    const Result r = run_cli(dir, args);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Contains(message));
  }
}

TEST_CASE("mpq quant: outputs are written all or none", "[cli][quant]") {
  test::TempDir dir;
  save_npy(dir.file("x.npy"), from_vector<float>({0.5f, -0.5f}, {2}));
  // --json into a folder that does not exist: the run fails, and neither the
  // .npy it would have written first nor a temporary file is left.
  const Result r = run_cli(dir, "quant --param U3 --input " + dir.file("x.npy") + " --output " +
                                    dir.file("q.npy") + " --grad-input " + dir.file("g.npy") +
                                    " --json " + dir.file("absent/out.json"));
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("cannot write '" + dir.file("absent/out.json.tmp") + "'"));
  for (const char* f : {"q.npy", "q.npy.tmp", "g.npy", "g.npy.tmp"}) {
    INFO(f);
    CHECK_FALSE(std::filesystem::exists(dir.file(f)));
  }
  // An existing output is left as it was.
  dir.write("q.npy", "old");
  CHECK(run_cli(dir, "quant --param U3 --input " + dir.file("x.npy") + " --output " +
                         dir.file("q.npy") + " --plot " + dir.file("absent/q.svg"))
            .code == 2);
  CHECK(mpq::read_file(dir.file("q.npy"), "test") == "old");
  CHECK_FALSE(std::filesystem::exists(dir.file("q.npy.tmp")));
}

TEST_CASE("mpq summary: ResNet-20 prints the paper's memory numbers", "[cli][summary]") {
  test::TempDir dir;
  const Result q = run_cli(dir, "summary --model resnet20 --wbits 2 --abits 4");
  INFO(q.err);
  REQUIRE(q.code == 0);
  CHECK_THAT(q.out, Contains("layer2.1.conv1.weight") && Contains("268,346 values, 65.5 kB") &&
                        Contains("16,384 values, 8.0 kB") &&
                        Contains("sum of 19 activations:     188,416 values, 92.0 kB"));
  const Result f = run_cli(dir, "summary --model resnet20 --totals");
  REQUIRE(f.code == 0);
  CHECK_THAT(f.out, Contains("268,346 values, 1048.2 kB"));
  const Result bad = run_cli(dir, "summary --model resnet99");
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Contains("unknown model 'resnet99'"));
}

TEST_CASE("mpq quant: --device cuda gives the CPU's results, or the reason it cannot",
          "[cli][quant][cuda]") {
  test::TempDir dir;
  save_npy(dir.file("x.npy"), from_vector<double>({0.3, -0.45, 1.2, -2.0, 0.1, 0.7}, {2, 3}));
  for (const char* param : {"U3 --d 0.25 --qmax 0.9", "P3 --qmin 0.125 --qmax 1"}) {
    const std::string common =
        std::string("quant --param ") + param + " --input " + dir.file("x.npy") + " --json ";
    const Result c =
        run_cli(dir, common + dir.file("cpu.json") + " --output " + dir.file("qc.npy"));
    REQUIRE(c.code == 0);
    const Result g = run_cli(
        dir, common + dir.file("gpu.json") + " --output " + dir.file("qg.npy") + " --device cuda");
    std::string why;
    if (device_count(DeviceType::cuda, &why) == 0) {
      CHECK(g.code == 2);
      CHECK_THAT(g.err, Contains("cuda:0"));
      std::cout << "[mpq-skip] no CUDA device: " << why << std::endl;
      return;
    }
    INFO(g.err);
    REQUIRE(g.code == 0);
    CHECK(load_npy(dir.file("qg.npy")).to_vector<float>() ==
          load_npy(dir.file("qc.npy")).to_vector<float>());
    CHECK(mpq::read_file(dir.file("gpu.json"), "test") ==
          mpq::read_file(dir.file("cpu.json"), "test"));
  }
}
