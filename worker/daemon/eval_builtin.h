// The hidden `peftsearch-worker eval-builtin` subcommand: evaluates one
// builtin function in a child process, speaking the objective protocol of
// output_line.h. With steps K > 0 it prints K progress lines
//   {"step": k, "value": f + (K - k) / K}      k = 1..K
// sleeping sleep_ms / K before each, so that intermediate values converge to
// f and rank trials the same way f does (pruners can be exercised), then
//   {"value": f}
// fail_if (optional JSON) makes the evaluation fail on purpose, for tests:
//   {"always": true}                      always fail
//   {"param": NAME, "gt"|"ge"|"lt"|"le"|"eq": NUMBER}   fail when the param matches
//   "after_step": K                       (either form) fail after K progress lines
// A failure writes one line to stderr and returns exit code 3; a bad
// invocation (unknown function, missing param) exits with 2.
//
// Thread safety: RunEvalBuiltin only touches its arguments.
#ifndef PEFTSEARCH_WORKER_DAEMON_EVAL_BUILTIN_H_
#define PEFTSEARCH_WORKER_DAEMON_EVAL_BUILTIN_H_

#include <functional>
#include <iosfwd>
#include <string>

#include "absl/status/statusor.h"
#include "worker/daemon/builtin_functions.h"

namespace peftsearch::daemon {

struct EvalBuiltinOptions {
  std::string function;
  std::string params_json = "{}";  // name -> number; non-numeric params are skipped
  int sleep_ms = 0;
  int steps = 0;
  std::string fail_if_json;  // empty = never fail on purpose
};

// Returns whether fail_if applies to these params, before any step is
// printed (after_step aside). INVALID_ARGUMENT for a malformed fail_if.
struct FailIf {
  bool triggered = false;
  int after_step = 0;
  std::string reason;  // e.g. "fail_if: x=6 > 5"
};
absl::StatusOr<FailIf> EvaluateFailIf(const std::string& fail_if_json, const ParamValues& params);

// Runs the evaluation, writing protocol lines to `out` and errors to `err`.
// Returns the process exit code (0 ok, 2 bad invocation, 3 fail_if).
int RunEvalBuiltin(const EvalBuiltinOptions& options, std::ostream& out, std::ostream& err,
                   const std::function<void(int ms)>& sleep);

}  // namespace peftsearch::daemon

#endif  // PEFTSEARCH_WORKER_DAEMON_EVAL_BUILTIN_H_
