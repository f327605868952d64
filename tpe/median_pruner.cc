// MedianPruner: Optuna's PercentilePruner at the 50th percentile.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "tpe/pruner.h"

namespace peftsearch {
namespace tpe {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// numpy.nanpercentile with linear interpolation; NaN if nothing is left.
double NanPercentile(std::vector<double> v, double percentile) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double rank = percentile / 100.0 * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - lo);
}

// Only the first reported step in each interval is checked, so a trial that
// reports every step is judged every interval_steps steps.
bool IsFirstInInterval(const Trial& trial, int64_t step, int n_warmup_steps, int interval_steps) {
  const int64_t nearest_lower =
      (step - n_warmup_steps) / interval_steps * interval_steps + n_warmup_steps;
  int64_t second_last = -1;
  for (const auto& [s, v] : trial.intermediate_values) {
    if (s > second_last && s != step) second_last = s;
  }
  return second_last < nearest_lower;
}

class MedianPruner final : public Pruner {
 public:
  MedianPruner(int n_startup_trials, int n_warmup_steps, int interval_steps)
      : n_startup_trials_(std::max(0, n_startup_trials)),
        n_warmup_steps_(std::max(0, n_warmup_steps)),
        interval_steps_(std::max(1, interval_steps)) {}

  bool ShouldPrune(const Trial& trial, const std::vector<Trial>& history,
                   Direction direction) const override {
    std::vector<const Trial*> completed;
    for (const Trial& t : history) {
      if (t.state == TrialState::kComplete && t.number != trial.number) completed.push_back(&t);
    }
    if (completed.empty() || static_cast<int>(completed.size()) < n_startup_trials_) return false;
    if (trial.intermediate_values.empty()) return false;
    int64_t step = trial.intermediate_values.front().first;
    for (const auto& [s, v] : trial.intermediate_values) step = std::max(step, s);
    if (step < n_warmup_steps_) return false;
    if (!IsFirstInInterval(trial, step, n_warmup_steps_, interval_steps_)) return false;

    const bool minimize = direction == Direction::kMinimize;
    double best = kNaN;
    for (const auto& [s, v] : trial.intermediate_values) {
      if (std::isnan(v)) continue;
      if (std::isnan(best) || (minimize ? v < best : v > best)) best = v;
    }
    if (std::isnan(best)) return true;  // only NaNs reported: hopeless

    std::vector<double> at_step;
    for (const Trial* t : completed) {
      for (const auto& [s, v] : t->intermediate_values) {
        if (s == step) {
          at_step.push_back(v);
          break;
        }
      }
    }
    if (at_step.empty()) return false;  // Optuna's n_min_trials = 1
    const double median = NanPercentile(at_step, 50.0);
    if (std::isnan(median)) return false;
    return minimize ? best > median : best < median;
  }

 private:
  const int n_startup_trials_, n_warmup_steps_, interval_steps_;
};

}  // namespace

Status CheckMedianPrunerArgs(int n_startup_trials, int n_warmup_steps, int interval_steps) {
  if (n_startup_trials < 0) {
    return Status::InvalidArgument("n_startup_trials (" + std::to_string(n_startup_trials) +
                                   ") must be >= 0");
  }
  if (n_warmup_steps < 0) {
    return Status::InvalidArgument("n_warmup_steps (" + std::to_string(n_warmup_steps) +
                                   ") must be >= 0");
  }
  if (interval_steps < 1) {
    return Status::InvalidArgument("interval_steps (" + std::to_string(interval_steps) +
                                   ") must be >= 1");
  }
  return Status::OK();
}

std::unique_ptr<Pruner> NewMedianPruner(int n_startup_trials, int n_warmup_steps, int interval_steps) {
  return std::make_unique<MedianPruner>(n_startup_trials, n_warmup_steps, interval_steps);
}

}  // namespace tpe
}  // namespace peftsearch
