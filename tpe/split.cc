#include "tpe/split.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace peftsearch {
namespace tpe {
namespace {

bool ByNumber(const Trial* a, const Trial* b) { return a->number < b->number; }

// Optuna's _get_pruned_trial_score: trials that got further rank first, then
// the better last intermediate value; NaN is worst; none at all ranks last.
std::pair<double, double> PrunedKey(const Trial& t, Direction direction) {
  if (t.intermediate_values.empty()) return {1.0, 0.0};
  auto last = std::max_element(t.intermediate_values.begin(), t.intermediate_values.end());
  double v = last->second;
  if (std::isnan(v)) return {-static_cast<double>(last->first), std::numeric_limits<double>::infinity()};
  return {-static_cast<double>(last->first), direction == Direction::kMinimize ? v : -v};
}

}  // namespace

UsableTrials SelectUsableTrials(const std::vector<Trial>& history, int64_t exclude_number,
                                bool include_running) {
  UsableTrials out;
  for (const Trial& t : history) {
    if (t.number == exclude_number) continue;
    switch (t.state) {
      case TrialState::kComplete:
        if (t.value && !std::isnan(*t.value)) out.finished.push_back(&t);
        break;
      case TrialState::kPruned:
        out.finished.push_back(&t);
        break;
      case TrialState::kRunning:
        if (include_running) out.running.push_back(&t);
        break;
      case TrialState::kFailed:
        break;
    }
  }
  return out;
}

Split SplitTrials(const UsableTrials& trials, int n_below, Direction direction) {
  std::vector<const Trial*> complete, pruned;
  for (const Trial* t : trials.finished) {
    (t->state == TrialState::kComplete ? complete : pruned).push_back(t);
  }
  // Stable sorts over number-ordered input: ties keep trial-number order.
  // Sort by (key, trial number): ties keep trial-number order, as Optuna's
  // stable sort over number-ordered trials. Keys are computed once.
  const double sign = direction == Direction::kMinimize ? 1.0 : -1.0;
  std::vector<std::pair<std::pair<double, int64_t>, const Trial*>> c_keys;
  for (const Trial* t : complete) c_keys.push_back({{sign * *t->value, t->number}, t});
  std::sort(c_keys.begin(), c_keys.end());
  for (size_t i = 0; i < complete.size(); ++i) complete[i] = c_keys[i].second;
  std::vector<std::pair<std::pair<std::pair<double, double>, int64_t>, const Trial*>> p_keys;
  for (const Trial* t : pruned) p_keys.push_back({{PrunedKey(*t, direction), t->number}, t});
  std::sort(p_keys.begin(), p_keys.end());
  for (size_t i = 0; i < pruned.size(); ++i) pruned[i] = p_keys[i].second;
  const size_t want =
      static_cast<size_t>(std::clamp(n_below, 0, static_cast<int>(trials.finished.size())));
  Split split;
  for (const Trial* t : complete) (split.below.size() < want ? split.below : split.above).push_back(t);
  for (const Trial* t : pruned) (split.below.size() < want ? split.below : split.above).push_back(t);
  for (const Trial* t : trials.running) split.above.push_back(t);
  std::sort(split.below.begin(), split.below.end(), ByNumber);
  std::sort(split.above.begin(), split.above.end(), ByNumber);
  return split;
}

}  // namespace tpe
}  // namespace peftsearch
