// Pruners: decide whether a running trial should stop early, from its
// intermediate values and the rest of the study. Median and asynchronous
// successive halving (ASHA) follow Optuna's MedianPruner and
// SuccessiveHalvingPruner. Stateless: everything comes from the trials, so
// a restarted controller decides exactly as before.
// Thread safety: ShouldPrune is const and keeps no state.
#ifndef PEFTSEARCH_TPE_PRUNER_H_
#define PEFTSEARCH_TPE_PRUNER_H_

#include <memory>
#include <vector>

#include "tpe/status.h"
#include "tpe/trial.h"

namespace peftsearch {
namespace tpe {

class Pruner {
 public:
  Pruner() = default;
  Pruner(const Pruner&) = delete;
  Pruner& operator=(const Pruner&) = delete;
  virtual ~Pruner() = default;

  // Whether `trial` (RUNNING, its intermediate_values just updated) should
  // stop now, given the rest of the study (`history`, any state, not
  // containing `trial`). Call it after every reported step: ASHA infers the
  // rungs a trial has passed from the steps it reported before the last one.
  virtual bool ShouldPrune(const Trial& trial, const std::vector<Trial>& history,
                           Direction direction) const = 0;
};

// Prunes when the trial's best intermediate value so far is worse than the
// median of COMPLETE trials' values at the same step. Inactive until
// n_startup_trials trials are COMPLETE, before step n_warmup_steps, and
// between checks every interval_steps steps (Optuna's MedianPruner).
// REQUIRES: CheckMedianPrunerArgs(...) is OK (out-of-range values are clamped).
std::unique_ptr<Pruner> NewMedianPruner(int n_startup_trials = 5, int n_warmup_steps = 0,
                                        int interval_steps = 1);
Status CheckMedianPrunerArgs(int n_startup_trials, int n_warmup_steps, int interval_steps);

// ASHA as in Optuna: rung r is reached at step
// min_resource * reduction_factor^(min_early_stopping_rate + r); a trial
// survives a rung if its value there is in the top 1/reduction_factor of all
// trials' values recorded at that rung (the first reduction_factor - 1
// trials must be the best so far).
// REQUIRES: CheckSuccessiveHalvingPrunerArgs(...) is OK (else clamped).
std::unique_ptr<Pruner> NewSuccessiveHalvingPruner(int min_resource = 1, int reduction_factor = 4,
                                                   int min_early_stopping_rate = 0);
Status CheckSuccessiveHalvingPrunerArgs(int min_resource, int reduction_factor,
                                        int min_early_stopping_rate);

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_PRUNER_H_
