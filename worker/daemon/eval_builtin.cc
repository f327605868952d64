#include "worker/daemon/eval_builtin.h"

#include <ostream>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace peftsearch::daemon {
namespace {

using nlohmann::json;

absl::StatusOr<ParamValues> NumericParams(const std::string& params_json) {
  json params = json::parse(params_json, nullptr, /*allow_exceptions=*/false);
  if (!params.is_object()) {
    return absl::InvalidArgumentError("--params must be a JSON object, got: " + params_json);
  }
  ParamValues values;
  for (auto it = params.begin(); it != params.end(); ++it) {
    if (it.value().is_number()) values[it.key()] = it.value().get<double>();
  }
  return values;
}

// A progress value must survive JSON (which has no NaN or infinity).
std::string NumberJson(double v) { return json(v).dump(); }

}  // namespace

absl::StatusOr<FailIf> EvaluateFailIf(const std::string& fail_if_json, const ParamValues& params) {
  FailIf result;
  if (fail_if_json.empty()) return result;
  json spec = json::parse(fail_if_json, nullptr, /*allow_exceptions=*/false);
  if (!spec.is_object()) {
    return absl::InvalidArgumentError("fail_if must be a JSON object, got: " + fail_if_json);
  }
  if (auto it = spec.find("after_step"); it != spec.end()) {
    if (!it->is_number_integer() || it->get<int>() < 0) {
      return absl::InvalidArgumentError("fail_if.after_step must be a non-negative integer");
    }
    result.after_step = it->get<int>();
  }
  if (auto it = spec.find("always"); it != spec.end()) {
    result.triggered = it->is_boolean() && it->get<bool>();
    result.reason = "fail_if: always";
    return result;
  }
  auto param = spec.find("param");
  if (param == spec.end() || !param->is_string()) {
    return absl::InvalidArgumentError("fail_if needs \"always\": true or \"param\": NAME");
  }
  std::string name = param->get<std::string>();
  auto value = params.find(name);
  if (value == params.end()) {
    return absl::InvalidArgumentError("fail_if names parameter '" + name +
                                      "', which the trial lacks");
  }
  static const char* kOps[] = {"gt", "ge", "lt", "le", "eq"};
  for (const char* op : kOps) {
    auto bound = spec.find(op);
    if (bound == spec.end()) continue;
    if (!bound->is_number()) {
      return absl::InvalidArgumentError(std::string("fail_if.") + op + " must be a number");
    }
    double x = value->second, b = bound->get<double>();
    std::string o = op;
    result.triggered = (o == "gt" && x > b) || (o == "ge" && x >= b) || (o == "lt" && x < b) ||
                       (o == "le" && x <= b) || (o == "eq" && x == b);
    result.reason = "fail_if: " + name + "=" + NumberJson(x) + " " + o + " " + NumberJson(b);
    return result;
  }
  return absl::InvalidArgumentError("fail_if needs one of gt, ge, lt, le, eq");
}

int RunEvalBuiltin(const EvalBuiltinOptions& options, std::ostream& out, std::ostream& err,
                   const std::function<void(int ms)>& sleep) {
  absl::StatusOr<ParamValues> params = NumericParams(options.params_json);
  if (!params.ok()) {
    err << "error: " << params.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<double> value = EvaluateBuiltin(options.function, *params);
  if (!value.ok()) {
    err << "error: " << value.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<FailIf> fail = EvaluateFailIf(options.fail_if_json, *params);
  if (!fail.ok()) {
    err << "error: " << fail.status().message() << "\n";
    return 2;
  }
  const int steps = options.steps;
  for (int k = 1; k <= steps; ++k) {
    if (fail->triggered && fail->after_step < k) break;
    sleep(options.sleep_ms / steps);
    double progress = *value + static_cast<double>(steps - k) / steps;
    out << "{\"step\": " << k << ", \"value\": " << NumberJson(progress) << "}" << std::endl;
  }
  if (fail->triggered) {
    err << "error: failing on purpose (" << fail->reason << ")\n";
    return 3;
  }
  if (steps == 0) sleep(options.sleep_ms);
  out << "{\"value\": " << NumberJson(*value) << "}" << std::endl;
  return 0;
}

}  // namespace peftsearch::daemon
