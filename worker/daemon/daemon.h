// The worker daemon: registers with the controller, heartbeats on its own
// thread, and runs `slots` trial loops (acquire by long poll, run the child,
// forward progress, deliver the result). When the controller is away every
// RPC is retried with capped, jittered backoff; results wait in memory (their
// leases keep being heartbeated) and are delivered once it is back; a
// FAILED_PRECONDITION reply means the lease is stale and the result is
// dropped. After an outage the daemon re-registers under the same worker id,
// since the controller may have restarted.
//
// Shutdown(): no new acquires (long polls in flight are cancelled); running children may finish within
// shutdown_grace, after which they are killed (SIGTERM, then SIGKILL after
// kill_grace) and left for the controller's lease expiry to retry. A second
// Shutdown() ends the grace at once.
//
// Thread safety: Shutdown() may be called from any thread, any time;
// Run() once.
#ifndef PEFTSEARCH_WORKER_DAEMON_DAEMON_H_
#define PEFTSEARCH_WORKER_DAEMON_DAEMON_H_

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/daemon/backoff.h"
#include "worker/daemon/lease_registry.h"
#include "worker/daemon/trial_runner.h"
#include "worker/daemon/worker_client.h"

namespace peftsearch::daemon {

struct DaemonOptions {
  std::string controller;  // host:port. REQUIRES: non-empty
  int slots = 1;           // trials run at once. REQUIRES: >= 1
  std::string workdir;     // created if missing. REQUIRES: non-empty
  std::string name;        // shown by `peftsearch workers`; default: the hostname
  std::string trainer;     // --trainer; empty: peft_vim trials are refused
  std::string self_exe;    // the worker binary, re-executed for builtin objectives
  std::chrono::milliseconds acquire_wait{5000};       // long-poll wait per AcquireTrial
  std::chrono::milliseconds kill_grace{5000};         // SIGTERM .. SIGKILL for a child
  std::chrono::milliseconds shutdown_grace{30000};    // children's time to finish on SIGTERM
  std::chrono::milliseconds default_heartbeat{2000};  // if the controller names none
  // TLS and bearer token (--tls-ca, --tls-cert, --tls-key, --token); PEM
  // files are read by Create.
  ChannelSecurity security;
  // For every retried RPC. The cap is short because a restarted controller
  // should see its workers again within seconds; jitter spreads the load.
  BackoffOptions backoff = {std::chrono::milliseconds(200), std::chrono::milliseconds(2000), 2.0,
                            0.2};
};

class Daemon {
 public:
  // Validates options and creates the workdir; INVALID_ARGUMENT names a bad
  // option, INTERNAL an unusable workdir. Connects lazily.
  static absl::StatusOr<std::unique_ptr<Daemon>> Create(DaemonOptions options);

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  // Registers, then runs until Shutdown() and every slot has finished. OK on
  // a clean shutdown; the controller's error if it refuses registration for
  // a reason retrying cannot fix (e.g. PERMISSION_DENIED).
  absl::Status Run();

  void Shutdown();

  // The id the controller gave this worker ("" before registration).
  std::string worker_id() const;

 private:
  class GrpcProgressSink;
  using Clock = std::chrono::steady_clock;

  explicit Daemon(DaemonOptions options);

  // Registers (again, if `reregister`) under the current worker id.
  absl::Status Register(bool reregister);
  void HeartbeatLoop();
  void SlotLoop(int slot);
  void RunAssignment(const v1::TrialAssignment& assignment, int slot);
  void Deliver(const v1::TrialAssignment& assignment, const TrialOutcome& outcome);
  // True if the child died of SIGTERM/SIGKILL/SIGINT that came with this
  // daemon's own shutdown (waits up to 1 s for the daemon's signal).
  bool KilledWithTheWorker(const TrialOutcome& outcome) const;
  // Why a running trial must stop now ("" = it may go on).
  std::string StopReason(const std::string& lease_token) const;

  // Sleeps up to `d`, ending early when Shutdown() is called or the
  // controller comes back; returns true if stopping.
  bool SleepUnlessStopping(std::chrono::milliseconds d);
  // Sleeps up to `d`, ending early when the controller comes back, and never
  // past the shutdown deadline; returns false if that deadline has passed.
  bool SleepWithinGrace(std::chrono::milliseconds d);
  // Any RPC saw the controller away: it may come back as a new process, so
  // the heartbeat thread registers again (same id) before its next beat.
  void NoteControllerAway();
  // Wakes every retry loop: the heartbeat got through after failures, so
  // pending results need not wait out their backoff.
  void NoteControllerBack();
  bool stopping() const;
  bool past_shutdown_deadline() const;

  const DaemonOptions options_;
  const TrialRunnerOptions runner_options_;
  std::unique_ptr<WorkerClient> client_;
  LeaseRegistry leases_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string worker_id_;            // guarded by mu_
  int heartbeat_interval_ms_ = 0;    // guarded by mu_
  bool need_register_ = false;       // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  Clock::time_point shutdown_deadline_;  // guarded by mu_; valid once stopping_
  bool slots_done_ = false;          // guarded by mu_
  uint64_t reachable_epoch_ = 0;     // guarded by mu_; +1 per recovery
  // Long polls in flight, cancelled by Shutdown() so that an idle worker
  // stops at once rather than after acquire_wait.
  std::set<grpc::ClientContext*> acquiring_;  // guarded by mu_
};

}  // namespace peftsearch::daemon

#endif  // PEFTSEARCH_WORKER_DAEMON_DAEMON_H_
