// Self-contained SVG line plots (no scripts, no fonts to fetch): a column of
// panels, each with axes, ticks at round numbers, one polyline or point set per
// series and a legend. Used by the CLI's --plot, the toy experiment and
// training reports.
#pragma once

#include <string>
#include <vector>

namespace mpq::train {

struct Series {
  std::string label;
  std::vector<double> x, y;
  std::string color = "#1f77b4";
  bool points = false;  // markers instead of a line
};

struct Panel {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  bool log_y = false;  // logarithmic y axis (non-positive values are dropped)
};

std::string svg_plot(const std::vector<Panel>& panels, int width = 760, int panel_height = 280);

// A bar chart: one bar per category (labels rotated under the axis), with an
// optional horizontal reference line (e.g. a target).
struct Bars {
  std::string title, ylabel;
  std::vector<std::string> labels;
  std::vector<double> values;
  std::string color = "#1f77b4";
};
std::string svg_bars(const Bars& bars, int width = 760, int height = 300);

// A palette of distinguishable colours, indexed modulo its size.
const std::string& color(std::size_t i);

}  // namespace mpq::train
