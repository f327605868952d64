// SingleSpaceStrategy: one phase, one search space, one sampler (TPE by
// default, or random / grid), up to the spec's max_trials trials.
#ifndef PEFTSEARCH_CONTROLLER_SINGLE_STRATEGY_H_
#define PEFTSEARCH_CONTROLLER_SINGLE_STRATEGY_H_

#include <map>
#include <memory>
#include <vector>

#include "controller/strategy.h"
#include "tpe/sampler.h"

namespace peftsearch::controller {

// Maps the spec's sampler block to a sampler over `space`.
absl::StatusOr<std::unique_ptr<tpe::Sampler>> NewSampler(const SamplerSpec& spec,
                                                         const tpe::SearchSpace& space);

// The sampler's view of a study's history, kept up to date incrementally:
// only trials whose version changed since the last call are decoded again.
// Decoding every trial's JSON on every suggestion made a 10,000-trial study
// quadratic.
class SamplerHistoryCache {
 public:
  // Trials of `history` whose phase is `phase_filter` (-1 = all), converted.
  const std::vector<tpe::Trial>& Update(const std::vector<ParamDef>& space,
                                        const std::vector<TrialView>& history, int phase_filter);

 private:
  std::vector<tpe::Trial> trials_;
  std::vector<int64_t> slot_;          // history index -> index in trials_, or -1
  std::vector<uint64_t> version_;      // history index -> version converted
  int phase_filter_ = -2;
};

class SingleSpaceStrategy final : public Strategy {
 public:
  static absl::StatusOr<std::unique_ptr<SingleSpaceStrategy>> Create(const StudySpec& spec);

  absl::StatusOr<StrategyDecision> Next(const std::vector<TrialView>& history) override;

  // Exposed for other strategies: converts history to the sampler's trials
  // over `space`, keeping only trials whose phase passes `phase_filter` (-1 =
  // all), caching the conversion of trials that did not change.
  static void ToSamplerHistory(const std::vector<ParamDef>& space,
                               const std::vector<TrialView>& history, int phase_filter,
                               std::vector<tpe::Trial>* out);

 private:
  SingleSpaceStrategy(const StudySpec& spec, std::unique_ptr<tpe::Sampler> sampler)
      : spec_(spec), space_(ToSpace(spec)), sampler_(std::move(sampler)) {}
  static tpe::SearchSpace ToSpace(const StudySpec& spec);

  const StudySpec spec_;
  const tpe::SearchSpace space_;
  std::unique_ptr<tpe::Sampler> sampler_;
  SamplerHistoryCache cache_;
};

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_SINGLE_STRATEGY_H_
