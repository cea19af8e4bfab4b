#include "svg_plot.h"

#include <algorithm>
#include <cmath>

#include "base/dtype.h"
#include "base/status.h"

namespace strata::tune {
namespace {

constexpr double kWidth = 820;
constexpr double kPanelHeight = 330;
constexpr double kLeft = 70, kRight = 170, kTop = 40, kBottom = 50;  // plot margins in a panel
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                   "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '&')
      o += "&amp;";
    else if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '"')
      o += "&quot;";
    else
      o += c;
  }
  return o;
}

std::string sizeLabel(size_t b) {
  const char* units[] = {"B", "K", "M", "G"};
  int u = 0;
  while (u < 3 && b >= 1024 && b % 1024 == 0) b /= 1024, ++u;
  return std::to_string(b) + units[u];
}

// A step of 1, 2 or 5 times a power of 10 giving about `n` ticks up to `top`.
double niceStep(double top, int n) {
  const double raw = top / n;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

std::string panel(const Series& s, int nranks, double y0) {
  std::string out;
  const double plotW = kWidth - kLeft - kRight, plotH = kPanelHeight - kTop - kBottom;
  const double top = y0 + kTop, bottom = y0 + kPanelHeight - kBottom;
  const std::string name =
      std::string(collKey(s.coll)) + " " + (s.anyWidth ? "any" : dtypeName(s.type));
  out += format("<g class=\"panel\" data-series=\"%s\">\n", escape(name).c_str());
  out += format(
      "<text x=\"%g\" y=\"%g\" font-size=\"15\" font-weight=\"bold\">%s on %d ranks"
      "%s</text>\n",
      kLeft, y0 + 24, escape(collName(s.coll)).c_str(), nranks,
      s.anyWidth ? "" : format(" (%s)", dtypeName(s.type)).c_str());
  if (s.points.empty()) return out + "</g>\n";
  const double lx0 = std::log2(static_cast<double>(s.points.front().bytes));
  const double lx1 = std::max(lx0 + 1, std::log2(static_cast<double>(s.points.back().bytes)));
  double ymax = 0;
  for (const SweepPoint& p : s.points)
    for (double us : p.us) ymax = std::max(ymax, busBandwidth(s.coll, p.bytes, us, nranks));
  if (!(ymax > 0)) ymax = 1;
  const double step = niceStep(ymax * 1.05, 5);
  const double ytop = std::ceil(ymax * 1.05 / step) * step;
  auto X = [&](size_t b) {
    return kLeft + (std::log2(static_cast<double>(b)) - lx0) / (lx1 - lx0) * plotW;
  };
  auto Y = [&](double bw) { return bottom - bw / ytop * plotH; };
  // Grid and ticks.
  out += format(
      "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"white\" "
      "stroke=\"#333\"/>\n",
      kLeft, top, plotW, plotH);
  for (double v = 0; v <= ytop + step / 2; v += step) {
    const double y = Y(v);
    out += format("<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", kLeft, y,
                  kLeft + plotW, y);
    out += format("<text x=\"%g\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n",
                  kLeft - 6, y + 4, v);
  }
  // A grid line at every size; labels from the largest down, none closer than 36 px to the last.
  double labelled = 1e9;
  for (size_t i = s.points.size(); i-- > 0;) {
    const double x = X(s.points[i].bytes);
    out += format("<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#ddd\"/>\n", x, top,
                  x, bottom);
    if (labelled - x < 36) continue;
    labelled = x;
    out += format("<text x=\"%.1f\" y=\"%g\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n",
                  x, bottom + 16, sizeLabel(s.points[i].bytes).c_str());
  }
  out += format(
      "<text x=\"%g\" y=\"%g\" font-size=\"12\" text-anchor=\"middle\">size (bytes, "
      "log scale)</text>\n",
      kLeft + plotW / 2, bottom + 36);
  out += format(
      "<text transform=\"translate(%g %g) rotate(-90)\" font-size=\"12\" "
      "text-anchor=\"middle\">busbw (GB/s)</text>\n",
      kLeft - 48, top + plotH / 2);
  // The envelope beneath, then one line per candidate that ran at any size.
  std::string env;
  for (const SweepPoint& p : s.points) {
    if (p.chosen < 0) continue;
    const double bw = busBandwidth(s.coll, p.bytes, p.us[static_cast<size_t>(p.chosen)], nranks);
    env += format("%s%.1f %.1f ", env.empty() ? "M" : "L", X(p.bytes), Y(bw));
  }
  if (!env.empty())
    out += format(
        "<path class=\"envelope\" d=\"%s\" fill=\"none\" stroke=\"#ffd54f\" "
        "stroke-width=\"9\" stroke-linejoin=\"round\" stroke-linecap=\"round\" "
        "opacity=\"0.8\"/>\n",
        env.c_str());
  int legend = 0;
  for (size_t k = 0; k < s.algos.size(); ++k) {
    std::string d;
    bool pen = false;
    for (const SweepPoint& p : s.points) {
      if (p.us[k] < 0) {
        pen = false;
        continue;
      }
      const double bw = busBandwidth(s.coll, p.bytes, p.us[k], nranks);
      d += format("%s%.1f %.1f ", pen ? "L" : "M", X(p.bytes), Y(bw));
      pen = true;
    }
    if (d.empty()) continue;
    const char* color = kColors[k % (sizeof kColors / sizeof *kColors)];
    out += format(
        "<path class=\"candidate\" data-algo=\"%s\" d=\"%s\" fill=\"none\" "
        "stroke=\"%s\" stroke-width=\"1.8\"/>\n",
        escape(s.algos[k]).c_str(), d.c_str(), color);
    const double ly = top + 14 + 20 * legend++;
    out += format(
        "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" "
        "stroke-width=\"2\"/>\n",
        kLeft + plotW + 14, ly, kLeft + plotW + 40, ly, color);
    out += format("<text x=\"%g\" y=\"%g\" font-size=\"12\">%s</text>\n", kLeft + plotW + 46,
                  ly + 4, escape(s.algos[k]).c_str());
  }
  const double ly = top + 14 + 20 * legend;
  out += format(
      "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ffd54f\" "
      "stroke-width=\"9\" opacity=\"0.8\"/>\n",
      kLeft + plotW + 14, ly, kLeft + plotW + 40, ly);
  out += format("<text x=\"%g\" y=\"%g\" font-size=\"12\">chosen</text>\n", kLeft + plotW + 46,
                ly + 4);
  return out + "</g>\n";
}

}  // namespace

std::string svgPlot(const std::vector<Series>& series, int nranks, const std::string& title) {
  const double height = 40 + kPanelHeight * static_cast<double>(series.size());
  std::string out = format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%g\" height=\"%g\" "
      "viewBox=\"0 0 %g %g\" font-family=\"sans-serif\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"#fafafa\"/>\n"
      "<text x=\"%g\" y=\"26\" font-size=\"17\" text-anchor=\"middle\">%s</text>\n",
      kWidth, height, kWidth, height, kWidth / 2, escape(title).c_str());
  for (size_t i = 0; i < series.size(); ++i)
    out += panel(series[i], nranks, 40 + kPanelHeight * static_cast<double>(i));
  return out + "</svg>\n";
}

}  // namespace strata::tune
