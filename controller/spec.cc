#include "controller/spec.h"

#include <cmath>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"

namespace peftsearch::controller {
namespace {

absl::Status Bad(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

std::string Show(const Json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

bool IsIntegral(double v) { return std::isfinite(v) && std::floor(v) == v; }

// Reads optional member `key` of `obj` into `out` with a type check.
absl::Status ReadNumber(const Json& obj, const std::string& path, const char* key, double* out,
                        bool required) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    return required ? Bad(absl::StrCat(path, ".", key), "is required") : absl::OkStatus();
  }
  if (!it->is_number()) {
    return Bad(absl::StrCat(path, ".", key), absl::StrCat("must be a number, got ", Show(*it)));
  }
  *out = it->get<double>();
  if (!std::isfinite(*out)) {
    return Bad(absl::StrCat(path, ".", key), "must be finite");
  }
  return absl::OkStatus();
}

absl::Status ReadInt(const Json& obj, const std::string& path, const char* key, int64_t* out,
                     int64_t min, int64_t max) {
  auto it = obj.find(key);
  if (it == obj.end()) return absl::OkStatus();
  const std::string field = path.empty() ? key : absl::StrCat(path, ".", key);
  if (!it->is_number() || !IsIntegral(it->get<double>())) {
    return Bad(field, absl::StrCat("must be an integer, got ", Show(*it)));
  }
  const double v = it->get<double>();
  if (v < static_cast<double>(min) || v > static_cast<double>(max)) {
    return Bad(field, absl::StrCat("must be in [", min, ", ", max, "], got ", Show(*it)));
  }
  *out = static_cast<int64_t>(v);
  return absl::OkStatus();
}

absl::Status ReadInt32(const Json& obj, const std::string& path, const char* key, int* out,
                       int min, int max) {
  int64_t v = *out;
  absl::Status s = ReadInt(obj, path, key, &v, min, max);
  *out = static_cast<int>(v);
  return s;
}

absl::Status ReadBool(const Json& obj, const std::string& path, const char* key, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return absl::OkStatus();
  if (!it->is_boolean()) {
    return Bad(absl::StrCat(path, ".", key), absl::StrCat("must be true or false, got ", Show(*it)));
  }
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::Status CheckKnownKeys(const Json& obj, const std::string& path,
                            const std::set<std::string>& known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (known.count(it.key()) == 0) {
      std::string list;
      for (const auto& k : known) absl::StrAppend(&list, list.empty() ? "" : ", ", k);
      return Bad(path.empty() ? it.key() : absl::StrCat(path, ".", it.key()),
                 absl::StrCat("unknown field (known: ", list, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParamDef> ParseParamDef(const std::string& name, const Json& def,
                                       const std::string& path) {
  if (!def.is_object()) return Bad(path, absl::StrCat("must be an object, got ", Show(def)));
  if (absl::Status s = CheckKnownKeys(def, path, {"type", "low", "high", "log", "step", "choices",
                                                  "condition", "name"});
      !s.ok()) {
    return s;
  }
  ParamDef p;
  p.name = name;
  auto type = def.find("type");
  if (type == def.end()) return Bad(path + ".type", "is required (float, int or categorical)");
  if (!type->is_string()) return Bad(path + ".type", absl::StrCat("must be a string, got ", Show(*type)));
  const std::string t = type->get<std::string>();
  if (t == "float") {
    p.type = ParamDef::Type::kFloat;
  } else if (t == "int") {
    p.type = ParamDef::Type::kInt;
  } else if (t == "categorical") {
    p.type = ParamDef::Type::kCategorical;
  } else {
    return Bad(path + ".type",
               absl::StrCat("must be float, int or categorical, got \"", t, "\""));
  }
  if (p.type == ParamDef::Type::kCategorical) {
    auto choices = def.find("choices");
    if (choices == def.end()) return Bad(path + ".choices", "is required for a categorical");
    if (!choices->is_array() || choices->empty()) {
      return Bad(path + ".choices", absl::StrCat("must be a non-empty array, got ", Show(*choices)));
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < choices->size(); ++i) {
      const Json& c = (*choices)[i];
      if (!c.is_primitive()) {
        return Bad(absl::StrCat(path, ".choices[", i, "]"),
                   absl::StrCat("must be a string, number, boolean or null, got ", Show(c)));
      }
      if (!seen.insert(c.dump()).second) {
        return Bad(absl::StrCat(path, ".choices[", i, "]"),
                   absl::StrCat("duplicate choice ", Show(c)));
      }
      p.choices.push_back(c);
    }
    for (const char* k : {"low", "high", "log", "step"}) {
      if (def.contains(k)) return Bad(absl::StrCat(path, ".", k), "is not allowed for a categorical");
    }
  } else {
    if (def.contains("choices")) return Bad(path + ".choices", "is only for categoricals");
    if (absl::Status s = ReadNumber(def, path, "low", &p.low, true); !s.ok()) return s;
    if (absl::Status s = ReadNumber(def, path, "high", &p.high, true); !s.ok()) return s;
    if (absl::Status s = ReadBool(def, path, "log", &p.log); !s.ok()) return s;
    if (absl::Status s = ReadNumber(def, path, "step", &p.step, false); !s.ok()) return s;
    if (p.low > p.high) {
      return Bad(path + ".low", absl::StrCat("must be <= high (", p.high, "), got ", p.low));
    }
    if (p.log && p.low <= 0) {
      return Bad(path + ".low", absl::StrCat("must be > 0 when log is true, got ", p.low));
    }
    if (p.step < 0) return Bad(path + ".step", absl::StrCat("must be >= 0, got ", p.step));
    if (p.log && p.step != 0 && p.type == ParamDef::Type::kFloat) {
      return Bad(path + ".step", "cannot be combined with log for a float");
    }
    if (p.type == ParamDef::Type::kInt) {
      if (!IsIntegral(p.low)) return Bad(path + ".low", absl::StrCat("must be an integer, got ", p.low));
      if (!IsIntegral(p.high)) return Bad(path + ".high", absl::StrCat("must be an integer, got ", p.high));
      if (p.step == 0) p.step = 1;
      if (!IsIntegral(p.step)) return Bad(path + ".step", absl::StrCat("must be an integer, got ", p.step));
      if (p.log && p.step != 1) return Bad(path + ".step", "must be 1 when log is true");
    }
  }
  if (auto cond = def.find("condition"); cond != def.end()) {
    const std::string cpath = path + ".condition";
    if (!cond->is_object()) return Bad(cpath, absl::StrCat("must be an object, got ", Show(*cond)));
    if (absl::Status s = CheckKnownKeys(*cond, cpath, {"param", "values"}); !s.ok()) return s;
    auto parent = cond->find("param");
    if (parent == cond->end() || !parent->is_string()) {
      return Bad(cpath + ".param", "must name another parameter");
    }
    auto values = cond->find("values");
    if (values == cond->end() || !values->is_array() || values->empty()) {
      return Bad(cpath + ".values", "must be a non-empty array of the parent's values");
    }
    ParamCondition c;
    c.parent = parent->get<std::string>();
    for (const Json& v : *values) c.values.push_back(v);
    p.condition = std::move(c);
  }
  return p;
}

namespace {

absl::StatusOr<ParamDef> ParseParam(const std::string& name, const Json& def) {
  return ParseParamDef(name, def, absl::StrCat("space.", name));
}

absl::Status OrderAndCheckConditions(std::vector<ParamDef>* params) {
  // Parents must precede children for the samplers; accept any order in the
  // spec and sort here, rejecting unknown parents and cycles.
  std::map<std::string, const ParamDef*> by_name;
  for (const ParamDef& p : *params) by_name[p.name] = &p;
  for (const ParamDef& p : *params) {
    if (!p.condition) continue;
    const std::string cpath = absl::StrCat("space.", p.name, ".condition");
    auto parent = by_name.find(p.condition->parent);
    if (parent == by_name.end()) {
      return Bad(cpath + ".param", absl::StrCat("unknown parameter \"", p.condition->parent, "\""));
    }
    if (parent->second->name == p.name) return Bad(cpath + ".param", "a parameter cannot depend on itself");
    for (size_t i = 0; i < p.condition->values.size(); ++i) {
      const Json& v = p.condition->values[i];
      const ParamDef& par = *parent->second;
      bool ok = false;
      if (par.type == ParamDef::Type::kCategorical) {
        for (const Json& c : par.choices) ok = ok || c == v;
      } else {
        ok = v.is_number() && v.get<double>() >= par.low && v.get<double>() <= par.high;
      }
      if (!ok) {
        return Bad(absl::StrCat(cpath, ".values[", i, "]"),
                   absl::StrCat(Show(v), " is not a value of \"", par.name, "\""));
      }
    }
  }
  std::vector<ParamDef> ordered;
  std::set<std::string> placed;
  while (ordered.size() < params->size()) {
    bool progressed = false;
    for (const ParamDef& p : *params) {
      if (placed.count(p.name)) continue;
      if (p.condition && !placed.count(p.condition->parent)) continue;
      ordered.push_back(p);
      placed.insert(p.name);
      progressed = true;
      break;  // rescan so children follow their parent closely
    }
    if (!progressed) {
      for (const ParamDef& p : *params) {
        if (!placed.count(p.name)) {
          return Bad(absl::StrCat("space.", p.name, ".condition"), "conditions form a cycle");
        }
      }
    }
  }
  *params = std::move(ordered);
  return absl::OkStatus();
}

absl::Status ParseSampler(const Json& spec, SamplerSpec* out) {
  auto it = spec.find("sampler");
  if (it == spec.end()) return absl::OkStatus();
  if (!it->is_object()) return Bad("sampler", absl::StrCat("must be an object, got ", Show(*it)));
  const Json& s = *it;
  if (absl::Status st = CheckKnownKeys(
          s, "sampler",
          {"type", "seed", "n_startup_trials", "n_ei_candidates", "multivariate", "group",
           "constant_liar", "consider_endpoints", "consider_magic_clip", "consider_prior",
           "prior_weight", "optuna3_density", "optuna3_log_int", "prior_as_neighbor",
           "multivariate_neighbor_bandwidth"});
      !st.ok()) {
    return st;
  }
  if (auto t = s.find("type"); t != s.end()) {
    if (!t->is_string()) return Bad("sampler.type", "must be a string");
    out->type = t->get<std::string>();
    if (out->type != "tpe" && out->type != "random" && out->type != "grid") {
      return Bad("sampler.type", absl::StrCat("must be tpe, random or grid, got \"", out->type, "\""));
    }
  }
  int64_t seed = 0;
  if (absl::Status st = ReadInt(s, "sampler", "seed", &seed, 0, INT64_MAX); !st.ok()) return st;
  out->seed = static_cast<uint64_t>(seed);
  if (absl::Status st = ReadInt32(s, "sampler", "n_startup_trials", &out->n_startup_trials, 0, 1 << 20); !st.ok()) return st;
  if (absl::Status st = ReadInt32(s, "sampler", "n_ei_candidates", &out->n_ei_candidates, 1, 1 << 16); !st.ok()) return st;
  for (auto [key, field] : std::vector<std::pair<const char*, bool*>>{
           {"multivariate", &out->multivariate},
           {"group", &out->group},
           {"constant_liar", &out->constant_liar},
           {"consider_endpoints", &out->consider_endpoints},
           {"consider_magic_clip", &out->consider_magic_clip},
           {"consider_prior", &out->consider_prior},
           {"optuna3_density", &out->optuna3_density},
           {"optuna3_log_int", &out->optuna3_log_int},
           {"prior_as_neighbor", &out->prior_as_neighbor},
           {"multivariate_neighbor_bandwidth", &out->multivariate_neighbor_bandwidth}}) {
    if (absl::Status st = ReadBool(s, "sampler", key, field); !st.ok()) return st;
  }
  if (absl::Status st = ReadNumber(s, "sampler", "prior_weight", &out->prior_weight, false); !st.ok()) return st;
  if (out->prior_weight <= 0) return Bad("sampler.prior_weight", "must be > 0");
  if (out->group && !out->multivariate) return Bad("sampler.group", "requires multivariate: true");
  return absl::OkStatus();
}

absl::Status ParsePruner(const Json& spec, PrunerSpec* out) {
  auto it = spec.find("pruner");
  if (it == spec.end()) return absl::OkStatus();
  if (!it->is_object()) return Bad("pruner", absl::StrCat("must be an object, got ", Show(*it)));
  const Json& p = *it;
  if (absl::Status st = CheckKnownKeys(p, "pruner",
                                       {"type", "n_startup_trials", "n_warmup_steps",
                                        "interval_steps", "min_resource", "reduction_factor",
                                        "min_early_stopping_rate"});
      !st.ok()) {
    return st;
  }
  if (auto t = p.find("type"); t != p.end()) {
    if (!t->is_string()) return Bad("pruner.type", "must be a string");
    out->type = t->get<std::string>();
    if (out->type != "none" && out->type != "median" && out->type != "asha") {
      return Bad("pruner.type", absl::StrCat("must be none, median or asha, got \"", out->type, "\""));
    }
  }
  if (absl::Status st = ReadInt32(p, "pruner", "n_startup_trials", &out->n_startup_trials, 0, 1 << 20); !st.ok()) return st;
  if (absl::Status st = ReadInt32(p, "pruner", "n_warmup_steps", &out->n_warmup_steps, 0, 1 << 30); !st.ok()) return st;
  if (absl::Status st = ReadInt32(p, "pruner", "interval_steps", &out->interval_steps, 1, 1 << 30); !st.ok()) return st;
  if (absl::Status st = ReadInt32(p, "pruner", "min_resource", &out->min_resource, 1, 1 << 30); !st.ok()) return st;
  if (absl::Status st = ReadInt32(p, "pruner", "reduction_factor", &out->reduction_factor, 2, 1 << 10); !st.ok()) return st;
  if (absl::Status st = ReadInt32(p, "pruner", "min_early_stopping_rate", &out->min_early_stopping_rate, 0, 64); !st.ok()) return st;
  return absl::OkStatus();
}

absl::Status ParseObjective(const Json& spec, const std::vector<ParamDef>& space, StudySpec* out) {
  auto it = spec.find("objective");
  if (it == spec.end()) return Bad("objective", "is required");
  if (!it->is_object()) return Bad("objective", absl::StrCat("must be an object, got ", Show(*it)));
  const Json& o = *it;
  auto type = o.find("type");
  if (type == o.end() || !type->is_string()) {
    return Bad("objective.type", "is required: builtin, command, external or peft_vim");
  }
  out->objective_type = type->get<std::string>();
  out->objective = o;
  std::set<std::string> names;
  for (const ParamDef& p : space) names.insert(p.name);
  if (out->objective_type == "builtin") {
    if (absl::Status s = CheckKnownKeys(o, "objective", {"type", "function", "sleep_ms", "steps", "fail_if",
                                                      "timeout_s"});
        !s.ok()) {
      return s;
    }
    auto fn = o.find("function");
    if (fn == o.end() || !fn->is_string()) return Bad("objective.function", "is required");
    const auto& known = BuiltinFunctionNames();
    if (std::find(known.begin(), known.end(), fn->get<std::string>()) == known.end()) {
      std::string list;
      for (const auto& k : known) absl::StrAppend(&list, list.empty() ? "" : ", ", k);
      return Bad("objective.function",
                 absl::StrCat("unknown builtin \"", fn->get<std::string>(), "\" (known: ", list, ")"));
    }
    int64_t unused = 0;
    if (absl::Status s = ReadInt(o, "objective", "sleep_ms", &unused, 0, 86'400'000); !s.ok()) return s;
    if (absl::Status s = ReadInt(o, "objective", "steps", &unused, 0, 1'000'000); !s.ok()) return s;
  } else if (out->objective_type == "command") {
    if (absl::Status s = CheckKnownKeys(o, "objective", {"type", "argv", "timeout_s", "env"}); !s.ok()) {
      return s;
    }
    auto argv = o.find("argv");
    if (argv == o.end() || !argv->is_array() || argv->empty()) {
      return Bad("objective.argv", "must be a non-empty array of strings");
    }
    static const std::regex kPlaceholder(R"(\{([A-Za-z_][A-Za-z0-9_.\-]*)\})");
    for (size_t i = 0; i < argv->size(); ++i) {
      const Json& a = (*argv)[i];
      if (!a.is_string()) {
        return Bad(absl::StrCat("objective.argv[", i, "]"), absl::StrCat("must be a string, got ", Show(a)));
      }
      const std::string arg = a.get<std::string>();
      for (std::sregex_iterator m(arg.begin(), arg.end(), kPlaceholder), end; m != end; ++m) {
        if (!names.count((*m)[1].str())) {
          return Bad(absl::StrCat("objective.argv[", i, "]"),
                     absl::StrCat("placeholder {", (*m)[1].str(), "} names no parameter of the space"));
        }
      }
    }
    int64_t unused = 0;
    if (absl::Status s = ReadInt(o, "objective", "timeout_s", &unused, 0, 30 * 86400); !s.ok()) return s;
  } else if (out->objective_type == "external" || out->objective_type == "peft_vim") {
    // external: evaluated by the client (ask/tell). peft_vim: the trainer reads
    // the whole block; its fields are checked by the worker's trainer.
  } else {
    return Bad("objective.type", absl::StrCat("must be builtin, command, external or peft_vim, got \"",
                                              out->objective_type, "\""));
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& BuiltinFunctionNames() {
  static const auto* const kNames = new std::vector<std::string>{
      "branin", "hartmann6", "rosenbrock", "sphere", "styblinski_tang", "quadratic"};
  return *kNames;
}

namespace {
absl::StatusOr<StudySpec> ParseParsedSpec(const Json& spec);
}  // namespace

absl::StatusOr<StudySpec> ParseStudySpec(const std::string& json_text) {
  Json spec;
  try {
    spec = Json::parse(json_text);
  } catch (const Json::exception& e) {
    // parse_error, and out_of_range for numbers beyond double (found by
    // tests/fuzz/spec_fuzz).
    return absl::InvalidArgumentError(absl::StrCat("spec is not valid JSON: ", e.what()));
  }
  // The validators check types before reading values; this is the backstop
  // that keeps a library exception from ever escaping a handler.
  try {
    return ParseParsedSpec(spec);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("spec: ", e.what()));
  }
}

namespace {
absl::StatusOr<StudySpec> ParseParsedSpec(const Json& spec) {
  if (!spec.is_object()) return Bad("spec", "must be a JSON object");
  if (absl::Status s = CheckKnownKeys(spec, "",
                                      {"name", "direction", "space", "sampler", "pruner", "objective",
                                       "strategy", "max_trials", "parallelism", "max_attempts",
                                       "lease_seconds", "description"});
      !s.ok()) {
    return s;
  }
  StudySpec out;
  auto name = spec.find("name");
  if (name == spec.end()) return Bad("name", "is required");
  if (!name->is_string()) return Bad("name", absl::StrCat("must be a string, got ", Show(*name)));
  out.name = name->get<std::string>();
  static const std::regex kName(R"([A-Za-z0-9][A-Za-z0-9_.\-]{0,127})");
  if (!std::regex_match(out.name, kName)) {
    return Bad("name", absl::StrCat("must be 1-128 characters of letters, digits, '_', '.', '-' "
                                    "starting with a letter or digit, got \"", out.name, "\""));
  }
  bool all_digits = std::all_of(out.name.begin(), out.name.end(), ::isdigit);
  if (all_digits) return Bad("name", "cannot be all digits (it would read as a study id)");

  if (auto d = spec.find("direction"); d != spec.end()) {
    if (!d->is_string() || (*d != "minimize" && *d != "maximize")) {
      return Bad("direction", absl::StrCat("must be \"minimize\" or \"maximize\", got ", Show(*d)));
    }
    out.maximize = *d == "maximize";
  }

  if (auto st = spec.find("strategy"); st != spec.end()) {
    if (!st->is_object()) return Bad("strategy", absl::StrCat("must be an object, got ", Show(*st)));
    auto t = st->find("type");
    if (t == st->end() || !t->is_string()) return Bad("strategy.type", "is required: single or hybrid_peft");
    out.strategy_type = t->get<std::string>();
    if (out.strategy_type != "single" && out.strategy_type != "hybrid_peft") {
      return Bad("strategy.type", absl::StrCat("must be single or hybrid_peft, got \"", out.strategy_type, "\""));
    }
    out.strategy = *st;
  } else {
    out.strategy = Json{{"type", "single"}};
  }

  auto space = spec.find("space");
  if (space == spec.end()) {
    if (out.strategy_type == "single") return Bad("space", "is required");
  } else if (space->is_object()) {
    for (auto it = space->begin(); it != space->end(); ++it) {
      auto p = ParseParam(it.key(), it.value());
      if (!p.ok()) return p.status();
      out.space.push_back(std::move(*p));
    }
  } else if (space->is_array()) {
    std::set<std::string> seen;
    for (size_t i = 0; i < space->size(); ++i) {
      const Json& def = (*space)[i];
      auto n = def.is_object() ? def.find("name") : def.end();
      if (!def.is_object() || n == def.end() || !n->is_string()) {
        return Bad(absl::StrCat("space[", i, "].name"), "is required when space is an array");
      }
      if (!seen.insert(n->get<std::string>()).second) {
        return Bad(absl::StrCat("space[", i, "].name"),
                   absl::StrCat("duplicate parameter \"", n->get<std::string>(), "\""));
      }
      auto p = ParseParam(n->get<std::string>(), def);
      if (!p.ok()) return p.status();
      out.space.push_back(std::move(*p));
    }
  } else {
    return Bad("space", absl::StrCat("must be an object or an array, got ", Show(*space)));
  }
  if (out.strategy_type == "single" && out.space.empty()) {
    return Bad("space", "must define at least one parameter");
  }
  for (const ParamDef& p : out.space) {
    static const std::regex kParamName(R"([A-Za-z_][A-Za-z0-9_.\-]{0,127})");
    if (!std::regex_match(p.name, kParamName)) {
      return Bad(absl::StrCat("space.", p.name), "parameter names are letters, digits, '_', '.', '-'");
    }
  }
  if (absl::Status s = OrderAndCheckConditions(&out.space); !s.ok()) return s;
  if (absl::Status s = ParseSampler(spec, &out.sampler); !s.ok()) return s;
  if (absl::Status s = ParsePruner(spec, &out.pruner); !s.ok()) return s;
  if (absl::Status s = ParseObjective(spec, out.space, &out); !s.ok()) return s;

  auto max_trials = spec.find("max_trials");
  if (max_trials == spec.end() && out.strategy_type == "single" && out.objective_type != "external") {
    return Bad("max_trials", "is required");
  }
  if (absl::Status s = ReadInt(spec, "", "max_trials", &out.max_trials, 1, 10'000'000); !s.ok()) return s;
  if (absl::Status s = ReadInt32(spec, "", "parallelism", &out.parallelism, 1, 100'000); !s.ok()) return s;
  if (absl::Status s = ReadInt32(spec, "", "max_attempts", &out.max_attempts, 1, 100); !s.ok()) return s;
  if (absl::Status s = ReadInt32(spec, "", "lease_seconds", &out.lease_seconds, 1, 7 * 86400); !s.ok()) return s;
  if (out.sampler.type == "grid") {
    for (const ParamDef& p : out.space) {
      if (p.type == ParamDef::Type::kFloat && p.step == 0 && p.low != p.high) {
        return Bad(absl::StrCat("space.", p.name, ".step"), "is required for a float under the grid sampler");
      }
    }
  }
  return out;
}
}  // namespace

}  // namespace peftsearch::controller
