#include "controller/hybrid/hybrid_strategy.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "controller/param_codec.h"
#include "controller/single_strategy.h"

namespace peftsearch::controller {

extern const char kTable9Json[];  // generated from table9.json

namespace {

constexpr int kStep1 = 1;
constexpr int kStep2 = 2;
constexpr int kFinal = 3;
constexpr char kRemove[] = "remove";
constexpr char kNotRemove[] = "none";

absl::Status Bad(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

std::string KnownList(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& n : names) absl::StrAppend(&list, list.empty() ? "" : ", ", n);
  return list;
}

bool IsOpen(storage::TrialState s) {
  return s == storage::TrialState::kWaiting || s == storage::TrialState::kRunning;
}

int64_t CountPhase(const std::vector<TrialView>& history, int phase, bool open_only) {
  int64_t n = 0;
  for (const TrialView& t : history) {
    if (t.phase == phase && (!open_only || IsOpen(t.state))) ++n;
  }
  return n;
}

double TrainableParams(const TrialView& t) {
  if (t.result.is_object()) {
    auto it = t.result.find("trainable_params");
    if (it != t.result.end() && it->is_number()) return it->get<double>();
  }
  // Without a measured count, fewer methods is the tie-break.
  auto peft = t.params.find("peft");
  return peft != t.params.end() && peft->is_object() ? static_cast<double>(peft->size()) : 0.0;
}

std::vector<std::string> CombinationOf(const TrialView& t) {
  std::vector<std::string> out;
  auto peft = t.params.find("peft");
  if (peft == t.params.end() || !peft->is_object()) return out;
  for (auto it = peft->begin(); it != peft->end(); ++it) out.push_back(it.key());
  return out;
}

}  // namespace

const Json& Table9() {
  static const Json* const kTable = new Json(Json::parse(kTable9Json));
  return *kTable;
}

absl::StatusOr<HybridConfig> ParseHybridConfig(const Json& strategy, const Json& objective) {
  const Json& table = Table9();
  HybridConfig config;
  const std::set<std::string> known_keys = {"type",  "n1",           "n2",
                                            "methods", "step1",     "step2",
                                            "final", "tie_tolerance", "step1_sampler",
                                            "extended_methods"};
  for (auto it = strategy.begin(); it != strategy.end(); ++it) {
    if (!known_keys.count(it.key())) {
      return Bad(absl::StrCat("strategy.", it.key()),
                 "unknown field (known: extended_methods, final, methods, n1, n2, step1, "
                 "step1_sampler, step2, tie_tolerance, type)");
    }
  }
  for (auto [key, out] : std::vector<std::pair<const char*, int64_t*>>{{"n1", &config.n1},
                                                                       {"n2", &config.n2}}) {
    auto it = strategy.find(key);
    if (it == strategy.end()) continue;
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 100000) {
      return Bad(absl::StrCat("strategy.", key),
                 absl::StrCat("must be an integer in [0, 100000], got ", it->dump()));
    }
    *out = it->get<int64_t>();
  }
  if (config.n1 < 1) return Bad("strategy.n1", "step 1 needs at least one trial");
  if (auto it = strategy.find("final"); it != strategy.end()) {
    if (!it->is_boolean()) return Bad("strategy.final", "must be true or false");
    config.final_test = it->get<bool>();
  }
  if (auto it = strategy.find("step1_sampler"); it != strategy.end()) {
    if (!it->is_object()) return Bad("strategy.step1_sampler", "must be an object of TPE settings");
    for (auto s = it->begin(); s != it->end(); ++s) {
      const std::string field = absl::StrCat("strategy.step1_sampler.", s.key());
      if (s.key() == "multivariate" || s.key() == "group" || s.key() == "constant_liar" ||
          s.key() == "consider_endpoints") {
        if (!s->is_boolean()) return Bad(field, "must be true or false");
      } else if (s.key() == "prior_weight") {
        if (!s->is_number() || s->get<double>() <= 0) return Bad(field, "must be a number > 0");
      } else if (s.key() == "n_ei_candidates" || s.key() == "n_startup_trials") {
        if (!s->is_number_integer() || s->get<int64_t>() < 0) return Bad(field, "must be an integer >= 0");
      } else {
        return Bad(field, "unknown TPE setting (known: constant_liar, consider_endpoints, group, "
                          "multivariate, n_ei_candidates, n_startup_trials, prior_weight)");
      }
      config.step1_sampler[s.key()] = *s;
    }
  }
  if (auto it = strategy.find("tie_tolerance"); it != strategy.end()) {
    if (!it->is_number() || it->get<double>() < 0) {
      return Bad("strategy.tie_tolerance", "must be a number >= 0");
    }
    config.tie_tolerance = it->get<double>();
  }

  std::vector<std::string> all;
  for (const Json& m : table["methods"]) all.push_back(m.get<std::string>());
  // The methods beyond MambaPEFT join step 1 only when asked for, so that the
  // default study is the paper's 20-method search.
  std::vector<std::string> extended;
  for (const Json& m : table["extended_methods"]) extended.push_back(m.get<std::string>());
  std::vector<std::string> extended_on;
  if (auto it = strategy.find("extended_methods"); it != strategy.end()) {
    const std::string hint = absl::StrCat("must be true, false or an array of method names (known: ",
                                          KnownList(extended), ")");
    if (it->is_boolean()) {
      if (it->get<bool>()) extended_on = extended;
    } else if (it->is_array()) {
      for (size_t i = 0; i < it->size(); ++i) {
        const Json& m = (*it)[i];
        const std::string field = absl::StrCat("strategy.extended_methods[", i, "]");
        if (!m.is_string()) return Bad(field, "must be a string");
        const std::string name = m.get<std::string>();
        if (std::find(extended.begin(), extended.end(), name) == extended.end()) {
          return Bad(field, absl::StrCat("unknown extended method \"", name, "\" (known: ",
                                         KnownList(extended), ")"));
        }
        if (std::find(extended_on.begin(), extended_on.end(), name) != extended_on.end()) {
          return Bad(field, absl::StrCat("duplicate method \"", name, "\""));
        }
        extended_on.push_back(name);
      }
    } else {
      return Bad("strategy.extended_methods", absl::StrCat(hint, ", got ", it->dump()));
    }
  }
  const std::vector<std::string> twenty = all;
  all.insert(all.end(), extended.begin(), extended.end());
  if (auto it = strategy.find("methods"); it != strategy.end()) {
    if (!it->is_array() || it->empty()) {
      return Bad("strategy.methods", "must be a non-empty array of PEFT method names");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& m = (*it)[i];
      const std::string field = absl::StrCat("strategy.methods[", i, "]");
      if (!m.is_string()) return Bad(field, "must be a string");
      const std::string name = m.get<std::string>();
      if (std::find(all.begin(), all.end(), name) == all.end()) {
        return Bad(field, absl::StrCat("unknown PEFT method \"", name, "\" (known: ", KnownList(all), ")"));
      }
      if (!seen.insert(name).second) return Bad(field, absl::StrCat("duplicate method \"", name, "\""));
      config.methods.push_back(name);
    }
  } else {
    config.methods = twenty;
  }
  for (const std::string& m : extended_on) {
    if (std::find(config.methods.begin(), config.methods.end(), m) == config.methods.end()) {
      config.methods.push_back(m);
    }
  }

  for (auto it = table["step1"].begin(); it != table["step1"].end(); ++it) {
    config.step1[it.key()] = it.value();
  }
  if (auto it = strategy.find("step1"); it != strategy.end()) {
    if (!it->is_object()) return Bad("strategy.step1", "must be an object: method -> hyperparameters");
    for (auto m = it->begin(); m != it->end(); ++m) {
      const std::string field = absl::StrCat("strategy.step1.", m.key());
      if (!config.step1.count(m.key())) return Bad(field, "unknown PEFT method");
      if (!m->is_object()) return Bad(field, "must be an object of hyperparameters");
      config.step1[m.key()].update(*m);
    }
  }

  Json step2 = table["step2"];
  if (auto it = strategy.find("step2"); it != strategy.end()) {
    if (!it->is_object()) return Bad("strategy.step2", "must be an object: method -> {hp: range}");
    for (auto m = it->begin(); m != it->end(); ++m) {
      const std::string field = absl::StrCat("strategy.step2.", m.key());
      if (!config.step1.count(m.key())) return Bad(field, "unknown PEFT method");
      if (!m->is_object()) return Bad(field, "must be an object: hyperparameter -> range");
      for (auto hp = m->begin(); hp != m->end(); ++hp) {
        if (hp->is_null()) {
          step2[m.key()].erase(hp.key());  // null drops a range: the step-1 value stays fixed
        } else {
          step2[m.key()][hp.key()] = *hp;
        }
      }
    }
  }
  for (auto m = step2.begin(); m != step2.end(); ++m) {
    if (m.key().rfind('_', 0) == 0) continue;  // comments in the JSON file
    for (auto hp = m->begin(); hp != m->end(); ++hp) {
      const std::string name = absl::StrCat(m.key(), ".", hp.key());
      auto def = ParseParamDef(name, *hp, absl::StrCat("strategy.step2.", name));
      if (!def.ok()) return def.status();
    }
    config.step2[m.key()] = *m;
  }

  // The training recipe (t_default) sits in the peft_vim objective's trial.
  const Json* holder = &objective;
  if (objective.is_object() && objective.contains("trial") && objective["trial"].is_object()) {
    holder = &objective["trial"];
  }
  if (holder->is_object()) {
    auto recipe = holder->find("recipe");
    if (recipe != holder->end() && recipe->is_object()) {
      if (auto lr = recipe->find("lr"); lr != recipe->end() && lr->is_number()) {
        config.default_lr = lr->get<double>();
      }
      if (auto wd = recipe->find("weight_decay"); wd != recipe->end() && wd->is_number()) {
        config.default_wd = wd->get<double>();
      }
    }
  }
  return config;
}

absl::StatusOr<std::unique_ptr<HybridPeftStrategy>> HybridPeftStrategy::Create(
    const StudySpec& spec) {
  if (!spec.maximize) {
    return absl::InvalidArgumentError(
        "direction: the hybrid PEFT search maximises accuracy; set \"direction\": \"maximize\"");
  }
  auto config = ParseHybridConfig(spec.strategy, spec.objective);
  if (!config.ok()) return config.status();
  std::unique_ptr<HybridPeftStrategy> strategy(new HybridPeftStrategy(spec, std::move(*config)));
  // Fail at submission, not mid-study, if a space does not build.
  for (const auto& space : {strategy->Step1Space(), strategy->Step2Space(strategy->config_.methods)}) {
    auto sampler = NewSampler(spec.sampler, ToSearchSpace(space));
    if (!sampler.ok()) return sampler.status();
  }
  return strategy;
}

std::vector<ParamDef> HybridPeftStrategy::Step1Space() const {
  std::vector<ParamDef> space;
  for (const std::string& m : config_.methods) {
    ParamDef p;
    p.name = m;
    p.type = ParamDef::Type::kCategorical;
    p.choices = {Json(false), Json(true)};
    space.push_back(std::move(p));
  }
  return space;
}

std::vector<ParamDef> HybridPeftStrategy::Step2Space(
    const std::vector<std::string>& combination) const {
  std::vector<ParamDef> space;
  ParamDef remove;
  remove.name = kRemove;
  remove.type = ParamDef::Type::kCategorical;
  remove.choices.push_back(kNotRemove);
  for (const std::string& m : combination) {
    remove.choices.push_back(m);
    auto ranges = config_.step2.find(m);
    if (ranges == config_.step2.end()) continue;
    for (auto hp = ranges->second.begin(); hp != ranges->second.end(); ++hp) {
      const std::string name = absl::StrCat(m, ".", hp.key());
      auto def = ParseParamDef(name, *hp, name);  // validated in ParseHybridConfig
      if (def.ok()) space.push_back(std::move(*def));
    }
  }
  space.insert(space.begin(), std::move(remove));
  return space;
}

const TrialView* HybridPeftStrategy::BestOfPhase(const std::vector<TrialView>& history,
                                                 int phase) const {
  const TrialView* best = nullptr;
  for (const TrialView& t : history) {
    if (t.phase != phase || t.state != storage::TrialState::kComplete || !t.value) continue;
    if (best == nullptr) {
      best = &t;
      continue;
    }
    const double gap = *t.value - *best->value;
    if (gap > config_.tie_tolerance ||
        (std::fabs(gap) <= config_.tie_tolerance && TrainableParams(t) < TrainableParams(*best))) {
      best = &t;
    }
  }
  return best;
}

std::optional<std::vector<std::string>> HybridPeftStrategy::BestCombination(
    const std::vector<TrialView>& history) const {
  const TrialView* best = BestOfPhase(history, kStep1);
  if (best == nullptr) return std::nullopt;
  return CombinationOf(*best);
}

Json HybridPeftStrategy::Step1Params(const Json& sampled) const {
  Json params = sampled;
  Json peft = Json::object();
  for (const std::string& m : config_.methods) {
    auto it = sampled.find(m);
    if (it != sampled.end() && it->is_boolean() && it->get<bool>()) {
      peft[m] = config_.step1.at(m);
    }
  }
  params["peft"] = std::move(peft);
  params["eval"] = "search";
  return params;
}

Json HybridPeftStrategy::Step2Defaults(const std::vector<std::string>& combination) const {
  Json sampled = Json::object();
  for (const ParamDef& p : Step2Space(combination)) {
    if (p.name == kRemove) {
      sampled[p.name] = kNotRemove;
      continue;
    }
    const std::string method = p.name.substr(0, p.name.find('.'));
    const std::string hp = p.name.substr(p.name.find('.') + 1);
    const Json& fixed = config_.step1.at(method);
    double value;
    if (fixed.contains(hp) && fixed[hp].is_number()) {
      value = fixed[hp].get<double>();
    } else if (hp == "lr") {
      value = config_.default_lr;
    } else if (hp == "wd") {
      value = config_.default_wd;
    } else {
      value = p.log ? std::sqrt(p.low * p.high) : (p.low + p.high) / 2;
    }
    value = std::clamp(value, p.low, p.high);
    if (p.type == ParamDef::Type::kInt) {
      sampled[p.name] = static_cast<int64_t>(std::llround(value));
    } else {
      sampled[p.name] = value;
    }
  }
  return sampled;
}

Json HybridPeftStrategy::Step2Params(const std::vector<std::string>& combination,
                                     const Json& sampled) const {
  Json params = sampled;
  const std::string removed =
      sampled.contains(kRemove) ? sampled[kRemove].get<std::string>() : kNotRemove;
  Json peft = Json::object();
  for (const std::string& m : combination) {
    if (m == removed) continue;
    Json hps = config_.step1.at(m);
    for (auto it = sampled.begin(); it != sampled.end(); ++it) {
      const std::string prefix = m + ".";
      if (it.key().rfind(prefix, 0) == 0) hps[it.key().substr(prefix.size())] = *it;
    }
    peft[m] = std::move(hps);
  }
  params["peft"] = std::move(peft);
  params["eval"] = "search";
  return params;
}

absl::StatusOr<Json> HybridPeftStrategy::Sample(const std::vector<ParamDef>& space,
                                                const std::vector<TrialView>& history,
                                                int phase) const {
  SamplerSpec sampler_spec = spec_.sampler;
  sampler_spec.seed = spec_.sampler.seed * 1000003ULL + static_cast<uint64_t>(phase);
  if (phase == kStep1 && sampler_spec.type == "tpe") {
    const Json& s = config_.step1_sampler;
    sampler_spec.multivariate = s.value("multivariate", sampler_spec.multivariate);
    sampler_spec.group = s.value("group", sampler_spec.group);
    sampler_spec.constant_liar = s.value("constant_liar", sampler_spec.constant_liar);
    sampler_spec.consider_endpoints = s.value("consider_endpoints", sampler_spec.consider_endpoints);
    sampler_spec.prior_weight = s.value("prior_weight", sampler_spec.prior_weight);
    sampler_spec.n_ei_candidates = s.value("n_ei_candidates", sampler_spec.n_ei_candidates);
    sampler_spec.n_startup_trials = s.value("n_startup_trials", sampler_spec.n_startup_trials);
  }
  const tpe::SearchSpace tpe_space = ToSearchSpace(space);
  auto sampler = NewSampler(sampler_spec, tpe_space);
  if (!sampler.ok()) return sampler.status();
  std::vector<tpe::Trial> trials;
  SingleSpaceStrategy::ToSamplerHistory(space, history, phase, &trials);
  tpe::ParamValues values;
  tpe::Status s = (*sampler)->Suggest(tpe_space, trials, tpe::Direction::kMaximize,
                                      static_cast<int64_t>(history.size()), &values);
  if (!s.ok()) return absl::InternalError(absl::StrCat("sampler: ", s.message()));
  return EncodeParams(space, values);
}

absl::StatusOr<StrategyDecision> HybridPeftStrategy::Next(const std::vector<TrialView>& history) {
  StrategyDecision d;
  if (CountPhase(history, kStep1, false) < config_.n1) {
    auto sampled = Sample(Step1Space(), history, kStep1);
    if (!sampled.ok()) return sampled.status();
    d.kind = StrategyDecision::Kind::kTrial;
    d.phase = kStep1;
    d.params = Step1Params(*sampled);
    return d;
  }
  if (CountPhase(history, kStep1, true) > 0) {
    d.kind = StrategyDecision::Kind::kWait;  // step 2 needs all of step 1
    return d;
  }
  auto combination = BestCombination(history);
  if (!combination.has_value()) {
    d.kind = StrategyDecision::Kind::kDone;  // no step-1 trial completed: nothing to refine
    return d;
  }
  const int64_t step2_created = CountPhase(history, kStep2, false);
  if (step2_created < config_.n2) {
    d.kind = StrategyDecision::Kind::kTrial;
    d.phase = kStep2;
    if (step2_created == 0) {
      d.params = Step2Params(*combination, Step2Defaults(*combination));  // Algorithm 1, line 20
    } else {
      auto sampled = Sample(Step2Space(*combination), history, kStep2);
      if (!sampled.ok()) return sampled.status();
      d.params = Step2Params(*combination, *sampled);
    }
    return d;
  }
  if (CountPhase(history, kStep2, true) > 0) {
    d.kind = StrategyDecision::Kind::kWait;
    return d;
  }
  if (config_.final_test && CountPhase(history, kFinal, false) == 0) {
    const TrialView* best = BestOfPhase(history, kStep2);
    Json params = best != nullptr ? best->params
                                  : Step2Params(*combination, Step2Defaults(*combination));
    params["eval"] = "final";
    params["source_trial"] = best != nullptr ? best->number : -1;
    d.kind = StrategyDecision::Kind::kTrial;
    d.phase = kFinal;
    d.params = std::move(params);
    return d;
  }
  d.kind = StrategyDecision::Kind::kDone;
  return d;
}

int HybridPeftStrategy::CurrentPhase(const std::vector<TrialView>& history) const {
  int phase = kStep1;
  for (const TrialView& t : history) phase = std::max(phase, t.phase);
  return phase;
}

Json HybridPeftStrategy::Summary(const std::vector<TrialView>& history) const {
  Json summary = Json::object();
  summary["phase"] = CurrentPhase(history);
  auto step_summary = [&](int phase, int64_t planned) {
    Json s = Json::object();
    int64_t finished = 0;
    for (const TrialView& t : history) {
      if (t.phase == phase && !IsOpen(t.state)) ++finished;
    }
    s["planned"] = planned;
    s["finished"] = finished;
    if (const TrialView* best = BestOfPhase(history, phase)) {
      s["best_trial"] = best->number;
      s["best_value"] = *best->value;
      s["combination"] = CombinationOf(*best);
      s["peft"] = best->params.value("peft", Json::object());
      if (best->result.is_object()) {
        if (best->result.contains("tasks")) s["tasks"] = best->result["tasks"];
        if (best->result.contains("trainable_params")) {
          s["trainable_params"] = best->result["trainable_params"];
        }
      }
      if (phase == kStep2) s["removed"] = best->params.value(kRemove, std::string(kNotRemove));
    }
    return s;
  };
  summary["step1"] = step_summary(kStep1, config_.n1);
  summary["step2"] = step_summary(kStep2, config_.n2);
  for (const TrialView& t : history) {
    if (t.phase != kFinal) continue;
    Json f = Json::object();
    f["trial"] = t.number;
    f["state"] = storage::TrialStateName(t.state);
    f["peft"] = t.params.value("peft", Json::object());
    f["combination"] = CombinationOf(t);
    if (t.value) f["test_value"] = *t.value;
    if (t.result.is_object()) {
      if (t.result.contains("tasks")) f["test_tasks"] = t.result["tasks"];
      if (t.result.contains("trainable_params")) f["trainable_params"] = t.result["trainable_params"];
    }
    summary["final"] = std::move(f);
  }
  return summary;
}

}  // namespace peftsearch::controller
