// StudyEngine: the controller's logic, free of RPC. It owns the TrialStore,
// keeps each study's history in memory for its strategy, creates trials up to
// the study's parallelism, leases them to workers, expires lost leases, and
// answers queries. gRPC handlers map protos to these calls and back.
//
// Durability: every change is committed to the store before it is reflected in
// memory or acknowledged; memory is rebuilt from the store on Open, so the
// controller can be killed at any instant.
//
// Thread safety: all public methods may be called concurrently.
#ifndef PEFTSEARCH_CONTROLLER_STUDY_ENGINE_H_
#define PEFTSEARCH_CONTROLLER_STUDY_ENGINE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/handler_pool.h"
#include "controller/pruning.h"
#include "controller/spec.h"
#include "controller/strategy.h"
#include "storage/trial_store.h"

namespace peftsearch::controller {

struct EngineOptions {
  // How often expired leases are looked for.
  int64_t sweep_interval_ms = 500;
  // What workers are told to use; leases last the study's lease_seconds.
  int heartbeat_interval_ms = 2000;
  // A worker is listed as alive while its last heartbeat is this recent.
  int64_t worker_alive_ms = 15000;
  // After a restart, running trials keep their lease at least this long, so
  // workers that kept running while the controller was down can report.
  int64_t restart_grace_ms = 30000;
  // Finished studies kept in memory (least recently used first out); others
  // are read back from the store when asked for. Running studies always stay.
  // Each costs ~16 KiB (spec, record, a fresh strategy), so without a bound a
  // controller that runs study after study grows for ever.
  int max_finished_studies_in_memory = 32;
  // Clock, replaceable in tests. Milliseconds since the Unix epoch.
  std::function<int64_t()> now_ms;
};

struct TrialCountsView {
  int64_t waiting = 0, running = 0, complete = 0, pruned = 0, failed = 0;
  int64_t finished() const { return complete + pruned + failed; }
};

struct StudyView {
  storage::StudyRecord record;
  StudySpec spec;
  TrialCountsView counts;
  std::optional<double> best_value;
  int64_t best_trial_number = -1;
  int64_t max_trials = 0;  // the strategy's total, when it is known
};

struct TrialPage {
  std::vector<storage::TrialRecord> trials;
  std::string next_page_token;
  int64_t total_size = 0;
};

struct WorkerView {
  storage::WorkerRecord record;
  bool alive = false;
  int running_trials = 0;
};

struct Assignment {
  storage::TrialRecord trial;
  std::string study_name;
  std::string objective_json;
};

struct LeaseState {
  std::string lease_token;
  bool valid = false;
  bool cancel = false;
  int64_t deadline_ms = 0;
};

enum class ProgressAction { kContinue, kPrune, kCancel };

class StudyEngine {
 public:
  // Loads every study from `store`, extends running leases by the restart
  // grace, and tops up each running study's queue.
  static absl::StatusOr<std::unique_ptr<StudyEngine>> Open(
      std::unique_ptr<storage::TrialStore> store, EngineOptions options);
  ~StudyEngine();

  // Starts the lease sweeper thread. Stop() ends it and answers parked calls
  // (acquires with nullopt); later acquires are answered nullopt at once.
  void Start();
  void Stop();

  // ---------------------------------------------------------- StudyService
  absl::StatusOr<StudyView> CreateStudy(const std::string& spec_json);
  // `ref` is a study id or name.
  absl::StatusOr<StudyView> GetStudy(const std::string& ref);
  absl::StatusOr<std::vector<StudyView>> ListStudies();
  absl::StatusOr<TrialPage> ListTrials(const std::string& ref,
                                       std::optional<storage::TrialState> state, int page_size,
                                       const std::string& page_token, bool include_intermediate);
  absl::StatusOr<storage::TrialRecord> GetTrial(const std::string& ref, int64_t number);
  absl::StatusOr<std::vector<storage::TrialRecord>> BestTrials(const std::string& ref, int count);
  absl::StatusOr<StudyView> CancelStudy(const std::string& ref);
  absl::StatusOr<storage::TrialRecord> AskTrial(const std::string& ref);
  absl::StatusOr<storage::TrialRecord> TellTrial(const std::string& ref, int64_t number,
                                                 const storage::TrialOutcome& outcome);
  absl::StatusOr<std::vector<WorkerView>> ListWorkers();

  // Events of a study after `after_seq`; see WaitForChangeAsync for streaming.
  absl::StatusOr<std::vector<storage::EventRecord>> EventsAfter(int64_t study_id,
                                                                int64_t after_seq, int limit);
  // A counter that moves on every change.
  uint64_t ChangeVersion() const;
  // Waits, without blocking the caller, for ChangeVersion() to move past
  // `seen`: false (and `done` is not called) when it already has or the
  // engine is stopping;
  // otherwise `done` runs once, from the engine's waiter thread, when it
  // moves, after `timeout_ms`, on Stop or on CancelWaitForChange, and
  // `*handle` identifies the wait. No engine lock is held while it runs.
  bool WaitForChangeAsync(uint64_t seen, int64_t timeout_ms, std::function<void()> done,
                          uint64_t* handle);
  void CancelWaitForChange(uint64_t handle);
  // True once Stop() has begun.
  bool stopping() const { return stopping_.load(); }

  // --------------------------------------------------------- WorkerService
  absl::StatusOr<std::string> RegisterWorker(const storage::WorkerRecord& worker);
  absl::StatusOr<std::vector<LeaseState>> Heartbeat(const std::string& worker_id,
                                                    const std::vector<std::string>& tokens);
  // Leases a trial of one of `objective_types` (empty = any) to `worker_id`:
  // at once when one is WAITING, otherwise as soon as one becomes WAITING
  // within `wait_ms`. `done` is called exactly once, with the assignment, with
  // nullopt (none came in time, CancelAcquire, or Stop) or with the store's
  // error: inline when the answer is known now, else later from the store's
  // commit thread (once the lease is durable) or the engine's waiter thread.
  // No engine lock is held while it runs; it must not block. Returns a handle
  // for CancelAcquire (0 when `done` has already run).
  using AcquireDone = std::function<void(absl::StatusOr<std::optional<Assignment>>)>;
  uint64_t AcquireTrialAsync(const std::string& worker_id,
                             const std::vector<std::string>& objective_types, int64_t wait_ms,
                             AcquireDone done);
  // Answers a parked AcquireTrialAsync with nullopt now. No-op when it has
  // been answered already (or is being answered with a trial).
  void CancelAcquire(uint64_t handle);
  // AcquireTrialAsync for callers that can block (tests, tools): waits for the
  // answer; `cancelled` is polled every 250 ms to end early.
  absl::StatusOr<std::optional<Assignment>> AcquireTrial(
      const std::string& worker_id, const std::vector<std::string>& objective_types,
      int64_t wait_ms, const std::function<bool()>& cancelled);
  absl::StatusOr<ProgressAction> ReportProgress(const std::string& token, int64_t step,
                                                double value, int64_t* deadline_ms);
  absl::StatusOr<storage::TrialState> CompleteTrial(const std::string& token, double value,
                                                    const std::string& result_json);
  // CompleteTrial without a thread waiting for the commit: `done` gets the
  // same answer exactly once, usually from the store's commit thread (then
  // the reply leaves as soon as the change is durable), on a rare path from
  // the engine's follow-up pool. It must not block.
  using FinishDone = std::function<void(absl::StatusOr<storage::TrialState>)>;
  void CompleteTrialAsync(const std::string& token, double value, const std::string& result_json,
                          FinishDone done);
  absl::StatusOr<storage::TrialState> FailTrial(const std::string& token,
                                                const std::string& message);

  // Expires lost leases now (the sweeper calls this on its interval).
  absl::Status SweepOnce();
  int heartbeat_interval_ms() const { return options_.heartbeat_interval_ms; }
  storage::TrialStore* store() { return store_.get(); }
  // How many studies are held in memory now (running + cached finished).
  size_t StudiesInMemory() const;

 private:
  struct Study;

  StudyEngine(std::unique_ptr<storage::TrialStore> store, EngineOptions options);
  int64_t Now() const;
  std::string NewToken();
  // The study with id or name `ref`, from memory or else read back from the
  // store (a finished study that left the cache).
  absl::StatusOr<std::shared_ptr<Study>> FindStudy(const std::string& ref);
  // Builds a study's memory from the store: its trials, or for a finished
  // study with a final summary only that summary. Returns the copy already in
  // memory if another thread loaded it first.
  absl::StatusOr<std::shared_ptr<Study>> LoadStudy(const storage::StudyRecord& record);
  StudyView MakeView(const Study& study) const;  // REQUIRES mu_
  // Stores a finished study's summary so that it can leave memory; then trims
  // the cache. Errors are logged: the study is then read back the slow way.
  void KeepFinal(const std::shared_ptr<Study>& study);
  // Drops the least recently used finished studies beyond the bound.
  // REQUIRES mu_.
  void TrimFinished();
  // Applies a committed change of a trial to memory. REQUIRES mu_.
  void ApplyTrial(Study* study, const storage::TrialRecord& record);
  // Creates trials until the study's parallelism is filled or its strategy has
  // none to give; marks the study complete when it is done.
  absl::Status Replenish(const std::shared_ptr<Study>& study);
  absl::Status MaybeFinishStudy(const std::shared_ptr<Study>& study);
  // Samples a trial for every free slot of the study's parallelism and applies
  // each to memory as a provisional WAITING trial; `batch` gets what to store.
  // REQUIRES create_mu and mu_.
  absl::Status SampleFreeSlots(Study* study, std::vector<storage::TrialStore::NewTrial>* batch);
  // Applies the stored versions of provisional trials from `first_provisional`
  // on. REQUIRES mu_.
  absl::Status ApplyCreated(Study* study, size_t first_provisional,
                            const std::vector<storage::TrialRecord>& created);
  // Ends the running trial holding `token` and stores its replacements in the
  // same transaction (one commit per trial instead of two). `done` gets
  // nullopt when the fast path does not apply or the store refused; memory is
  // then as before and the caller takes the slow path (FinishSlow), which
  // gives the store's answer. `done` runs inline, on the commit thread or on
  // the follow-up pool, and must not block.
  using FastFinishDone = std::function<void(absl::StatusOr<std::optional<storage::TrialState>>)>;
  void FinishAndReplaceAsync(const std::string& token, const storage::TrialOutcome& outcome,
                             FastFinishDone done);
  // Ends the trial holding `token` through the store alone (a retried call,
  // a lease no longer in memory, a refused fast path). Blocks.
  absl::StatusOr<storage::TrialState> FinishSlow(const std::string& token,
                                                 const storage::TrialOutcome& outcome);
  // Runs `task` on the follow-up pool: work that follows a commit callback but
  // may block on the store (which the commit thread must never do).
  void RunFollowup(std::function<void()> task);
  // What MaybeFinishStudy would change now. REQUIRES mu_.
  struct FinishDecision {
    int phase = 0;
    std::string summary_text;
    bool phase_changed = false;
    bool finish = false;
  };
  FinishDecision DecideFinish(const Study& study) const;
  // False when Replenish would change nothing now: every slot of the study's
  // parallelism is taken and neither its phase nor its state moves. REQUIRES
  // mu_.
  bool ReplenishWouldAct(const Study& study) const;
  // Drops a finished study's trials from memory. REQUIRES mu_.
  void EvictHistory(Study* study);
  // Removes trials from index `first` on (sampled but not stored). REQUIRES mu_.
  void DropProvisional(Study* study, size_t first);
  void NotifyChange();
  // Moves ChangeVersion() and wakes the parked change waits. REQUIRES mu_.
  void BumpChangeVersion();
  void SweepLoop();
  // Studies with a WAITING trial of one of `types` (empty = any), and the
  // longest lease among them. REQUIRES mu_.
  std::vector<int64_t> AcquireCandidates(const std::vector<std::string>& types,
                                         int64_t* lease_ms);
  // Leases the next WAITING trial of `candidates`; nullopt when another call
  // took the last one first. `done` runs on the commit thread.
  void LeaseFromAsync(const std::vector<int64_t>& candidates, int64_t lease_ms,
                      const std::string& worker_id, AcquireDone done);
  absl::StatusOr<std::optional<Assignment>> LeaseFrom(const std::vector<int64_t>& candidates,
                                                      int64_t lease_ms,
                                                      const std::string& worker_id);
  // The waiter thread: answers parked acquires when trials become WAITING,
  // change waits when the version moves, and both at their deadlines.
  void WaiterLoop();
  // Leases WAITING trials to parked acquires, oldest first, while it can.
  void ServeParkedAcquires();

  std::unique_ptr<storage::TrialStore> store_;
  EngineOptions options_;

  mutable std::mutex mu_;
  std::map<int64_t, std::shared_ptr<Study>> studies_;  // guarded by mu_
  std::map<std::string, int64_t> study_ids_;            // name -> id of studies_; mu_
  uint64_t use_clock_ = 0;                              // orders cache use; mu_
  std::map<std::string, std::pair<int64_t, int64_t>> leases_;  // token -> (study, number); mu_
  uint64_t next_version_ = 0;               // guarded by mu_
  std::atomic<uint64_t> change_version_{0};

  // Parked calls: nothing blocks a caller's thread while it waits (the gRPC
  // handlers are reactors); the waiter thread answers them.
  struct ParkedAcquire {
    std::string worker_id;
    std::vector<std::string> types;
    std::chrono::steady_clock::time_point deadline;
    AcquireDone done;
  };
  struct ParkedChangeWait {
    uint64_t seen;
    std::chrono::steady_clock::time_point deadline;
    std::function<void()> done;
  };
  // Parks acquire `handle` (its deadline in `parked`) until a trial comes or
  // the deadline; answers it with nullopt at once when it was cancelled while
  // its first lease was in flight, or when the engine stops.
  // `made_waiting`: trials_made_waiting_ when the caller looked for a trial.
  // False when answered instead.
  bool ParkAcquire(uint64_t handle, ParkedAcquire parked, uint64_t made_waiting);
  std::map<uint64_t, ParkedAcquire> parked_acquires_;    // by handle = arrival order; mu_
  // Acquires whose first lease is committing: handle -> cancelled since.
  std::map<uint64_t, bool> leasing_acquires_;            // mu_
  std::map<uint64_t, ParkedChangeWait> parked_changes_;  // mu_
  uint64_t next_handle_ = 1;                             // mu_
  uint64_t trials_made_waiting_ = 0;  // counts ApplyTrial's WAITING trials; mu_
  bool serve_acquires_ = false;       // a trial became WAITING while some were parked; mu_
  bool serve_changes_ = false;        // the version moved while waits were parked; mu_
  // When the waiter thread wakes; max while it is not asleep. mu_
  std::chrono::steady_clock::time_point waiter_wake_ =
      std::chrono::steady_clock::time_point::max();
  std::condition_variable waiter_cv_;
  std::thread waiter_;

  std::mutex rng_mu_;
  std::mt19937_64 rng_;

  std::atomic<bool> stopping_{false};
  std::mutex sweep_mu_;
  std::condition_variable sweep_cv_;
  std::thread sweeper_;
  // After store_: emptied (in ~StudyEngine) while the store still commits.
  std::unique_ptr<HandlerPool> followups_;
};

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_STUDY_ENGINE_H_
