// Runs one trial from start to end: makes its directory
// <workdir>/<study>/trial-<number>-a<attempt>/ with trial.json, stdout and
// stderr, builds the child command (objective.h), runs the child
// (child_process.h), forwards progress lines to a ProgressSink and turns the
// child's end into an outcome the daemon reports. It knows no RPC: the sink
// and the stop check are the daemon's.
//
// Thread safety: RunTrial may run on several threads at once with distinct
// trials; the sink is called on the calling thread only.
#ifndef PEFTSEARCH_WORKER_DAEMON_TRIAL_RUNNER_H_
#define PEFTSEARCH_WORKER_DAEMON_TRIAL_RUNNER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "worker/daemon/objective.h"

namespace peftsearch::daemon {

// The plain-data view of a TrialAssignment.
struct TrialSpec {
  int64_t study_id = 0;
  std::string study_name;
  int64_t number = 0;
  int32_t attempt = 0;
  int32_t phase = 0;
  std::string params_json = "{}";
  std::string objective_json;
};

// Receives progress; the reply tells the runner whether to go on.
class ProgressSink {
 public:
  enum class Action { kContinue, kStop };
  virtual ~ProgressSink() = default;
  // `why` is set when returning kStop (e.g. "pruned", "cancelled").
  virtual Action Report(int64_t step, double value, std::string* why) = 0;
};

struct TrialRunnerOptions {
  ObjectiveOptions objective;
  std::string workdir;                            // REQUIRES: non-empty
  std::chrono::milliseconds kill_grace{5000};     // SIGTERM .. SIGKILL
  size_t stderr_tail_bytes = 2000;                // how much stderr a failure carries
};

struct TrialOutcome {
  enum class Kind {
    kComplete,   // report CompleteTrial(value, result_json)
    kFailed,     // report FailTrial(message)
    kAbandoned,  // stopped on request (prune, cancel, lost lease, shutdown): report nothing
  };
  Kind kind = Kind::kFailed;
  double value = 0;
  std::string result_json;  // the result line as printed
  std::string message;      // failure message, or why the trial was abandoned
  std::string trial_dir;
  std::chrono::milliseconds elapsed{0};
  // kFailed because a signal we did not send killed the child (0 otherwise):
  // e.g. Slurm's scancel, which signals every process of the job.
  int term_signal = 0;
};

// Returns the trial's directory (study names are made path-safe).
std::string TrialDirectory(const std::string& workdir, const TrialSpec& trial);

// Runs the trial; `should_stop` returns a non-empty reason to abandon it (it
// is polled while the child runs). Never throws; every problem becomes a
// kFailed outcome with a message meant for the user.
TrialOutcome RunTrial(const TrialRunnerOptions& options, const TrialSpec& trial,
                      ProgressSink* sink, const std::function<std::string()>& should_stop);

}  // namespace peftsearch::daemon

#endif  // PEFTSEARCH_WORKER_DAEMON_TRIAL_RUNNER_H_
