#include "controller/single_strategy.h"

#include "absl/strings/str_cat.h"
#include "controller/param_codec.h"

namespace peftsearch::controller {
namespace {

tpe::TrialState ToSamplerState(storage::TrialState s) {
  switch (s) {
    case storage::TrialState::kComplete:
      return tpe::TrialState::kComplete;
    case storage::TrialState::kPruned:
      return tpe::TrialState::kPruned;
    case storage::TrialState::kFailed:
      return tpe::TrialState::kFailed;
    case storage::TrialState::kWaiting:
    case storage::TrialState::kRunning:
      return tpe::TrialState::kRunning;  // sampled and not finished: the liar's input
  }
  return tpe::TrialState::kRunning;
}

// The one place tpe::Status becomes absl::Status.
absl::Status FromTpe(const tpe::Status& s) {
  if (s.ok()) return absl::OkStatus();
  switch (s.code()) {
    case tpe::Status::Code::kInvalidArgument:
      return absl::InvalidArgumentError(s.message());
    case tpe::Status::Code::kFailedPrecondition:
      return absl::FailedPreconditionError(s.message());
    default:
      return absl::InternalError(s.message());
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<tpe::Sampler>> NewSampler(const SamplerSpec& spec,
                                                         const tpe::SearchSpace& space) {
  if (tpe::Status s = tpe::ValidateSearchSpace(space); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("space: ", s.message()));
  }
  std::unique_ptr<tpe::Sampler> sampler;
  if (spec.type == "random") {
    sampler = tpe::NewRandomSampler(spec.seed);
  } else if (spec.type == "grid") {
    tpe::Status s = tpe::NewGridSampler(space, spec.seed, &sampler);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("sampler: ", s.message()));
  } else {
    tpe::TpeOptions options;
    options.seed = spec.seed;
    options.n_startup_trials = spec.n_startup_trials;
    options.n_ei_candidates = spec.n_ei_candidates;
    options.multivariate = spec.multivariate;
    options.group = spec.group;
    options.constant_liar = spec.constant_liar;
    options.consider_endpoints = spec.consider_endpoints;
    options.consider_magic_clip = spec.consider_magic_clip;
    options.consider_prior = spec.consider_prior;
    options.prior_weight = spec.prior_weight;
    options.optuna3_density = spec.optuna3_density;
    options.optuna3_log_int = spec.optuna3_log_int;
    options.prior_as_neighbor = spec.prior_as_neighbor;
    options.multivariate_neighbor_bandwidth = spec.multivariate_neighbor_bandwidth;
    tpe::Status s = tpe::NewTpeSampler(options, &sampler);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("sampler: ", s.message()));
  }
  return sampler;
}

tpe::SearchSpace SingleSpaceStrategy::ToSpace(const StudySpec& spec) {
  return ToSearchSpace(spec.space);
}

absl::StatusOr<std::unique_ptr<SingleSpaceStrategy>> SingleSpaceStrategy::Create(
    const StudySpec& spec) {
  auto sampler = NewSampler(spec.sampler, ToSearchSpace(spec.space));
  if (!sampler.ok()) return sampler.status();
  return std::unique_ptr<SingleSpaceStrategy>(new SingleSpaceStrategy(spec, std::move(*sampler)));
}

void SingleSpaceStrategy::ToSamplerHistory(const std::vector<ParamDef>& space,
                                           const std::vector<TrialView>& history,
                                           int phase_filter, std::vector<tpe::Trial>* out) {
  out->clear();
  out->reserve(history.size());
  for (const TrialView& t : history) {
    if (phase_filter >= 0 && t.phase != phase_filter) continue;
    tpe::Trial s;
    s.number = t.number;
    s.state = ToSamplerState(t.state);
    s.params = DecodeParams(space, t.params);
    s.value = t.value;
    s.intermediate_values = t.intermediate_values;
    out->push_back(std::move(s));
  }
}

const std::vector<tpe::Trial>& SamplerHistoryCache::Update(const std::vector<ParamDef>& space,
                                                           const std::vector<TrialView>& history,
                                                           int phase_filter) {
  if (phase_filter != phase_filter_ || history.size() < slot_.size()) {
    trials_.clear();
    slot_.clear();
    version_.clear();
    phase_filter_ = phase_filter;
  }
  for (size_t i = 0; i < history.size(); ++i) {
    const TrialView& t = history[i];
    if (i >= slot_.size()) {
      slot_.push_back(-1);
      version_.push_back(~uint64_t{0});
    }
    if (version_[i] == t.version && slot_[i] >= 0) continue;
    if (phase_filter >= 0 && t.phase != phase_filter) {
      version_[i] = t.version;
      continue;
    }
    tpe::Trial s;
    s.number = t.number;
    s.state = ToSamplerState(t.state);
    s.params = DecodeParams(space, t.params);
    s.value = t.value;
    s.intermediate_values = t.intermediate_values;
    if (slot_[i] < 0) {
      slot_[i] = static_cast<int64_t>(trials_.size());
      trials_.push_back(std::move(s));
    } else {
      trials_[slot_[i]] = std::move(s);
    }
    version_[i] = t.version;
  }
  return trials_;
}

absl::StatusOr<StrategyDecision> SingleSpaceStrategy::Next(const std::vector<TrialView>& history) {
  StrategyDecision decision;
  if (spec_.max_trials > 0 && static_cast<int64_t>(history.size()) >= spec_.max_trials) {
    decision.kind = StrategyDecision::Kind::kDone;
    return decision;
  }
  // The random sampler draws from (seed, trial number) alone; converting the
  // history for it was a scan of every trial per suggestion.
  static const std::vector<tpe::Trial> kNoHistory;
  const std::vector<tpe::Trial>& sampler_history =
      spec_.sampler.type == "random" ? kNoHistory : cache_.Update(spec_.space, history, -1);
  tpe::ParamValues values;
  tpe::Status s = sampler_->Suggest(
      space_, sampler_history,
      spec_.maximize ? tpe::Direction::kMaximize : tpe::Direction::kMinimize,
      static_cast<int64_t>(history.size()), &values);
  if (!s.ok()) return FromTpe(s);
  decision.kind = StrategyDecision::Kind::kTrial;
  decision.params = EncodeParams(spec_.space, values);
  decision.phase = 0;
  return decision;
}

}  // namespace peftsearch::controller
