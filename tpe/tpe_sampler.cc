// The TPE sampler (NewTpeSampler): Optuna 4.x's TPESampler as a pipeline of
// pure steps (STYLE.md): select usable trials, split by gamma, build a
// Parzen estimator per side, draw candidates from l, score log l - log g,
// take the argmax. Multivariate mode samples the intersection space (or each
// group) jointly and the remaining parameters one by one, as Optuna's
// sample_relative / sample_independent.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tpe/mixture.h"
#include "tpe/parzen_estimator.h"
#include "tpe/random.h"
#include "tpe/sampler.h"
#include "tpe/split.h"
#include "tpe/subspace.h"
#include "tpe/uniform.h"

namespace peftsearch {
namespace tpe {
namespace {

// Distinct RNG streams per purpose, so that e.g. adding a parameter does not
// shift the draws of the others.
constexpr uint64_t kStartupStream = 0x7374617274ULL;  // "start"

uint64_t HashNames(const SearchSpace& space, const std::vector<int>& idx) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (int i : idx) {
    for (char c : space.params[i].name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;  // separator no name contains
  }
  return h;
}

// std::string::compare's order (bytes as unsigned char, then length),
// inline: parameter names are short, and a libc memcmp call per step of the
// value table's merge join cost more than the comparison itself.
int CompareNames(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]) ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// Every usable trial's parameter values, looked up (by name, with a range
// check) once per Suggest instead of once per parameter and side: one row per
// history entry (rows of unusable trials stay unread), NaN where a trial
// lacks the parameter. Usable trials point into `history`, so a trial's row
// is its position there: no map lookup in the per-parameter loops.
class ValueTable {
 public:
  ValueTable(const SearchSpace& space, const std::vector<Trial>& history, const UsableTrials& usable)
      : width_(space.params.size()), first_(history.data()) {
    values_.assign(history.size() * width_, std::numeric_limits<double>::quiet_NaN());
    // Walk each trial's (sorted) map alongside the names sorted once: a
    // merge join, no tree lookups.
    std::vector<int> by_name(width_);
    for (size_t i = 0; i < width_; ++i) by_name[i] = static_cast<int>(i);
    std::sort(by_name.begin(), by_name.end(),
              [&](int a, int b) { return space.params[a].name < space.params[b].name; });
    // Contains() for a float without a step is a range check, for an int
    // of step 1 a range check and an integrality test: both done inline
    // (10,000 calls per suggestion at 1,000 trials), the same tests as
    // Contains.
    enum class Check : char { kContains, kPlainFloat, kUnitInt };
    std::vector<Check> check(width_, Check::kContains);
    for (size_t i = 0; i < width_; ++i) {
      const Distribution& d = space.params[i].distribution;
      if (d.kind == DistributionKind::kFloat && EffectiveStep(d) <= 0) check[i] = Check::kPlainFloat;
      if (d.kind == DistributionKind::kInt && EffectiveStep(d) == 1.0) check[i] = Check::kUnitInt;
    }
    auto contains = [&](int i, double v) {
      const Distribution& d = space.params[i].distribution;
      switch (check[i]) {
        case Check::kPlainFloat:
          return std::isfinite(v) && v >= d.low && v <= d.high;
        case Check::kUnitInt: {
          if (!std::isfinite(v) || v < d.low || v > d.high) return false;
          const double k = v - d.low;  // (v - low) / step, step 1
          return std::fabs(k - std::round(k)) <= 1e-8 * std::max(1.0, std::fabs(k));
        }
        default:
          return Contains(d, v);
      }
    };
    for (const auto* list : {&usable.finished, &usable.running}) {
      for (const Trial* t : *list) {
        double* row = &values_[(t - first_) * width_];
        auto it = t->params.begin();
        for (int i : by_name) {
          const ParamSpec& p = space.params[i];
          int order = -1;  // one string comparison per step, not two
          while (it != t->params.end() && (order = CompareNames(it->first, p.name)) < 0) ++it;
          if (it == t->params.end()) break;
          if (order == 0 && contains(i, it->second)) row[i] = it->second;
        }
      }
    }
  }
  const double* Row(const Trial* t) const { return &values_[(t - first_) * width_]; }

  // IntersectionSpace(space, trials, has) with has = "the table holds a
  // value": the same result, without a std::function call per trial and
  // parameter.
  std::vector<int> Intersection(const SearchSpace& space, const std::vector<const Trial*>& trials) const {
    std::vector<int> out;
    if (trials.empty()) return out;
    for (int i = 0; i < static_cast<int>(space.params.size()); ++i) {
      if (IsSingle(space.params[i].distribution)) continue;
      bool everywhere = true;
      for (const Trial* t : trials) {
        if (std::isnan(Row(t)[i])) {
          everywhere = false;
          break;
        }
      }
      if (everywhere) out.push_back(i);
    }
    return out;
  }

 private:
  size_t width_;
  const Trial* first_;
  std::vector<double> values_;
};

// Remembers the last weights(n) of one Suggest: every parameter of a side
// usually has the same number of observations, so the weights function
// runs once per side instead of once per parameter and side.
class WeightsMemo {
 public:
  explicit WeightsMemo(std::function<std::vector<double>(int)> weights) : weights_(std::move(weights)) {}
  std::vector<double> operator()(int n) {
    for (auto& [count, w] : memo_) {
      if (count == n) return w;
    }
    std::vector<double> w = weights_(n);
    if (memo_.size() >= 2) memo_.erase(memo_.begin());
    memo_.push_back({n, w});
    return w;
  }

 private:
  std::function<std::vector<double>(int)> weights_;
  std::vector<std::pair<int, std::vector<double>>> memo_;
};

class TpeSampler final : public Sampler {
 public:
  explicit TpeSampler(const TpeOptions& o) : options_(o) {
    if (!options_.gamma) options_.gamma = DefaultGamma;
    if (!options_.weights) options_.weights = DefaultWeights;
    parzen_.consider_prior = o.consider_prior;
    parzen_.prior_weight = o.prior_weight;
    parzen_.consider_magic_clip = o.consider_magic_clip;
    parzen_.consider_endpoints = o.consider_endpoints;
    parzen_.multivariate = o.multivariate;
    parzen_.neighbor_bandwidth = o.multivariate_neighbor_bandwidth;
    parzen_.prior_as_neighbor = o.prior_as_neighbor;
    parzen_.omit_log_sigma = o.optuna3_density;
    parzen_.log_int_as_continuous = o.optuna3_log_int;
    parzen_.weights = options_.weights;
  }

  Status Suggest(const SearchSpace& space, const std::vector<Trial>& history, Direction direction,
                 int64_t trial_number, ParamValues* out) override {
    Status s = ValidateSearchSpace(space);
    if (!s.ok()) return s;
    out->clear();
    const UsableTrials usable = SelectUsableTrials(history, trial_number, options_.constant_liar);
    const int n = static_cast<int>(usable.finished.size());
    if (n < options_.n_startup_trials) {
      Rng rng(options_.seed, static_cast<uint64_t>(trial_number), kStartupStream);
      for (const ParamSpec& p : space.params) {
        if (IsActive(p, *out)) (*out)[p.name] = SampleUniform(p.distribution, &rng);
      }
      return Status::OK();
    }
    // RUNNING trials do not count in n: the lie must not widen the good set.
    const int n_below = options_.gamma(n);
    const Split split = SplitTrials(usable, n_below, direction);
    const ValueTable table(space, history, usable);
    // Per-call copy: the memo lives only as long as this Suggest, so
    // concurrent calls share nothing mutable.
    ParzenOptions parzen = parzen_;
    auto memo = std::make_shared<WeightsMemo>(parzen_.weights);
    parzen.weights = [memo](int n) { return (*memo)(n); };

    std::map<int, double> relative;
    if (options_.multivariate) {
      const HasParamFn has = [&table](const Trial& t, int i) { return !std::isnan(table.Row(&t)[i]); };
      std::vector<std::vector<int>> groups;
      if (options_.group) {
        groups = GroupDecomposition(space, usable.finished, has);
      } else {
        groups.push_back(table.Intersection(space, usable.finished));
      }
      for (const std::vector<int>& g : groups) {
        if (g.empty()) continue;
        std::vector<double> values;
        s = SampleSubspace(space, g, split, table, parzen, trial_number, &values);
        if (!s.ok()) return s;
        for (size_t j = 0; j < g.size(); ++j) relative[g[j]] = values[j];
      }
    }
    for (int i = 0; i < static_cast<int>(space.params.size()); ++i) {
      const ParamSpec& p = space.params[i];
      if (!IsActive(p, *out)) continue;
      if (IsSingle(p.distribution)) {
        (*out)[p.name] = p.distribution.kind == DistributionKind::kCategorical ? 0 : p.distribution.low;
        continue;
      }
      auto it = relative.find(i);
      if (it != relative.end()) {
        (*out)[p.name] = it->second;
        continue;
      }
      std::vector<double> values;
      s = SampleSubspace(space, {i}, split, table, parzen, trial_number, &values);
      if (!s.ok()) return s;
      (*out)[p.name] = values[0];
    }
    return Status::OK();
  }

 private:
  // One TPE step over the parameters `idx` jointly: observations are the
  // trials of each side that have all of them.
  Status SampleSubspace(const SearchSpace& space, const std::vector<int>& idx, const Split& split,
                        const ValueTable& table, const ParzenOptions& parzen,
                        int64_t trial_number, std::vector<double>* values) const {
    std::vector<Distribution> dists;
    for (int i : idx) dists.push_back(space.params[i].distribution);
    Mixture below, above;
    Status s = BuildParzenEstimator(dists, Observations(table, idx, split.below), parzen, &below);
    if (!s.ok()) return s;
    s = BuildParzenEstimator(dists, Observations(table, idx, split.above), parzen, &above);
    if (!s.ok()) return s;

    Rng rng(options_.seed, static_cast<uint64_t>(trial_number), HashNames(space, idx));
    std::vector<std::vector<double>> candidates;
    below.Sample(&rng, options_.n_ei_candidates, &candidates);
    std::vector<double> log_l, log_g;
    below.LogPdf(candidates, &log_l);
    above.LogPdf(candidates, &log_g);
    // argmax of log l - log g, first index on ties (as numpy's argmax).
    int best = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < options_.n_ei_candidates; ++c) {
      double score = log_l[c] - log_g[c];
      if (score > best_score) {
        best_score = score;
        best = c;
      }
    }
    values->resize(idx.size());
    for (size_t d = 0; d < idx.size(); ++d) (*values)[d] = candidates[d][best];
    return Status::OK();
  }

  static std::vector<std::vector<double>> Observations(const ValueTable& table,
                                                       const std::vector<int>& idx,
                                                       const std::vector<const Trial*>& trials) {
    std::vector<std::vector<double>> obs(idx.size());
    for (std::vector<double>& o : obs) o.reserve(trials.size());
    for (const Trial* t : trials) {
      const double* row = table.Row(t);
      bool all = true;
      for (int i : idx) all = all && !std::isnan(row[i]);
      if (!all) continue;
      for (size_t d = 0; d < idx.size(); ++d) obs[d].push_back(row[idx[d]]);
    }
    return obs;
  }

  TpeOptions options_;
  ParzenOptions parzen_;
};

}  // namespace

Status NewTpeSampler(const TpeOptions& options, std::unique_ptr<Sampler>* out) {
  if (options.n_startup_trials < 0) {
    return Status::InvalidArgument("n_startup_trials (" + std::to_string(options.n_startup_trials) +
                                   ") must be >= 0");
  }
  if (options.n_ei_candidates < 1) {
    return Status::InvalidArgument("n_ei_candidates (" + std::to_string(options.n_ei_candidates) +
                                   ") must be >= 1");
  }
  if (!(options.prior_weight > 0) || !std::isfinite(options.prior_weight)) {
    return Status::InvalidArgument("prior_weight (" + std::to_string(options.prior_weight) +
                                   ") must be > 0");
  }
  if (options.group && !options.multivariate) {
    return Status::InvalidArgument("group requires multivariate");
  }
  *out = std::make_unique<TpeSampler>(options);
  return Status::OK();
}

}  // namespace tpe
}  // namespace peftsearch
