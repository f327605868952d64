// Turns a trial's objective block and params (both JSON text, as they arrive
// in TrialAssignment) into the command line of the child process that
// evaluates it. Objective types:
//   builtin   {"function": F, "sleep_ms": N, "steps": K, "fail_if": {...}}
//             -> <self_exe> eval-builtin --function F --params P --sleep-ms N --steps K
//                [--fail-if J]
//   command   {"argv": ["prog", "--lr", "{lr}"]}: {name} is replaced by param
//             `name` (strings as is, numbers in shortest round-trip form,
//             booleans true/false); an unknown name is an error naming it.
//             Only {identifier} is a placeholder, so JSON-looking arguments
//             such as {"a": 1} pass through unchanged.
//             "env": {"KEY": "value with {placeholders}"} adds environment
//             variables for the child.
//   peft_vim  only with a trainer: <trainer> --trial <trial.json>
// Every type may carry "timeout_s" (0 or absent = no limit).
//
// Thread safety: pure functions.
#ifndef PEFTSEARCH_WORKER_DAEMON_OBJECTIVE_H_
#define PEFTSEARCH_WORKER_DAEMON_OBJECTIVE_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace peftsearch::daemon {

struct ObjectiveOptions {
  // Absolute path of the worker binary, re-executed for builtin objectives.
  std::string self_exe;
  // The PEFT trainer (--trainer); empty means peft_vim is unsupported here.
  std::string trainer;
};

// Objective types this worker can run, as advertised to the controller.
std::vector<std::string> SupportedObjectiveTypes(const ObjectiveOptions& options);

struct ChildCommand {
  std::string type;               // the objective's "type"
  std::vector<std::string> argv;  // argv[0] is a path or a name looked up in PATH
  std::vector<std::string> env;   // "KEY=VALUE" for the child (command "env")
  int timeout_s = 0;              // 0 = no limit
};

// Returns the command for one trial. `trial_json_path` is where the caller
// writes trial.json (the trainer reads it). Errors (all mean: fail the trial
// with this message, nothing was started):
//   INVALID_ARGUMENT  malformed objective/params JSON, a bad field, or an
//                     unknown placeholder (named in the message);
//   UNIMPLEMENTED     an objective type this worker does not run.
absl::StatusOr<ChildCommand> BuildChildCommand(const std::string& objective_json,
                                               const std::string& params_json,
                                               const std::string& trial_json_path,
                                               const ObjectiveOptions& options);

// Replaces every {identifier} in `arg` by the param of that name.
// INVALID_ARGUMENT names an identifier that is not a param.
absl::StatusOr<std::string> SubstitutePlaceholders(const std::string& arg,
                                                   const nlohmann::json& params);

}  // namespace peftsearch::daemon

#endif  // PEFTSEARCH_WORKER_DAEMON_OBJECTIVE_H_
