// The TPE split: which trials the sampler uses, and which of them are
// "below" (good, modelled by l) or "above" (modelled by g). Follows Optuna
// 4.x's _split_trials: COMPLETE by value, then PRUNED by (furthest step,
// best last intermediate value); RUNNING (constant liar) always above;
// FAILED never used.
// Thread safety: pure functions.
#ifndef PEFTSEARCH_TPE_SPLIT_H_
#define PEFTSEARCH_TPE_SPLIT_H_

#include <cstdint>
#include <vector>

#include "tpe/trial.h"

namespace peftsearch {
namespace tpe {

struct UsableTrials {
  std::vector<const Trial*> finished;  // COMPLETE (with a non-NaN value) and PRUNED
  std::vector<const Trial*> running;   // only when include_running
};

// Picks the trials TPE may learn from, skipping `exclude_number` (the trial
// being sampled). A COMPLETE trial without a value or with NaN counts as
// failed, as Optuna turns a NaN objective into FAIL.
UsableTrials SelectUsableTrials(const std::vector<Trial>& history, int64_t exclude_number,
                                bool include_running);

struct Split {
  std::vector<const Trial*> below;  // ascending trial number
  std::vector<const Trial*> above;  // ascending trial number
};

// n_below is clamped to [0, |finished|]. Ties keep trial-number order.
Split SplitTrials(const UsableTrials& trials, int n_below, Direction direction);

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_SPLIT_H_
