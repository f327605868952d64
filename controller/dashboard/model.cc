#include "controller/dashboard/model.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace peftsearch::controller::dashboard {
namespace {

bool IsScalar(const Json& v) { return v.is_number() || v.is_boolean() || v.is_string(); }

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Weighted quantile of sorted (value, weight) pairs; weights sum to 1.
double WeightedQuantile(const std::vector<std::pair<double, double>>& sorted, double q) {
  double acc = 0;
  for (const auto& [v, w] : sorted) {
    acc += w;
    if (acc >= q) return v;
  }
  return sorted.back().first;
}

// Density over grid points 0..n-1 of a Parzen estimator with one Gaussian per
// observed grid index (weighted by its count), Scott's-rule bandwidth with a
// floor so that 90% of a kernel's mass stays within one grid cell (Optuna's
// _ScottParzenEstimator), each kernel integrated over its cell and truncated
// to the grid. Sums to 1.
std::vector<double> ScottParzenPdf(const std::vector<int>& indices, int n) {
  std::vector<double> pdf(n, 0.0);
  if (indices.empty()) return pdf;
  std::map<int, double> counts;
  for (int i : indices) counts[i] += 1.0;
  const double total = static_cast<double>(indices.size());
  std::vector<std::pair<double, double>> weighted;
  double mean = 0;
  for (const auto& [i, c] : counts) {
    weighted.emplace_back(i, c / total);
    mean += i * c / total;
  }
  double var = 0;
  for (const auto& [v, w] : weighted) var += w * (v - mean) * (v - mean);
  const double iqr = WeightedQuantile(weighted, 0.75) - WeightedQuantile(weighted, 0.25);
  double sigma = 1.059 * std::min(iqr / 1.34, std::sqrt(var)) * std::pow(total, -0.2);
  sigma = std::max(sigma, 0.5 / 1.64);
  for (const auto& [mu, w] : weighted) {
    const double lo = NormalCdf((-0.5 - mu) / sigma), hi = NormalCdf((n - 0.5 - mu) / sigma);
    const double mass = std::max(hi - lo, 1e-300);
    for (int g = 0; g < n; ++g) {
      const double cell = NormalCdf((g + 0.5 - mu) / sigma) - NormalCdf((g - 0.5 - mu) / sigma);
      pdf[g] += w * cell / mass;
    }
  }
  return pdf;
}

}  // namespace

std::string CategoryOf(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::vector<ParamColumn> ParamColumns(const std::vector<TrialInfo>& trials,
                                      const StudyInfo& study) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Json*>> values;
  for (const TrialInfo& t : trials) {
    if (!t.params.is_object()) continue;
    for (auto it = t.params.begin(); it != t.params.end(); ++it) {
      if (!IsScalar(it.value())) continue;
      auto& v = values[it.key()];
      if (v.empty()) order.push_back(it.key());
      v.push_back(&it.value());
    }
  }
  std::vector<ParamColumn> columns;
  for (const std::string& name : order) {
    const auto& v = values[name];
    ParamColumn c;
    c.name = name;
    c.numeric = std::all_of(v.begin(), v.end(), [](const Json* j) { return j->is_number(); });
    if (c.numeric) {
      double lo = v[0]->get<double>(), hi = lo;
      for (const Json* j : v) {
        lo = std::min(lo, j->get<double>());
        hi = std::max(hi, j->get<double>());
      }
      if (lo == hi) continue;  // never varies
      auto spec = study.space.find(name);
      if (spec != study.space.end() && spec->second.numeric && spec->second.low < spec->second.high) {
        c.log = spec->second.log && spec->second.low > 0;
        lo = std::min(lo, spec->second.low);
        hi = std::max(hi, spec->second.high);
      } else {
        c.log = false;
      }
      if (c.log && lo <= 0) c.log = false;
      c.low = lo;
      c.high = hi;
    } else {
      std::set<std::string> distinct;
      for (const Json* j : v) distinct.insert(CategoryOf(*j));
      if (distinct.size() < 2) continue;
      c.categories.assign(distinct.begin(), distinct.end());
    }
    columns.push_back(std::move(c));
  }
  return columns;
}

std::vector<TrialInfo> CompletedTrials(const std::vector<TrialInfo>& trials,
                                       std::optional<int> phase) {
  std::vector<TrialInfo> out;
  for (const TrialInfo& t : trials) {
    if (t.state != "COMPLETE" || !t.value || !std::isfinite(*t.value)) continue;
    if (phase && t.phase != *phase) continue;
    out.push_back(t);
  }
  return out;
}

std::vector<ParamImportance> PedAnovaImportance(const std::vector<TrialInfo>& completed,
                                                const std::vector<ParamColumn>& columns,
                                                bool maximize, const ImportanceOptions& options) {
  std::vector<ParamImportance> out;
  if (completed.size() < 3 || columns.empty()) return out;
  // Top trials: the best baseline_quantile (ties at the cut-off included), at
  // least min_top_trials.
  std::vector<double> losses;
  for (const TrialInfo& t : completed) losses.push_back(maximize ? -*t.value : *t.value);
  std::vector<double> sorted = losses;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  size_t n_top = static_cast<size_t>(std::ceil(options.baseline_quantile * n));
  n_top = std::clamp<size_t>(n_top, static_cast<size_t>(options.min_top_trials), n);
  const double cutoff = sorted[n_top - 1];
  std::vector<bool> top(n);
  for (size_t i = 0; i < n; ++i) top[i] = losses[i] <= cutoff;

  double total = 0;
  for (const ParamColumn& c : columns) {
    const int grid = c.numeric ? options.n_steps : static_cast<int>(c.categories.size());
    std::vector<int> all_idx, top_idx;
    for (size_t i = 0; i < n; ++i) {
      auto it = completed[i].params.find(c.name);
      if (it == completed[i].params.end() || !IsScalar(*it)) continue;
      int idx = 0;
      if (c.numeric) {
        if (!it->is_number()) continue;
        double x = it->get<double>(), lo = c.low, hi = c.high;
        if (c.log) x = std::log(x), lo = std::log(lo), hi = std::log(hi);
        const double u = std::clamp((x - lo) / (hi - lo), 0.0, 1.0);
        idx = static_cast<int>(std::lround(u * (grid - 1)));
      } else {
        auto cat = std::lower_bound(c.categories.begin(), c.categories.end(), CategoryOf(*it));
        if (cat == c.categories.end() || *cat != CategoryOf(*it)) continue;
        idx = static_cast<int>(cat - c.categories.begin());
      }
      all_idx.push_back(idx);
      if (top[i]) top_idx.push_back(idx);
    }
    double divergence = 0;
    if (top_idx.size() >= 1 && all_idx.size() > top_idx.size()) {
      std::vector<double> p_all(grid, 0.0), p_top(grid, 0.0);
      if (c.numeric) {
        p_all = ScottParzenPdf(all_idx, grid);
        p_top = ScottParzenPdf(top_idx, grid);
      } else {
        for (int i : all_idx) p_all[i] += 1.0 / all_idx.size();
        for (int i : top_idx) p_top[i] += 1.0 / top_idx.size();
      }
      for (int g = 0; g < grid; ++g) {
        const double local = p_all[g] + 1e-12, target = p_top[g] + 1e-12;
        divergence += local * (target / local - 1) * (target / local - 1);
      }
    }
    out.push_back({c.name, divergence});
    total += divergence;
  }
  for (ParamImportance& p : out) p.importance = total > 0 ? p.importance / total : 0.0;
  std::stable_sort(out.begin(), out.end(), [](const ParamImportance& a, const ParamImportance& b) {
    return a.importance > b.importance;
  });
  return out;
}

std::vector<MethodEffect> MethodEffects(const std::vector<TrialInfo>& trials, bool maximize) {
  const std::vector<TrialInfo> step1 = CompletedTrials(trials, 1);
  std::vector<std::string> methods;
  std::set<std::string> seen;
  for (const TrialInfo& t : step1) {
    for (auto it = t.params.begin(); it != t.params.end(); ++it) {
      if (it->is_boolean() && seen.insert(it.key()).second) methods.push_back(it.key());
    }
  }
  std::vector<MethodEffect> out;
  for (const std::string& m : methods) {
    MethodEffect e;
    e.method = m;
    double sum_with = 0, sum_without = 0;
    for (const TrialInfo& t : step1) {
      auto it = t.params.find(m);
      const bool with = it != t.params.end() && it->is_boolean() && it->get<bool>();
      (with ? sum_with : sum_without) += *t.value;
      ++(with ? e.n_with : e.n_without);
    }
    if (e.n_with > 0) e.mean_with = sum_with / e.n_with;
    if (e.n_without > 0) e.mean_without = sum_without / e.n_without;
    out.push_back(std::move(e));
  }
  auto gain = [maximize](const MethodEffect& e) {
    if (!e.mean_with || !e.mean_without) return -1e300;
    const double d = *e.mean_with - *e.mean_without;
    return maximize ? d : -d;
  };
  std::stable_sort(out.begin(), out.end(), [&](const MethodEffect& a, const MethodEffect& b) {
    return gain(a) > gain(b);
  });
  return out;
}

std::optional<Winner> WinnerOf(const Json& summary) {
  if (!summary.is_object()) return std::nullopt;
  for (const char* stage : {"final", "step2", "step1"}) {
    auto it = summary.find(stage);
    if (it == summary.end() || !it->is_object() || !it->contains("combination")) continue;
    const Json& s = *it;
    // A final trial still waiting or running has no test result yet.
    if (std::string(stage) == "final" && s.value("state", std::string()) != "COMPLETE") continue;
    Winner w;
    w.stage = stage;
    w.trial = s.value(w.stage == "final" ? "trial" : "best_trial", int64_t{-1});
    for (const Json& m : s["combination"]) {
      if (m.is_string()) w.combination.push_back(m.get<std::string>());
    }
    if (s.contains("trainable_params") && s["trainable_params"].is_number()) {
      w.trainable_params = s["trainable_params"].get<double>();
    }
    const char* value_key = w.stage == "final" ? "test_value" : "best_value";
    if (s.contains(value_key) && s[value_key].is_number()) w.value = s[value_key].get<double>();
    if (s.contains("removed") && s["removed"].is_string()) w.removed = s["removed"];
    return w;
  }
  return std::nullopt;
}

}  // namespace peftsearch::controller::dashboard
