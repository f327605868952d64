// Asynchronous successive halving (Li et al., "A System for Massively
// Parallel Hyperparameter Tuning", MLSys 2020) as Optuna's
// SuccessiveHalvingPruner. Optuna stores each trial's value at each rung in
// system attributes; here the rung values are recomputed from the reported
// intermediate values, so the pruner needs no state of its own: a trial's
// value at rung r is its value at the first reported step >= the rung's step.
#include <algorithm>
#include <cmath>
#include <string>

#include "tpe/pruner.h"

namespace peftsearch {
namespace tpe {
namespace {

class SuccessiveHalvingPruner final : public Pruner {
 public:
  SuccessiveHalvingPruner(int min_resource, int reduction_factor, int min_early_stopping_rate)
      : min_resource_(std::max(1, min_resource)),
        reduction_factor_(std::max(2, reduction_factor)),
        min_early_stopping_rate_(std::max(0, min_early_stopping_rate)) {}

  bool ShouldPrune(const Trial& trial, const std::vector<Trial>& history,
                   Direction direction) const override {
    if (trial.intermediate_values.empty()) return false;
    // The last report is the one being judged; steps reported before it
    // passed their rungs already (else the trial would have stopped).
    auto last = std::max_element(trial.intermediate_values.begin(), trial.intermediate_values.end());
    const int64_t step = last->first;
    const double value = last->second;
    int64_t previous = -1;
    for (const auto& [s, v] : trial.intermediate_values) {
      if (s != step) previous = std::max(previous, s);
    }
    int rung = 0;
    while (previous >= RungStep(rung)) ++rung;

    while (step >= RungStep(rung)) {
      if (std::isnan(value)) return true;
      // Values of every other trial that reached this rung, plus ours.
      std::vector<double> competing;
      for (const Trial& t : history) {
        if (t.number == trial.number) continue;
        double v;
        if (ValueAtRung(t, rung, &v)) competing.push_back(v);
      }
      competing.push_back(value);
      if (!IsPromotable(value, &competing, direction)) return true;
      ++rung;
    }
    return false;
  }

 private:
  // The step at which rung r is judged; saturates instead of overflowing.
  int64_t RungStep(int rung) const {
    double s = min_resource_ * std::pow(static_cast<double>(reduction_factor_),
                                        min_early_stopping_rate_ + rung);
    return s > 4e18 ? static_cast<int64_t>(4e18) : static_cast<int64_t>(s);
  }

  bool ValueAtRung(const Trial& t, int rung, double* value) const {
    const int64_t rung_step = RungStep(rung);
    bool found = false;
    int64_t best_step = 0;
    for (const auto& [s, v] : t.intermediate_values) {
      if (s >= rung_step && (!found || s < best_step)) {
        found = true;
        best_step = s;
        *value = v;
      }
    }
    return found;
  }

  // Top 1/reduction_factor of the rung survives. Without suspend/resume, the
  // first reduction_factor - 1 trials at a rung survive only if best so far.
  bool IsPromotable(double value, std::vector<double>* competing, Direction direction) const {
    int64_t idx = static_cast<int64_t>(competing->size()) / reduction_factor_ - 1;
    if (idx < 0) idx = 0;
    // Optuna never records a NaN at a rung (it prunes first); drop them.
    competing->erase(std::remove_if(competing->begin(), competing->end(),
                                    [](double x) { return std::isnan(x); }),
                     competing->end());
    std::sort(competing->begin(), competing->end());
    idx = std::min<int64_t>(idx, static_cast<int64_t>(competing->size()) - 1);
    if (direction == Direction::kMaximize) return value >= (*competing)[competing->size() - 1 - idx];
    return value <= (*competing)[idx];
  }

  const int min_resource_, reduction_factor_, min_early_stopping_rate_;
};

}  // namespace

Status CheckSuccessiveHalvingPrunerArgs(int min_resource, int reduction_factor,
                                        int min_early_stopping_rate) {
  if (min_resource < 1) {
    return Status::InvalidArgument("min_resource (" + std::to_string(min_resource) +
                                   ") must be >= 1");
  }
  if (reduction_factor < 2) {
    return Status::InvalidArgument("reduction_factor (" + std::to_string(reduction_factor) +
                                   ") must be >= 2");
  }
  if (min_early_stopping_rate < 0) {
    return Status::InvalidArgument("min_early_stopping_rate (" +
                                   std::to_string(min_early_stopping_rate) + ") must be >= 0");
  }
  return Status::OK();
}

std::unique_ptr<Pruner> NewSuccessiveHalvingPruner(int min_resource, int reduction_factor,
                                                   int min_early_stopping_rate) {
  return std::make_unique<SuccessiveHalvingPruner>(min_resource, reduction_factor,
                                                   min_early_stopping_rate);
}

}  // namespace tpe
}  // namespace peftsearch
