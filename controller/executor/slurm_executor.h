// SlurmExecutor: keeps each running study's parallelism filled with worker
// daemons that run as Slurm jobs. Every poll it reads the studies' open trial
// counts from the engine and the live jobs from `squeue`, submits worker jobs
// with `sbatch` until a study has min(parallelism, waiting + running) of them,
// and cancels a study's jobs with `scancel` once it is complete or cancelled.
// Studies with an external (ask/tell) objective get no jobs.
//
// A job that disappears (it ended, failed, or someone ran scancel) is simply
// replaced on the next poll; the trial it was running comes back through the
// lease sweep (attempt + 1), so a lost job costs one retry, not the trial.
// Jobs are named "<job_name_prefix>-<study id>", which is how a restarted
// controller finds the jobs it submitted before.
//
// Jobs get PEFTSEARCH_CONTROLLER (and PEFTSEARCH_TOKEN when `worker_token` is
// set) through sbatch's environment export, never on a command line.
//
// Thread safety: Start/Stop from one thread; PollOnce is serialised inside.
#ifndef PEFTSEARCH_CONTROLLER_EXECUTOR_SLURM_EXECUTOR_H_
#define PEFTSEARCH_CONTROLLER_EXECUTOR_SLURM_EXECUTOR_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "controller/executor/command.h"
#include "controller/study_engine.h"

namespace peftsearch::controller::executor {

struct SlurmExecutorOptions {
  // The batch script each worker job runs (deploy/slurm/worker.sbatch).
  // REQUIRES: non-empty.
  std::string script;
  // Extra sbatch arguments, e.g. {"--partition=gpu", "--time=04:00:00"}.
  std::vector<std::string> sbatch_args;
  // Exported to jobs as PEFTSEARCH_CONTROLLER. REQUIRES: non-empty.
  std::string controller_address;
  // Exported to jobs as PEFTSEARCH_TOKEN when not empty.
  std::string worker_token;
  std::string job_name_prefix = "peftsearch";
  int64_t poll_ms = 2000;
  // Most jobs submitted per study per poll, so that a misconfiguration does
  // not flood the queue.
  int max_submit_per_poll = 16;
};

class SlurmExecutor {
 public:
  // `engine` must outlive this object.
  SlurmExecutor(StudyEngine* engine, SlurmExecutorOptions options,
                CommandRunner runner = RunCommand);
  ~SlurmExecutor();
  SlurmExecutor(const SlurmExecutor&) = delete;
  SlurmExecutor& operator=(const SlurmExecutor&) = delete;

  // Polls every poll_ms on a thread until Stop(). Jobs keep running after
  // Stop: a restarted controller takes them back.
  void Start();
  void Stop();

  // One round: reconcile jobs with studies. UNAVAILABLE when squeue fails
  // (nothing is submitted then: live jobs are unknown).
  absl::Status PollOnce();

  // Live job ids per study id, as of the last poll.
  std::map<int64_t, std::set<std::string>> jobs() const;

 private:
  absl::StatusOr<std::map<int64_t, std::set<std::string>>> LiveJobs();
  void Loop();

  StudyEngine* engine_;
  const SlurmExecutorOptions options_;
  CommandRunner runner_;

  std::mutex poll_mu_;  // one PollOnce at a time
  mutable std::mutex mu_;
  std::map<int64_t, std::set<std::string>> jobs_;  // guarded by mu_
  bool stopping_ = false;                          // guarded by mu_
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace peftsearch::controller::executor

#endif  // PEFTSEARCH_CONTROLLER_EXECUTOR_SLURM_EXECUTOR_H_
