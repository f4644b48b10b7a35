#include "train/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace mpq::train {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Round tick positions covering [lo, hi]: steps of 1, 2 or 5 times a power of 10.
std::vector<double> ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

}  // namespace

const std::string& color(std::size_t i) {
  static const std::vector<std::string> palette{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  return palette[i % palette.size()];
}

std::string svg_plot(const std::vector<Panel>& panels, int width, int panel_height) {
  const int left = 70, right = 170, top = 30, bottom = 45;
  const int height = static_cast<int>(panels.size()) * panel_height;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
     << "\" viewBox=\"0 0 " << width << " " << height
     << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const Panel& panel = panels[p];
    const double y0 = static_cast<double>(p) * panel_height;
    const double pw = width - left - right, ph = panel_height - top - bottom;
    auto ty = [&](double v) { return panel.log_y ? std::log10(v) : v; };
    double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
    for (const Series& s : panel.series)
      for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (panel.log_y && s.y[i] <= 0))
          continue;
        xmin = std::min(xmin, s.x[i]);
        xmax = std::max(xmax, s.x[i]);
        ymin = std::min(ymin, ty(s.y[i]));
        ymax = std::max(ymax, ty(s.y[i]));
      }
    if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
    if (xmax - xmin < 1e-12) xmin -= 0.5, xmax += 0.5;
    if (ymax - ymin < 1e-12) ymin -= 0.5, ymax += 0.5;
    const double pad = 0.05 * (ymax - ymin);
    ymin -= pad;
    ymax += pad;
    auto sx = [&](double v) { return left + (v - xmin) / (xmax - xmin) * pw; };
    auto sy = [&](double v) { return y0 + top + (1 - (ty(v) - ymin) / (ymax - ymin)) * ph; };
    auto sy_raw = [&](double v) { return y0 + top + (1 - (v - ymin) / (ymax - ymin)) * ph; };

    os << "<text x=\"" << left << "\" y=\"" << y0 + 18
       << "\" font-size=\"13\" font-weight=\"bold\">" << escape(panel.title) << "</text>\n";
    os << "<rect x=\"" << left << "\" y=\"" << y0 + top << "\" width=\"" << pw << "\" height=\""
       << ph << "\" fill=\"none\" stroke=\"#444\"/>\n";
    for (double t : ticks(xmin, xmax)) {
      os << "<line x1=\"" << sx(t) << "\" x2=\"" << sx(t) << "\" y1=\"" << y0 + top << "\" y2=\""
         << y0 + top + ph << "\" stroke=\"#eee\"/><text x=\"" << sx(t) << "\" y=\""
         << y0 + top + ph + 14 << "\" text-anchor=\"middle\">" << num(t) << "</text>\n";
    }
    for (double t : ticks(ymin, ymax)) {
      os << "<line x1=\"" << left << "\" x2=\"" << left + pw << "\" y1=\"" << sy_raw(t)
         << "\" y2=\"" << sy_raw(t) << "\" stroke=\"#eee\"/><text x=\"" << left - 6 << "\" y=\""
         << sy_raw(t) + 4 << "\" text-anchor=\"end\">"
         << (panel.log_y ? num(std::pow(10.0, t)) : num(t)) << "</text>\n";
    }
    os << "<text x=\"" << left + pw / 2 << "\" y=\"" << y0 + panel_height - 8
       << "\" text-anchor=\"middle\">" << escape(panel.xlabel) << "</text>\n";
    os << "<text transform=\"translate(16," << y0 + top + ph / 2
       << ") rotate(-90)\" text-anchor=\"middle\">" << escape(panel.ylabel) << "</text>\n";
    for (std::size_t k = 0; k < panel.series.size(); ++k) {
      const Series& s = panel.series[k];
      std::ostringstream pts;
      for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i]) || (panel.log_y && s.y[i] <= 0))
          continue;
        if (s.points)
          os << "<circle cx=\"" << sx(s.x[i]) << "\" cy=\"" << sy(s.y[i]) << "\" r=\"2\" fill=\""
             << s.color << "\"/>\n";
        else
          pts << sx(s.x[i]) << "," << sy(s.y[i]) << " ";
      }
      if (!s.points)
        os << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"1.5\" points=\""
           << pts.str() << "\"/>\n";
      const double ly = y0 + top + 8 + 16.0 * static_cast<double>(k);
      os << "<line x1=\"" << left + pw + 12 << "\" x2=\"" << left + pw + 30 << "\" y1=\"" << ly
         << "\" y2=\"" << ly << "\" stroke=\"" << s.color << "\" stroke-width=\"3\"/><text x=\""
         << left + pw + 36 << "\" y=\"" << ly + 4 << "\">" << escape(s.label) << "</text>\n";
    }
  }
  os << "</svg>\n";
  return os.str();
}

std::string svg_bars(const Bars& b, int width, int height) {
  const int left = 60, right = 20, top = 30, bottom = 120;
  const double pw = width - left - right, ph = height - top - bottom;
  double vmax = 0;
  for (double v : b.values)
    if (std::isfinite(v)) vmax = std::max(vmax, v);
  if (vmax <= 0) vmax = 1;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
     << "\" font-family=\"sans-serif\" font-size=\"10\">\n<rect width=\"100%\" height=\"100%\" "
        "fill=\"white\"/>\n"
     << "<text x=\"" << left << "\" y=\"18\" font-size=\"13\" font-weight=\"bold\">"
     << escape(b.title) << "</text>\n";
  for (double t : ticks(0, vmax)) {
    const double y = top + ph - t / vmax * ph;
    os << "<line x1=\"" << left << "\" x2=\"" << left + pw << "\" y1=\"" << y << "\" y2=\"" << y
       << "\" stroke=\"#eee\"/><text x=\"" << left - 6 << "\" y=\"" << y + 4
       << "\" text-anchor=\"end\">" << num(t) << "</text>\n";
  }
  const double slot = pw / std::max<std::size_t>(1, b.values.size());
  for (std::size_t i = 0; i < b.values.size(); ++i) {
    const double v = std::isfinite(b.values[i]) ? b.values[i] : 0;
    const double h = v / vmax * ph, x = left + slot * static_cast<double>(i);
    os << "<rect x=\"" << x + slot * 0.15 << "\" y=\"" << top + ph - h << "\" width=\""
       << slot * 0.7 << "\" height=\"" << h << "\" fill=\"" << b.color << "\"><title>"
       << escape(b.labels[i]) << ": " << num(v) << "</title></rect>\n";
    const double lx = x + slot / 2, ly = top + ph + 6;
    os << "<text transform=\"translate(" << lx << "," << ly << ") rotate(60)\" font-size=\"9\">"
       << escape(b.labels[i]) << "</text>\n";
  }
  os << "<line x1=\"" << left << "\" x2=\"" << left + pw << "\" y1=\"" << top + ph << "\" y2=\""
     << top + ph << "\" stroke=\"#444\"/>\n<text transform=\"translate(16," << top + ph / 2
     << ") rotate(-90)\" text-anchor=\"middle\">" << escape(b.ylabel) << "</text>\n</svg>\n";
  return os.str();
}

}  // namespace mpq::train
