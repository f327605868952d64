#include "worker/daemon/objective.h"

#include <cctype>

#include "absl/status/status.h"

namespace peftsearch::daemon {
namespace {

using nlohmann::json;

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

std::string ParamText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  // dump() prints integers exactly and floats in shortest round-trip form.
  return v.dump();
}

absl::StatusOr<int> NonNegativeInt(const json& objective, const char* field) {
  auto it = objective.find(field);
  if (it == objective.end() || it->is_null()) return 0;
  if (!it->is_number() || it->get<double>() < 0) {
    return absl::InvalidArgumentError(std::string("objective.") + field +
                                      " must be a non-negative number, got " + it->dump());
  }
  return static_cast<int>(it->get<double>());
}

absl::StatusOr<ChildCommand> BuiltinCommand(const json& objective, const json& params,
                                            const ObjectiveOptions& options) {
  auto fn = objective.find("function");
  if (fn == objective.end() || !fn->is_string()) {
    return absl::InvalidArgumentError("objective.function must be a string naming a builtin");
  }
  absl::StatusOr<int> sleep_ms = NonNegativeInt(objective, "sleep_ms");
  if (!sleep_ms.ok()) return sleep_ms.status();
  absl::StatusOr<int> steps = NonNegativeInt(objective, "steps");
  if (!steps.ok()) return steps.status();
  ChildCommand cmd;
  cmd.argv = {options.self_exe, "eval-builtin", "--function", fn->get<std::string>(),
              "--params",       params.dump(),  "--sleep-ms", std::to_string(*sleep_ms),
              "--steps",        std::to_string(*steps)};
  auto fail_if = objective.find("fail_if");
  if (fail_if != objective.end() && !fail_if->is_null()) {
    cmd.argv.push_back("--fail-if");
    cmd.argv.push_back(fail_if->dump());
  }
  return cmd;
}

absl::StatusOr<ChildCommand> CommandCommand(const json& objective, const json& params) {
  auto argv = objective.find("argv");
  if (argv == objective.end() || !argv->is_array() || argv->empty()) {
    return absl::InvalidArgumentError("objective.argv must be a non-empty array of strings");
  }
  ChildCommand cmd;
  for (const json& arg : *argv) {
    if (!arg.is_string()) {
      return absl::InvalidArgumentError("objective.argv must hold only strings, got " +
                                        arg.dump());
    }
    absl::StatusOr<std::string> s = SubstitutePlaceholders(arg.get<std::string>(), params);
    if (!s.ok()) return s.status();
    cmd.argv.push_back(*std::move(s));
  }
  auto env = objective.find("env");
  if (env != objective.end() && !env->is_null()) {
    if (!env->is_object()) {
      return absl::InvalidArgumentError("objective.env must be an object of strings, got " +
                                        env->dump());
    }
    for (auto it = env->begin(); it != env->end(); ++it) {
      if (it.key().empty() || it.key().find('=') != std::string::npos) {
        return absl::InvalidArgumentError("objective.env has a bad variable name '" + it.key() +
                                          "'");
      }
      absl::StatusOr<std::string> value = SubstitutePlaceholders(ParamText(it.value()), params);
      if (!value.ok()) return value.status();
      cmd.env.push_back(it.key() + "=" + *value);
    }
  }
  return cmd;
}

}  // namespace

std::vector<std::string> SupportedObjectiveTypes(const ObjectiveOptions& options) {
  std::vector<std::string> types = {"builtin", "command"};
  if (!options.trainer.empty()) types.push_back("peft_vim");
  return types;
}

absl::StatusOr<std::string> SubstitutePlaceholders(const std::string& arg, const json& params) {
  std::string out;
  size_t i = 0;
  while (i < arg.size()) {
    size_t close = std::string::npos;
    if (arg[i] == '{' && i + 1 < arg.size() && IsIdentStart(arg[i + 1])) {
      size_t j = i + 1;
      while (j < arg.size() && IsIdentChar(arg[j])) ++j;
      if (j < arg.size() && arg[j] == '}') close = j;
    }
    if (close == std::string::npos) {
      out += arg[i++];
      continue;
    }
    std::string name = arg.substr(i + 1, close - i - 1);
    auto it = params.find(name);
    if (it == params.end()) {
      return absl::InvalidArgumentError("unknown placeholder {" + name + "} in argument '" + arg +
                                        "': the trial has no parameter '" + name + "'");
    }
    out += ParamText(*it);
    i = close + 1;
  }
  return out;
}

absl::StatusOr<ChildCommand> BuildChildCommand(const std::string& objective_json,
                                               const std::string& params_json,
                                               const std::string& trial_json_path,
                                               const ObjectiveOptions& options) {
  json objective = json::parse(objective_json, nullptr, /*allow_exceptions=*/false);
  if (!objective.is_object()) {
    return absl::InvalidArgumentError("objective is not a JSON object: " + objective_json);
  }
  json params = params_json.empty() ? json::object()
                                    : json::parse(params_json, nullptr, false);
  if (!params.is_object()) {
    return absl::InvalidArgumentError("params are not a JSON object: " + params_json);
  }
  auto type_it = objective.find("type");
  if (type_it == objective.end() || !type_it->is_string()) {
    return absl::InvalidArgumentError("objective.type must be a string");
  }
  std::string type = type_it->get<std::string>();
  absl::StatusOr<ChildCommand> cmd;
  if (type == "builtin") {
    cmd = BuiltinCommand(objective, params, options);
  } else if (type == "command") {
    cmd = CommandCommand(objective, params);
  } else if (type == "peft_vim" && !options.trainer.empty()) {
    cmd = ChildCommand{};
    cmd->argv = {options.trainer, "--trial", trial_json_path};
  } else if (type == "peft_vim") {
    return absl::UnimplementedError(
        "unsupported objective type 'peft_vim' on this worker: start peftsearch-worker with "
        "--trainer PATH to run PEFT trials");
  } else {
    std::string known;
    for (const std::string& t : SupportedObjectiveTypes(options)) known += " " + t;
    return absl::UnimplementedError("unsupported objective type '" + type +
                                    "' on this worker (supported:" + known + ")");
  }
  if (!cmd.ok()) return cmd.status();
  absl::StatusOr<int> timeout_s = NonNegativeInt(objective, "timeout_s");
  if (!timeout_s.ok()) return timeout_s.status();
  cmd->type = type;
  cmd->timeout_s = *timeout_s;
  return cmd;
}

}  // namespace peftsearch::daemon
