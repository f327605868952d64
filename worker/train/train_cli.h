// The body of `peftsearch-train`: loads the trial, runs it, prints JSON lines.
// Every failure, exceptions included, ends as one {"error": "..."} line on
// stdout (the last line), the message on stderr, and a non-zero exit code,
// so the worker daemon marks the trial FAILED with the message.
//
// Thread safety: call from main() only (uses the global LibTorch state).
#ifndef PEFTSEARCH_WORKER_TRAIN_TRAIN_CLI_H_
#define PEFTSEARCH_WORKER_TRAIN_TRAIN_CLI_H_

#include <ostream>
#include <string>

#include "worker/train/task_peft.h"

namespace peftsearch::train {

struct CliOptions {
  std::string trial_path;  // REQUIRED
  // Where <task>.safetensors and result.json go; created if missing.
  // "" = the directory of the trial file.
  std::string output_dir;
  // Overrides of the trial's `device` ("cpu" | "cuda") and
  // `recipe.precision` ("fp32" | "bf16", bf16 autocast on CUDA only);
  // "" = as the trial says. `--device cuda` in a build without CUDA fails
  // with FAILED_PRECONDITION naming the flag. parallel_tasks keeps the value
  // the trial's own device resolved (trial_spec.h).
  std::string device;
  std::string amp;
};

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;    // the trial ran and failed (NaN loss, I/O)
inline constexpr int kExitBadTrial = 2;  // bad spec, missing data or weights, unknown PEFT

// Runs the trial; JSON lines go to `out`, messages to `err`. Returns the exit code.
int RunTrainCli(const CliOptions& options, const PeftProvider& peft, std::ostream& out,
                std::ostream& err);

}  // namespace peftsearch::train

#endif  // PEFTSEARCH_WORKER_TRAIN_TRAIN_CLI_H_
