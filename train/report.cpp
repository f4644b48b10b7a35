#include "train/report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/file_io.h"
#include "train/json.h"
#include "train/plot.h"

namespace mpq::train {

namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s)
    out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return out;
}

std::string fmt(const Json& v) {
  if (!v.is_number()) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v.number());
  return b;
}

}  // namespace

std::string write_report(const std::string& run_dir) {
  // Per-epoch records.
  std::vector<Json> epochs;
  {
    std::istringstream lines(read_file(run_dir + "/log.jsonl", "report"));
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      ++n;
      if (line.empty()) continue;
      epochs.push_back(Json::parse(line, run_dir + "/log.jsonl line " + std::to_string(n)));
    }
  }
  MPQ_CHECK(!epochs.empty(), "report: ", run_dir, "/log.jsonl has no epochs");
  const Json summary =
      Json::parse(read_file(run_dir + "/summary.json", "report"), run_dir + "/summary.json");

  // x axis: epochs counted over both phases.
  std::vector<double> x, ce, pen, tr, te, wkb, amax, asum;
  for (std::size_t i = 0; i < epochs.size(); ++i) {
    const Json& e = epochs[i];
    x.push_back(static_cast<double>(i + 1));
    ce.push_back(e.at("train_ce").number());
    pen.push_back(e.at("train_penalty").number());
    tr.push_back(100 * e.at("train_accuracy").number());
    te.push_back(100 * e.at("test_accuracy").number());
    wkb.push_back(e.at("weight_kb").number());
    amax.push_back(e.at("activation_kb_max").number());
    asum.push_back(e.at("activation_kb_sum").number());
  }
  auto flat = [&](const char* key) -> std::vector<double> {
    const Json& t = summary.at(key);
    return t.is_number() ? std::vector<double>(x.size(), t.number()) : std::vector<double>{};
  };
  Panel loss{"training loss", "epoch (float, then quantized)", "", {}};
  loss.series.push_back({"cross-entropy", x, ce, color(0)});
  loss.series.push_back({"memory penalty", x, pen, color(1)});
  Panel acc{"accuracy", "epoch", "%", {}};
  acc.series.push_back({"train", x, tr, color(0)});
  acc.series.push_back({"test", x, te, color(2)});
  Panel mem_w{"weight memory (kB, log scale)", "epoch", "kB", {}, true};
  mem_w.series.push_back({"weights", x, wkb, color(0)});
  if (auto t = flat("weight_kb_target"); !t.empty())
    mem_w.series.push_back({"target", x, t, "#999999"});
  Panel mem_a{"activation memory (kB, log scale)", "epoch", "kB", {}, true};
  mem_a.series.push_back({"largest", x, amax, color(1)});
  mem_a.series.push_back({"sum", x, asum, color(3)});
  if (auto t = flat("activation_kb_max_target"); !t.empty())
    mem_a.series.push_back({"largest: target", x, t, "#999999"});
  if (auto t = flat("activation_kb_sum_target"); !t.empty())
    mem_a.series.push_back({"sum: target", x, t, "#555555"});

  // Per-layer bitwidths.
  Bars wbits{"learned bitwidth per weight tensor", "bits", {}, {}, color(0)};
  Bars abits{"learned bitwidth per activation", "bits", {}, {}, color(1)};
  for (const auto& [name, bits] : summary.at("bitwidths").object()) {
    const bool act = name.find("act") != std::string::npos;
    (act ? abits : wbits).labels.push_back(name);
    (act ? abits : wbits).values.push_back(bits.number());
  }

  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mpq run "
    << html_escape(run_dir)
    << "</title><style>body{font-family:sans-serif;max-width:980px;margin:2em "
       "auto}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:2px "
       "8px;text-align:right}th{background:#f4f4f4}</style></head><body>\n";
  h << "<h1>mpq training run</h1>\n<p>" << html_escape(run_dir) << "</p>\n<table>\n";
  for (const char* key :
       {"dataset", "model", "param", "float_epochs", "epochs", "test_accuracy",
        "best_test_accuracy", "weight_kb", "weight_kb_target", "activation_kb_max",
        "activation_kb_max_target", "activation_kb_sum", "activation_kb_sum_target",
        "mean_weight_bits", "constraints_met", "images_per_s", "wall_time_s"}) {
    if (!summary.has(key)) continue;
    const Json& v = summary.at(key);
    h << "<tr><th>" << key << "</th><td>"
      << html_escape(v.is_string()   ? v.string()
                     : v.is_number() ? fmt(v)
                     : v.is_null()   ? "none"
                                     : v.dump())
      << "</td></tr>\n";
  }
  h << "</table>\n<h2>Training curves</h2>\n"
    << svg_plot({loss, acc}) << "<h2>Memory</h2>\n"
    << svg_plot({mem_w, mem_a}) << "<h2>Learned bitwidths</h2>\n"
    << svg_bars(wbits) << svg_bars(abits);
  if (std::filesystem::exists(run_dir + "/quantizers.json")) {
    const Json q = Json::parse(read_file(run_dir + "/quantizers.json", "report"),
                               run_dir + "/quantizers.json");
    h << "<h2>Final quantizer "
         "parameters</h2>\n<table><tr><th>tensor</th><th>kind</th><th>param</th><th>d</th>"
         "<th>q_max</th><th>q_min</th><th>bits</th><th>count</th><th>kB</th></tr>\n";
    for (const Json& r : q.array())
      h << "<tr><td style=\"text-align:left\">" << html_escape(r.at("name").string()) << "</td><td>"
        << html_escape(r.at("kind").string()) << "</td><td>" << html_escape(r.at("param").string())
        << "</td><td>" << fmt(r.at("d")) << "</td><td>" << fmt(r.at("qmax")) << "</td><td>"
        << fmt(r.at("qmin")) << "</td><td>" << fmt(r.at("bits")) << "</td><td>"
        << fmt(r.at("count")) << "</td><td>" << fmt(r.at("kb")) << "</td></tr>\n";
    h << "</table>\n";
  }
  h << "</body></html>\n";
  const std::string path = run_dir + "/report.html";
  write_file_atomic(path, h.str());
  return path;
}

}  // namespace mpq::train
