// Running a short external command (sbatch, squeue, scancel) and capturing its
// output. Behind a std::function so that executors are tested without Slurm.
//
// Thread safety: RunCommand may be called from any thread.
#ifndef PEFTSEARCH_CONTROLLER_EXECUTOR_COMMAND_H_
#define PEFTSEARCH_CONTROLLER_EXECUTOR_COMMAND_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace peftsearch::controller::executor {

// argv[0] is looked up on PATH; `env` is added to (and overrides) this
// process's environment for the child. Returns stdout and stderr together.
// NOT_FOUND when the program cannot be run, UNAVAILABLE with its output when it
// exits non-zero (Slurm's commands fail that way when slurmctld is away).
using CommandRunner = std::function<absl::StatusOr<std::string>(
    const std::vector<std::string>& argv, const std::map<std::string, std::string>& env)>;

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv,
                                       const std::map<std::string, std::string>& env);

}  // namespace peftsearch::controller::executor

#endif  // PEFTSEARCH_CONTROLLER_EXECUTOR_COMMAND_H_
