#include "controller/dashboard/charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace peftsearch::controller::dashboard {
namespace {

constexpr int kWidth = 640;
constexpr int kHeight = 300;
constexpr int kLeft = 64, kRight = 16, kTop = 16, kBottom = 40;
constexpr char kComplete[] = "#1f77b4";
constexpr char kBest[] = "#d62728";
constexpr char kPruned[] = "#999999";
constexpr char kRunning[] = "#2ca02c";

std::string F(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

// Short label for an axis tick or a value.
std::string Label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

struct Scale {
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  double operator()(double v) const {
    return d1 == d0 ? (r0 + r1) / 2 : r0 + (v - d0) / (d1 - d0) * (r1 - r0);
  }
};

// Round tick values (1, 2, 5 x 10^k) covering [lo, hi].
std::vector<double> Ticks(double lo, double hi, int target = 5) {
  std::vector<double> ticks;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  }
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

std::string Open(const std::string& id, const std::string& title, const std::string& data,
                 int height = kHeight) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"" + id +
         "\" width=\"" + std::to_string(kWidth) + "\" height=\"" + std::to_string(height) +
         "\" viewBox=\"0 0 " + std::to_string(kWidth) + " " + std::to_string(height) + "\" " +
         data + " role=\"img\"><title>" + HtmlEscape(title) + "</title>" +
         "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>";
}

std::string Empty(const std::string& id, const std::string& title, const std::string& data,
                  const std::string& why) {
  return Open(id, title, data, 80) + "<text x=\"" + std::to_string(kWidth / 2) +
         "\" y=\"44\" text-anchor=\"middle\" fill=\"#777\" font-size=\"13\">" + HtmlEscape(why) +
         "</text></svg>";
}

// Axes with ticks for a plot area; x and y labels.
std::string Axes(const Scale& x, const Scale& y, const std::string& x_label,
                 const std::string& y_label, bool integer_x, bool log_y = false) {
  std::string s = "<g font-size=\"11\" fill=\"#444\" stroke=\"none\">";
  std::vector<double> y_ticks = Ticks(y.d0, y.d1);
  if (log_y) {  // y's domain is log10(value): ticks at whole decades
    y_ticks.clear();
    for (double k = std::ceil(y.d0); k <= y.d1; k += 1) y_ticks.push_back(k);
    if (y_ticks.size() < 2) y_ticks = Ticks(y.d0, y.d1);
  }
  for (double t : y_ticks) {
    const double py = y(t);
    s += "<line x1=\"" + F(kLeft) + "\" x2=\"" + F(kWidth - kRight) + "\" y1=\"" + F(py) +
         "\" y2=\"" + F(py) + "\" stroke=\"#eee\"/>";
    s += "<text x=\"" + F(kLeft - 6) + "\" y=\"" + F(py + 4) + "\" text-anchor=\"end\">" +
         Label(log_y ? std::pow(10.0, t) : t) + "</text>";
  }
  for (double t : Ticks(x.d0, x.d1, 8)) {
    if (integer_x && t != std::floor(t)) continue;
    s += "<text x=\"" + F(x(t)) + "\" y=\"" + F(kHeight - kBottom + 16) +
         "\" text-anchor=\"middle\">" + Label(t) + "</text>";
  }
  s += "<line x1=\"" + F(kLeft) + "\" x2=\"" + F(kLeft) + "\" y1=\"" + F(kTop) + "\" y2=\"" +
       F(kHeight - kBottom) + "\" stroke=\"#888\"/>";
  s += "<line x1=\"" + F(kLeft) + "\" x2=\"" + F(kWidth - kRight) + "\" y1=\"" +
       F(kHeight - kBottom) + "\" y2=\"" + F(kHeight - kBottom) + "\" stroke=\"#888\"/>";
  s += "<text x=\"" + F((kLeft + kWidth - kRight) / 2.0) + "\" y=\"" + F(kHeight - 6) +
       "\" text-anchor=\"middle\">" + HtmlEscape(x_label) + "</text>";
  s += "<text transform=\"translate(14," + F((kTop + kHeight - kBottom) / 2.0) +
       ") rotate(-90)\" text-anchor=\"middle\">" + HtmlEscape(y_label) + "</text>";
  return s + "</g>";
}

void Extend(double v, double* lo, double* hi) {
  *lo = std::min(*lo, v);
  *hi = std::max(*hi, v);
}

// Pads a degenerate or tight range so points do not sit on the frame.
void Pad(double* lo, double* hi) {
  if (*lo == *hi) {
    const double d = *lo == 0 ? 1 : std::abs(*lo) * 0.1;
    *lo -= d;
    *hi += d;
  } else {
    const double d = (*hi - *lo) * 0.05;
    *lo -= d;
    *hi += d;
  }
}

// Light (worst) to dark (best) blue.
std::string Shade(double t) {
  t = std::clamp(t, 0.0, 1.0);
  const int r = static_cast<int>(198 + (8 - 198) * t);
  const int g = static_cast<int>(219 + (48 - 219) * t);
  const int b = static_cast<int>(239 + (107 - 239) * t);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "#%02x%02x%02x", r, g, b);
  return buf;
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string HistorySvg(const std::vector<TrialInfo>& trials, bool maximize) {
  std::vector<const TrialInfo*> drawn;
  double x0 = 0, x1 = 1, y0 = 1e300, y1 = -1e300;
  for (const TrialInfo& t : trials) {
    if ((t.state != "COMPLETE" && t.state != "PRUNED") || !t.value || !std::isfinite(*t.value)) {
      continue;
    }
    drawn.push_back(&t);
    Extend(*t.value, &y0, &y1);
    x1 = std::max<double>(x1, t.number);
  }
  // Values spanning more than two decades (e.g. Branin's 0.4 to 300) hide
  // the best-so-far line on a linear axis; plot them on a log axis.
  const bool log_y = !drawn.empty() && y0 > 0 && y1 / y0 > 100;
  const std::string data = "data-points=\"" + std::to_string(drawn.size()) +
                           "\" data-log-y=\"" + (log_y ? "1" : "0") + "\"";
  if (drawn.empty()) return Empty("history", "Optimization history", data, "no finished trials yet");
  if (log_y) y0 = std::log10(y0), y1 = std::log10(y1);
  Pad(&y0, &y1);
  const Scale x{x0, x1, kLeft + 8.0, kWidth - kRight - 8.0};
  const Scale y_lin{y0, y1, kHeight - kBottom - 0.0, kTop + 0.0};
  auto y = [&](double v) { return y_lin(log_y ? std::log10(v) : v); };
  std::string s = Open("history", "Optimization history", data) +
                  Axes(x, y_lin, "trial", log_y ? "objective value (log)" : "objective value",
                       true, log_y);
  // Best so far over COMPLETE trials, in trial order.
  std::vector<const TrialInfo*> complete;
  for (const TrialInfo* t : drawn) {
    if (t->state == "COMPLETE") complete.push_back(t);
  }
  std::sort(complete.begin(), complete.end(),
            [](const TrialInfo* a, const TrialInfo* b) { return a->number < b->number; });
  std::string path;
  double best = 0;
  for (size_t i = 0; i < complete.size(); ++i) {
    const double v = *complete[i]->value;
    const bool better = i == 0 || (maximize ? v > best : v < best);
    if (i == 0) {
      path = "M" + F(x(complete[i]->number)) + " " + F(y(v));
    } else {
      path += " H" + F(x(complete[i]->number));
      if (better) path += " V" + F(y(v));
    }
    if (better) best = v;
  }
  if (!complete.empty()) {
    path += " H" + F(x(x1));
    s += "<path class=\"best\" d=\"" + path + "\" fill=\"none\" stroke=\"" + kBest +
         "\" stroke-width=\"2\"/>";
  }
  for (const TrialInfo* t : drawn) {
    const bool pruned = t->state == "PRUNED";
    s += "<circle class=\"point\" cx=\"" + F(x(t->number)) + "\" cy=\"" + F(y(*t->value)) +
         "\" r=\"3.5\" fill=\"" + (pruned ? "none" : kComplete) + "\" stroke=\"" +
         (pruned ? kPruned : kComplete) + "\"><title>trial " + std::to_string(t->number) + ": " +
         Label(*t->value) + "</title></circle>";
  }
  // Legend in the x label's row, left, clear of the points.
  const double ly = kHeight - 10.0;
  s += "<g font-size=\"11\"><circle cx=\"" + F(kLeft) + "\" cy=\"" + F(ly - 4) + "\" r=\"3.5\" fill=\"" +
       kComplete + "\"/><text x=\"" + F(kLeft + 8) + "\" y=\"" + F(ly) +
       "\">value</text><line x1=\"" + F(kLeft + 50) + "\" x2=\"" + F(kLeft + 66) + "\" y1=\"" +
       F(ly - 4) + "\" y2=\"" + F(ly - 4) + "\" stroke=\"" + kBest +
       "\" stroke-width=\"2\"/><text x=\"" + F(kLeft + 70) + "\" y=\"" + F(ly) +
       "\">best so far</text></g>";
  return s + "</svg>";
}

std::string IntermediateSvg(const std::vector<TrialInfo>& trials) {
  std::vector<const TrialInfo*> drawn;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const TrialInfo& t : trials) {
    bool any = false;
    for (const auto& [step, v] : t.intermediate) {
      if (!std::isfinite(v)) continue;
      any = true;
      Extend(static_cast<double>(step), &x0, &x1);
      Extend(v, &y0, &y1);
    }
    if (any) drawn.push_back(&t);
  }
  const std::string data = "data-series=\"" + std::to_string(drawn.size()) + "\"";
  if (drawn.empty()) {
    return Empty("intermediate", "Intermediate values", data, "no intermediate values reported");
  }
  if (x0 == x1) x1 = x0 + 1;
  Pad(&y0, &y1);
  const Scale x{x0, x1, kLeft + 8.0, kWidth - kRight - 8.0};
  const Scale y{y0, y1, kHeight - kBottom - 0.0, kTop + 0.0};
  std::string s = Open("intermediate", "Intermediate values", data) +
                  Axes(x, y, "step", "intermediate value", true);
  for (const TrialInfo* t : drawn) {
    const char* color = t->state == "COMPLETE" ? kComplete
                        : t->state == "RUNNING" ? kRunning
                                                : kPruned;
    std::string points;
    for (const auto& [step, v] : t->intermediate) {
      if (!std::isfinite(v)) continue;
      points += F(x(static_cast<double>(step))) + "," + F(y(v)) + " ";
    }
    s += "<polyline class=\"series\" points=\"" + points + "\" fill=\"none\" stroke=\"" + color +
         "\" stroke-opacity=\"0.7\" stroke-width=\"1.5\"><title>trial " +
         std::to_string(t->number) + " (" + t->state + ")</title></polyline>";
    if (t->intermediate.size() == 1) {
      s += "<circle cx=\"" + F(x(static_cast<double>(t->intermediate[0].first))) + "\" cy=\"" +
           F(y(t->intermediate[0].second)) + "\" r=\"2.5\" fill=\"" + color + "\"/>";
    }
  }
  return s + "</svg>";
}

std::string ParallelCoordinatesSvg(const std::vector<TrialInfo>& completed,
                                   const std::vector<ParamColumn>& columns, bool maximize) {
  const std::string data = "data-lines=\"" + std::to_string(completed.size()) +
                           "\" data-axes=\"" + std::to_string(columns.size() + 1) + "\"";
  if (completed.empty() || columns.empty()) {
    return Empty("parallel", "Parallel coordinates", data,
                 completed.empty() ? "no completed trials yet" : "no parameter varies");
  }
  double v0 = 1e300, v1 = -1e300;
  for (const TrialInfo& t : completed) Extend(*t.value, &v0, &v1);
  const double top = kTop + 14.0, bottom = kHeight - kBottom + 0.0;
  const size_t axes = columns.size() + 1;
  const double left = 40, right = kWidth - 56.0;
  auto axis_x = [&](size_t i) { return axes == 1 ? left : left + (right - left) * i / (axes - 1); };
  // Position in [0, 1] (0 = bottom) of a trial on column c; -1 if absent.
  auto position = [](const ParamColumn& c, const Json& params) -> double {
    auto it = params.find(c.name);
    if (it == params.end()) return -1;
    if (c.numeric) {
      if (!it->is_number()) return -1;
      double x = it->get<double>(), lo = c.low, hi = c.high;
      if (c.log) x = std::log(x), lo = std::log(lo), hi = std::log(hi);
      return hi == lo ? 0.5 : std::clamp((x - lo) / (hi - lo), 0.0, 1.0);
    }
    auto cat = std::find(c.categories.begin(), c.categories.end(), CategoryOf(*it));
    if (cat == c.categories.end()) return -1;
    return c.categories.size() == 1
               ? 0.5
               : static_cast<double>(cat - c.categories.begin()) / (c.categories.size() - 1);
  };
  std::string s = Open("parallel", "Parallel coordinates", data);
  // Worst first so the best lines are drawn on top.
  std::vector<const TrialInfo*> order;
  for (const TrialInfo& t : completed) order.push_back(&t);
  std::sort(order.begin(), order.end(), [maximize](const TrialInfo* a, const TrialInfo* b) {
    return maximize ? *a->value < *b->value : *a->value > *b->value;
  });
  for (const TrialInfo* t : order) {
    const double goodness =
        v1 == v0 ? 1.0 : (maximize ? (*t->value - v0) / (v1 - v0) : (v1 - *t->value) / (v1 - v0));
    std::string points;
    for (size_t i = 0; i < columns.size(); ++i) {
      const double p = position(columns[i], t->params);
      if (p < 0) continue;  // conditional parameter absent in this trial
      points += F(axis_x(i)) + "," + F(bottom - p * (bottom - top)) + " ";
    }
    const double pv = v1 == v0 ? 0.5 : (*t->value - v0) / (v1 - v0);
    points += F(axis_x(columns.size())) + "," + F(bottom - pv * (bottom - top));
    s += "<polyline class=\"line\" points=\"" + points + "\" fill=\"none\" stroke=\"" +
         Shade(goodness) + "\" stroke-width=\"1.3\"><title>trial " + std::to_string(t->number) +
         ": " + Label(*t->value) + "</title></polyline>";
  }
  s += "<g font-size=\"10\" fill=\"#333\">";
  for (size_t i = 0; i < axes; ++i) {
    const double ax = axis_x(i);
    s += "<line class=\"axis\" x1=\"" + F(ax) + "\" x2=\"" + F(ax) + "\" y1=\"" + F(top) +
         "\" y2=\"" + F(bottom) + "\" stroke=\"#555\"/>";
    std::string name, lo, hi;
    if (i < columns.size()) {
      const ParamColumn& c = columns[i];
      name = c.name;
      if (c.numeric) {
        lo = Label(c.low) + (c.log ? " (log)" : "");
        hi = Label(c.high);
      } else {
        lo = c.categories.front();
        hi = c.categories.back();
      }
    } else {
      name = "value";
      lo = Label(v0);
      hi = Label(v1);
    }
    if (name.size() > 14) name = name.substr(0, 13) + "\xE2\x80\xA6";
    // Alternate label rows so that neighbouring names do not overlap.
    s += "<text x=\"" + F(ax) + "\" y=\"" + F(i % 2 ? kHeight - 6.0 : kHeight - 20.0) +
         "\" text-anchor=\"middle\" font-weight=\"bold\">" + HtmlEscape(name) + "</text>";
    s += "<text x=\"" + F(ax + 3) + "\" y=\"" + F(top - 4) + "\">" + HtmlEscape(hi) + "</text>";
    s += "<text x=\"" + F(ax + 3) + "\" y=\"" + F(bottom + 10) + "\">" + HtmlEscape(lo) +
         "</text>";
  }
  return s + "</g></svg>";
}

std::string ImportanceSvg(const std::vector<ParamImportance>& importances,
                          const std::string& id) {
  const std::string data = "data-params=\"" + std::to_string(importances.size()) + "\"";
  if (importances.empty()) {
    return Empty(id, "Parameter importance (PED-ANOVA)", data,
                 "needs at least 3 completed trials and a varying parameter");
  }
  const int row = 20;
  const int height = kTop + row * static_cast<int>(importances.size()) + 24;
  const double x0 = 170, x1 = kWidth - 70.0;
  std::string s = Open(id, "Parameter importance (PED-ANOVA)", data, height) +
                  "<g font-size=\"11\" fill=\"#333\">";
  for (size_t i = 0; i < importances.size(); ++i) {
    const double y = kTop + row * static_cast<double>(i);
    const double w = (x1 - x0) * std::clamp(importances[i].importance, 0.0, 1.0);
    s += "<text x=\"" + F(x0 - 6) + "\" y=\"" + F(y + 13) + "\" text-anchor=\"end\">" +
         HtmlEscape(importances[i].name) + "</text>";
    s += "<rect class=\"bar\" x=\"" + F(x0) + "\" y=\"" + F(y + 2) + "\" width=\"" + F(w) +
         "\" height=\"" + F(row - 6) + "\" fill=\"" + kComplete + "\"/>";
    s += "<text x=\"" + F(x0 + w + 4) + "\" y=\"" + F(y + 13) + "\">" +
         Label(importances[i].importance) + "</text>";
  }
  return s + "</g></svg>";
}

std::string MethodEffectsSvg(const std::vector<MethodEffect>& effects) {
  std::vector<const MethodEffect*> drawn;
  double lo = 1e300, hi = -1e300;
  for (const MethodEffect& e : effects) {
    if (!e.mean_with && !e.mean_without) continue;
    drawn.push_back(&e);
    if (e.mean_with) Extend(*e.mean_with, &lo, &hi);
    if (e.mean_without) Extend(*e.mean_without, &lo, &hi);
  }
  const std::string data = "data-methods=\"" + std::to_string(drawn.size()) + "\"";
  const std::string title = "Step 1: mean value with and without each method";
  if (drawn.empty()) return Empty("methods", title, data, "no completed step-1 trials yet");
  Pad(&lo, &hi);
  const int row = 22;
  const int height = kTop + row * static_cast<int>(drawn.size()) + 40;
  const Scale x{lo, hi, 170.0, kWidth - 30.0};
  std::string s = Open("methods", title, data, height) + "<g font-size=\"11\" fill=\"#333\">";
  const double bottom = kTop + row * static_cast<double>(drawn.size());
  for (double t : Ticks(lo, hi)) {
    s += "<line x1=\"" + F(x(t)) + "\" x2=\"" + F(x(t)) + "\" y1=\"" + F(kTop) + "\" y2=\"" +
         F(bottom) + "\" stroke=\"#eee\"/><text x=\"" + F(x(t)) + "\" y=\"" + F(bottom + 14) +
         "\" text-anchor=\"middle\">" + Label(t) + "</text>";
  }
  for (size_t i = 0; i < drawn.size(); ++i) {
    const MethodEffect& e = *drawn[i];
    const double y = kTop + row * static_cast<double>(i) + row / 2.0;
    s += "<text x=\"164\" y=\"" + F(y + 4) + "\" text-anchor=\"end\">" + HtmlEscape(e.method) +
         "</text>";
    if (e.mean_with && e.mean_without) {
      s += "<line x1=\"" + F(x(*e.mean_without)) + "\" x2=\"" + F(x(*e.mean_with)) + "\" y1=\"" +
           F(y) + "\" y2=\"" + F(y) + "\" stroke=\"#bbb\" stroke-width=\"2\"/>";
    }
    if (e.mean_without) {
      s += "<circle class=\"without\" cx=\"" + F(x(*e.mean_without)) + "\" cy=\"" + F(y) +
           "\" r=\"5\" fill=\"#fff\" stroke=\"" + kPruned + "\" stroke-width=\"2\"><title>without " +
           HtmlEscape(e.method) + ": " + Label(*e.mean_without) + " (" +
           std::to_string(e.n_without) + " trials)</title></circle>";
    }
    if (e.mean_with) {
      s += "<circle class=\"with\" cx=\"" + F(x(*e.mean_with)) + "\" cy=\"" + F(y) +
           "\" r=\"5\" fill=\"" + kComplete + "\"><title>with " + HtmlEscape(e.method) + ": " +
           Label(*e.mean_with) + " (" + std::to_string(e.n_with) + " trials)</title></circle>";
    }
  }
  s += "<circle cx=\"180\" cy=\"" + F(bottom + 30) + "\" r=\"5\" fill=\"" + kComplete +
       "\"/><text x=\"190\" y=\"" + F(bottom + 34) + "\">with the method</text><circle cx=\"310\" cy=\"" +
       F(bottom + 30) + "\" r=\"5\" fill=\"#fff\" stroke=\"" + kPruned +
       "\" stroke-width=\"2\"/><text x=\"320\" y=\"" + F(bottom + 34) +
       "\">without</text>";
  return s + "</g></svg>";
}

}  // namespace peftsearch::controller::dashboard
