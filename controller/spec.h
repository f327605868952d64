// The study spec: the JSON a user submits, parsed and validated in one place.
// A spec that fails validation is rejected whole with INVALID_ARGUMENT whose
// message names the field by its JSON path (e.g. "space.lr.low") and the bad
// value, so nothing of a bad spec is ever stored.
#ifndef PEFTSEARCH_CONTROLLER_SPEC_H_
#define PEFTSEARCH_CONTROLLER_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace peftsearch::controller {

using Json = nlohmann::ordered_json;

struct ParamCondition {
  std::string parent;
  std::vector<Json> values;  // the parent's values (JSON scalars) that activate the param
};

struct ParamDef {
  enum class Type { kFloat, kInt, kCategorical };
  std::string name;
  Type type = Type::kFloat;
  double low = 0;
  double high = 0;
  bool log = false;
  double step = 0;            // 0 = continuous (float) / 1 (int)
  std::vector<Json> choices;  // categorical
  std::optional<ParamCondition> condition;
};

struct SamplerSpec {
  std::string type = "tpe";  // tpe | random | grid
  uint64_t seed = 0;
  int n_startup_trials = 10;
  int n_ei_candidates = 24;
  bool multivariate = false;
  bool group = false;
  bool constant_liar = false;
  bool consider_endpoints = false;
  bool consider_magic_clip = true;
  bool consider_prior = true;
  double prior_weight = 1.0;
  // Kernel details where Optuna 3.1 and 4.x differ; the defaults measured
  // better against Optuna 3.1 (docs/BENCHMARKS.md). All false = Optuna 4.9.
  bool optuna3_density = true;
  bool optuna3_log_int = true;
  bool prior_as_neighbor = true;
  bool multivariate_neighbor_bandwidth = false;
};

struct PrunerSpec {
  std::string type = "none";  // none | median | asha
  int n_startup_trials = 5;    // median
  int n_warmup_steps = 0;      // median
  int interval_steps = 1;      // median
  int min_resource = 1;        // asha
  int reduction_factor = 4;    // asha
  int min_early_stopping_rate = 0;  // asha
};

struct StudySpec {
  std::string name;
  bool maximize = false;
  std::vector<ParamDef> space;  // parents before children
  SamplerSpec sampler;
  PrunerSpec pruner;
  Json objective;               // validated; objective["type"] is set
  std::string objective_type;   // builtin | command | external | peft_vim
  Json strategy;                // {"type": "single"} unless given
  std::string strategy_type = "single";
  int64_t max_trials = 0;
  int parallelism = 1;
  int max_attempts = 3;
  int lease_seconds = 60;
};

// Parses and validates `json_text`. INVALID_ARGUMENT names the field.
absl::StatusOr<StudySpec> ParseStudySpec(const std::string& json_text);

// Parses one parameter definition ({"type": ..., "low": ...}); errors name
// `path` (e.g. "space.lr" or "strategy.step2.lora_p_x.r").
absl::StatusOr<ParamDef> ParseParamDef(const std::string& name, const Json& def,
                                       const std::string& path);

// Built-in objective functions the workers evaluate.
const std::vector<std::string>& BuiltinFunctionNames();

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_SPEC_H_
