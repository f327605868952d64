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
  // Rank keys: COMPLETE by (value, trial number), PRUNED by (PrunedKey, trial
  // number); the number breaks ties as Optuna's stable sort over
  // number-ordered trials does. Only the n_below best are needed, so a
  // selection (nth_element) replaces the full sort: the same set, since the
  // keys are distinct.
  const std::vector<const Trial*>& finished = trials.finished;
  const double sign = direction == Direction::kMinimize ? 1.0 : -1.0;
  struct CompleteKey {
    double value;
    int64_t number;
    size_t pos;  // index in `finished`
  };
  struct PrunedRank {
    std::pair<double, double> key;
    int64_t number;
    size_t pos;
  };
  std::vector<CompleteKey> complete;
  std::vector<PrunedRank> pruned;
  complete.reserve(finished.size());
  for (size_t i = 0; i < finished.size(); ++i) {
    const Trial* t = finished[i];
    if (t->state == TrialState::kComplete) {
      complete.push_back({sign * *t->value, t->number, i});
    } else {
      pruned.push_back({PrunedKey(*t, direction), t->number, i});
    }
  }
  const size_t want = static_cast<size_t>(std::clamp(n_below, 0, static_cast<int>(finished.size())));
  std::vector<char> is_below(finished.size(), 0);
  if (want > 0) {
    const size_t from_complete = std::min(want, complete.size());
    auto complete_less = [](const CompleteKey& a, const CompleteKey& b) {
      return a.value != b.value ? a.value < b.value : a.number < b.number;
    };
    if (from_complete < complete.size()) {
      std::nth_element(complete.begin(), complete.begin() + from_complete, complete.end(), complete_less);
    }
    for (size_t j = 0; j < from_complete; ++j) is_below[complete[j].pos] = 1;
    const size_t from_pruned = want - from_complete;
    if (from_pruned > 0) {
      auto pruned_less = [](const PrunedRank& a, const PrunedRank& b) {
        return a.key != b.key ? a.key < b.key : a.number < b.number;
      };
      if (from_pruned < pruned.size()) {
        std::nth_element(pruned.begin(), pruned.begin() + from_pruned, pruned.end(), pruned_less);
      }
      for (size_t j = 0; j < from_pruned; ++j) is_below[pruned[j].pos] = 1;
    }
  }
  Split split;
  split.below.reserve(want);
  split.above.reserve(finished.size() - want + trials.running.size());
  for (size_t i = 0; i < finished.size(); ++i) {
    (is_below[i] ? split.below : split.above).push_back(finished[i]);
  }
  for (const Trial* t : trials.running) split.above.push_back(t);
  // Histories normally arrive in trial-number order: then both sides
  // already are.
  if (!std::is_sorted(split.below.begin(), split.below.end(), ByNumber)) {
    std::sort(split.below.begin(), split.below.end(), ByNumber);
  }
  if (!std::is_sorted(split.above.begin(), split.above.end(), ByNumber)) {
    std::sort(split.above.begin(), split.above.end(), ByNumber);
  }
  return split;
}

}  // namespace tpe
}  // namespace peftsearch
