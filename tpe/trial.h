// The sampler's and pruner's view of one trial of a study: plain data, filled
// by the caller from its store. No behaviour lives here.
// Thread safety: plain values.
#ifndef PEFTSEARCH_TPE_TRIAL_H_
#define PEFTSEARCH_TPE_TRIAL_H_

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "tpe/search_space.h"

namespace peftsearch {
namespace tpe {

// As in Optuna: COMPLETE and PRUNED trials feed the model (PRUNED ranked by
// their last intermediate value), RUNNING ones only under constant liar, and
// FAILED ones never. A waiting (not yet started) trial is simply not passed.
enum class TrialState { kRunning, kComplete, kPruned, kFailed };
enum class Direction { kMinimize, kMaximize };

struct Trial {
  int64_t number = 0;
  TrialState state = TrialState::kRunning;
  ParamValues params;           // active parameters only, internal repr
  std::optional<double> value;  // objective; set for kComplete
  std::vector<std::pair<int64_t, double>> intermediate_values;  // (step, value), ascending step
};

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_TRIAL_H_
