// Pruning in the engine: the spec's pruner block becomes a decision function
// over a running trial and its study's history. The algorithms live in tpe/
// (median and asynchronous successive halving, as in Optuna).
#ifndef PEFTSEARCH_CONTROLLER_PRUNING_H_
#define PEFTSEARCH_CONTROLLER_PRUNING_H_

#include <memory>
#include <string>
#include <vector>

#include "controller/spec.h"
#include "controller/strategy.h"

namespace peftsearch::controller {

class TrialPruner {
 public:
  virtual ~TrialPruner() = default;
  // Whether trial `number` (running, values just reported) should stop.
  // `reason` is filled when it should.
  virtual bool ShouldPrune(const std::vector<TrialView>& history, int64_t number, bool maximize,
                           std::string* reason) const = 0;
};

// nullptr for pruner type "none".
std::unique_ptr<TrialPruner> NewTrialPruner(const StudySpec& spec);

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_PRUNING_H_
