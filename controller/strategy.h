// Strategy: decides a study's next trial from its history. A plain study has
// one phase and one search space (SingleSpaceStrategy); the hybrid PEFT search
// has phases whose spaces depend on earlier phases' results. Strategies see
// history, never the store, and hold no state that history cannot rebuild, so
// a restarted controller resumes every study exactly where it was.
//
// Thread safety: the engine calls a strategy with its study's lock held.
#ifndef PEFTSEARCH_CONTROLLER_STRATEGY_H_
#define PEFTSEARCH_CONTROLLER_STRATEGY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/spec.h"
#include "storage/records.h"

namespace peftsearch::controller {

// What a strategy knows of one trial.
struct TrialView {
  int64_t number = 0;
  storage::TrialState state = storage::TrialState::kWaiting;
  int phase = 0;
  Json params;  // object: name -> JSON scalar
  std::optional<double> value;
  Json result;  // the objective's full result, or null
  std::vector<std::pair<int64_t, double>> intermediate_values;
  int attempt = 0;
  std::string worker_id;
  std::string lease_token;
  // Bumped by the engine on every change, so strategies can cache what they
  // derive from a trial (e.g. its decoded params) and redo only what changed.
  uint64_t version = 0;
};

struct StrategyDecision {
  enum class Kind {
    kTrial,  // create a trial with `params` in `phase`
    kWait,   // nothing until running trials finish (e.g. a phase boundary)
    kDone,   // the study needs no more trials
  };
  Kind kind = Kind::kDone;
  Json params;
  int phase = 0;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // The next trial, numbered `history.size()`. `history` holds every trial of
  // the study in number order, in any state.
  virtual absl::StatusOr<StrategyDecision> Next(const std::vector<TrialView>& history) = 0;
  // The phase the study is in, and a JSON summary for users (null if none).
  virtual int CurrentPhase(const std::vector<TrialView>& history) const { return 0; }
  virtual Json Summary(const std::vector<TrialView>& history) const { return Json(); }
  // How many trials the study will have in all, or 0 if the spec's
  // max_trials says it.
  virtual int64_t TotalTrials() const { return 0; }
  // Whether a complete trial competes for the study's best value. The hybrid
  // search's final trial is scored on the test split and must not be
  // compared with validation scores.
  virtual bool CountsForBest(const TrialView& trial) const { return true; }
};

// Builds the strategy the spec names.
absl::StatusOr<std::unique_ptr<Strategy>> NewStrategy(const StudySpec& spec);

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_STRATEGY_H_
