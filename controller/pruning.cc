#include "controller/pruning.h"

#include "absl/strings/str_cat.h"
#include "controller/single_strategy.h"
#include "tpe/pruner.h"

namespace peftsearch::controller {
namespace {

// Adapts a tpe::Pruner (median or ASHA) to the engine's history.
class TpePrunerAdapter final : public TrialPruner {
 public:
  TpePrunerAdapter(std::unique_ptr<tpe::Pruner> pruner, std::string name)
      : pruner_(std::move(pruner)), name_(std::move(name)) {}

  bool ShouldPrune(const std::vector<TrialView>& history, int64_t number, bool maximize,
                   std::string* reason) const override {
    if (number < 0 || number >= static_cast<int64_t>(history.size())) return false;
    // The pruners compare intermediate values only; params are not needed.
    std::vector<tpe::Trial> trials;
    trials.reserve(history.size());
    tpe::Trial current;
    for (const TrialView& t : history) {
      tpe::Trial s;
      s.number = t.number;
      switch (t.state) {
        case storage::TrialState::kComplete:
          s.state = tpe::TrialState::kComplete;
          break;
        case storage::TrialState::kPruned:
          s.state = tpe::TrialState::kPruned;
          break;
        case storage::TrialState::kFailed:
          s.state = tpe::TrialState::kFailed;
          break;
        default:
          s.state = tpe::TrialState::kRunning;
      }
      s.value = t.value;
      s.intermediate_values = t.intermediate_values;
      if (t.number == number) {
        current = std::move(s);
      } else {
        trials.push_back(std::move(s));
      }
    }
    if (current.intermediate_values.empty()) return false;
    const bool prune = pruner_->ShouldPrune(
        current, trials, maximize ? tpe::Direction::kMaximize : tpe::Direction::kMinimize);
    if (prune && reason != nullptr) {
      *reason = absl::StrCat(name_, " pruner at step ", current.intermediate_values.back().first,
                             " (value ", current.intermediate_values.back().second, ")");
    }
    return prune;
  }

 private:
  std::unique_ptr<tpe::Pruner> pruner_;
  std::string name_;
};

}  // namespace

std::unique_ptr<TrialPruner> NewTrialPruner(const StudySpec& spec) {
  const PrunerSpec& p = spec.pruner;
  if (p.type == "median") {
    return std::make_unique<TpePrunerAdapter>(
        tpe::NewMedianPruner(p.n_startup_trials, p.n_warmup_steps, p.interval_steps), "median");
  }
  if (p.type == "asha") {
    return std::make_unique<TpePrunerAdapter>(
        tpe::NewSuccessiveHalvingPruner(p.min_resource, p.reduction_factor,
                                        p.min_early_stopping_rate),
        "asha");
  }
  return nullptr;
}

}  // namespace peftsearch::controller
