// TrialStore: every study, trial, intermediate value, worker and event of a
// controller, in one SQLite file (WAL, synchronous=FULL, busy timeout).
//
// Every state change is one transaction that also appends to the event log,
// and every change to a running trial is a compare-and-set on (state, lease
// token): a trial can complete only once, and a worker whose lease expired can
// no longer touch the trial. Writes are group-committed by the store's commit
// thread: the changes queued while one transaction commits share the next
// transaction and its fsync (LevelDB's writer queue, with a fixed leader),
// each change isolated in its own savepoint. A synchronous call returns once
// its change is durable; an asynchronous one (...Async) returns at once and
// its callback runs on the commit thread after the commit, so that a gRPC
// handler can answer from there without a thread of its own waiting.
//
// Thread safety: all methods may be called from any thread, except that the
// callbacks of the ...Async calls must not call the synchronous writing
// methods (they would wait on the thread running them; such a call fails
// with FAILED_PRECONDITION instead).
#ifndef PEFTSEARCH_STORAGE_TRIAL_STORE_H_
#define PEFTSEARCH_STORAGE_TRIAL_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/records.h"
#include "storage/sqlite_db.h"

namespace peftsearch::storage {

struct TrialStoreOptions {
  // FULL makes each commit durable against power loss; NORMAL only against a
  // process crash. Tests on tmpfs may lower it; the controller never does.
  bool synchronous_full = true;
  int busy_timeout_ms = 5000;
  // Most writers merged into one transaction.
  int max_batch = 512;
};

// How a running trial ends.
struct TrialOutcome {
  TrialState state = TrialState::kComplete;  // kComplete, kPruned or kFailed
  std::optional<double> value;
  std::string result_json;
  std::string message;
};

class TrialStore {
 public:
  // Opens or creates the file at `path` (":memory:" for tests) and migrates it
  // to the current schema.
  static absl::StatusOr<std::unique_ptr<TrialStore>> Open(const std::string& path,
                                                          const TrialStoreOptions& options = {});
  ~TrialStore();
  TrialStore(const TrialStore&) = delete;
  TrialStore& operator=(const TrialStore&) = delete;

  // ----------------------------------------------------------------- studies
  // ALREADY_EXISTS if the name is taken.
  absl::StatusOr<StudyRecord> CreateStudy(const std::string& name, const std::string& spec_json,
                                          int64_t now_ms);
  absl::StatusOr<StudyRecord> GetStudy(int64_t study_id);
  absl::StatusOr<StudyRecord> GetStudyByName(const std::string& name);
  absl::StatusOr<std::vector<StudyRecord>> ListStudies();
  // Sets the state and records an event `kind` ("study_complete", "cancelled").
  absl::Status SetStudyState(int64_t study_id, StudyState state, const std::string& kind,
                             int64_t now_ms);
  absl::Status SetStudyPhase(int64_t study_id, int phase, const std::string& summary_json,
                             int64_t now_ms);
  // Keeps a finished study's summary (StudyRecord::final_json). No event: the
  // state change that finished it has its own. NOT_FOUND without such a
  // study; FAILED_PRECONDITION while it runs.
  absl::Status SetStudyFinal(int64_t study_id, const std::string& final_json);

  // ------------------------------------------------------------------ trials
  // Appends trial number max+1 in `state` (kWaiting, or kRunning for an
  // externally evaluated trial handed out by AskTrial).
  absl::StatusOr<TrialRecord> CreateTrial(int64_t study_id, int phase,
                                          const std::string& params_json, TrialState state,
                                          int64_t now_ms);

  // Appends several WAITING trials in one transaction (numbers consecutive).
  struct NewTrial {
    int phase = 0;
    std::string params_json;
  };
  // With `expected_first` >= 0 the call is ABORTED, storing nothing, unless
  // the first new number is `expected_first` (the caller numbered them).
  absl::StatusOr<std::vector<TrialRecord>> CreateTrials(int64_t study_id,
                                                        const std::vector<NewTrial>& trials,
                                                        int64_t now_ms,
                                                        int64_t expected_first = -1);

  // Leases the oldest WAITING trial of the given studies (empty = any running
  // study) to `worker_id`: WAITING -> RUNNING with `lease_token`. nullopt when
  // none is waiting.
  absl::StatusOr<std::optional<TrialRecord>> LeaseNextWaiting(
      const std::vector<int64_t>& study_ids, const std::string& worker_id,
      const std::string& lease_token, int64_t deadline_ms, int64_t now_ms);

  // As LeaseNextWaiting, without waiting: `done` gets the answer on the
  // commit thread once it is durable. The call's place in the commit order is
  // fixed when this returns.
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;
  void LeaseNextWaitingAsync(const std::vector<int64_t>& study_ids, const std::string& worker_id,
                             const std::string& lease_token, int64_t deadline_ms, int64_t now_ms,
                             Done<std::optional<TrialRecord>> done);

  // Ends the trial holding `lease_token`. Repeating a call that already took
  // effect returns the trial unchanged (idempotent); any other call on a token
  // that no longer holds a running trial is FAILED_PRECONDITION.
  absl::StatusOr<TrialRecord> FinishLeasedTrial(const std::string& lease_token,
                                                const TrialOutcome& outcome, int64_t now_ms);

  // Ends the trial holding `lease_token` (as FinishLeasedTrial) and appends
  // `replacements` to `study_id` (as CreateTrials with `first_number`) in one
  // transaction: the controller replaces a finished trial with one commit and
  // one fsync instead of two. The replacements are stored even when the
  // finish is refused (its answer is in finish_status), so that numbers
  // sampled after them stay consecutive. `on_queued` runs once the call holds
  // its place in the commit order: calls made after it commit after it.
  struct FinishedAndCreated {
    absl::Status finish_status;
    bool finished_now = false;  // false: a repeat of a finish that took effect
    TrialRecord finished;
    std::vector<TrialRecord> created;
  };
  absl::StatusOr<FinishedAndCreated> FinishLeasedTrialAndCreate(
      const std::string& lease_token, const TrialOutcome& outcome, int64_t study_id,
      int64_t first_number, const std::vector<NewTrial>& replacements, int64_t now_ms,
      const std::function<void()>& on_queued);
  // As FinishLeasedTrialAndCreate, without waiting (see LeaseNextWaitingAsync);
  // the place in the commit order is taken when this returns.
  void FinishLeasedTrialAndCreateAsync(const std::string& lease_token, const TrialOutcome& outcome,
                                       int64_t study_id, int64_t first_number,
                                       std::vector<NewTrial> replacements, int64_t now_ms,
                                       Done<FinishedAndCreated> done);

  // Returns once every change queued before the call is durable and its
  // callback has run.
  absl::Status Flush();
  // True on the thread that runs the ...Async callbacks.
  bool OnCommitThread() const { return std::this_thread::get_id() == committer_.get_id(); }

  // Ends a RUNNING trial that no worker holds (ask/tell). Idempotent like
  // FinishLeasedTrial; FAILED_PRECONDITION if it is leased to a worker or ended
  // differently.
  absl::StatusOr<TrialRecord> FinishTrialByNumber(int64_t study_id, int64_t number,
                                                  const TrialOutcome& outcome, int64_t now_ms);

  // Records (step, value) for the running trial holding `lease_token` (a
  // repeated step overwrites) and returns the trial with all its values.
  absl::StatusOr<TrialRecord> AddIntermediateValue(const std::string& lease_token, int64_t step,
                                                   double value, int64_t now_ms);

  // Extends each lease in `renewals` (token, new deadline) that still holds a
  // running trial. Returns, per token, the trial it holds or nullopt.
  absl::StatusOr<std::vector<std::optional<TrialRecord>>> RenewLeases(
      const std::vector<std::pair<std::string, int64_t>>& renewals);

  // Every RUNNING, worker-held trial whose lease deadline is before `now_ms`
  // goes back to WAITING with attempt+1, or to FAILED when attempt+1 reaches
  // `max_attempts(study_id)`. Returns the trials changed, in their new state.
  absl::StatusOr<std::vector<TrialRecord>> ExpireLeases(
      int64_t now_ms, const std::function<int(int64_t study_id)>& max_attempts);

  // Moves every worker-held lease deadline to at least `deadline_ms`. A
  // restarted controller calls this so that workers which kept running while
  // it was down can reconnect and finish.
  absl::Status ExtendLeasesTo(int64_t deadline_ms);

  // Ends every WAITING and RUNNING trial of the study as FAILED with `message`.
  absl::StatusOr<std::vector<TrialRecord>> FailOpenTrials(int64_t study_id,
                                                          const std::string& message,
                                                          int64_t now_ms);

  absl::StatusOr<TrialRecord> GetTrial(int64_t study_id, int64_t number,
                                       bool include_intermediate = true);
  absl::StatusOr<TrialRecord> GetTrialByToken(const std::string& lease_token);
  // Trials with number > after_number, ascending, at most `limit` (0 = all).
  absl::StatusOr<std::vector<TrialRecord>> ListTrials(int64_t study_id,
                                                      std::optional<TrialState> state,
                                                      int64_t after_number, int limit,
                                                      bool include_intermediate);
  absl::StatusOr<int64_t> CountTrials(int64_t study_id, std::optional<TrialState> state);

  // ----------------------------------------------------------------- workers
  absl::Status UpsertWorker(const WorkerRecord& worker);
  absl::Status TouchWorker(const std::string& worker_id, int64_t now_ms);
  absl::StatusOr<std::vector<WorkerRecord>> ListWorkers();

  // ------------------------------------------------------------------ tokens
  // Stores a token by its hash. ALREADY_EXISTS if the name (or hash) is taken.
  absl::StatusOr<TokenRecord> CreateToken(const std::string& name, const std::string& role,
                                          const std::string& sha256, int64_t now_ms);
  // Every token, revoked ones included, by id.
  absl::StatusOr<std::vector<TokenRecord>> ListTokens();
  // Revokes the token with this name (or decimal id). NOT_FOUND if none is
  // valid under that name or id.
  absl::Status RevokeToken(const std::string& name_or_id, int64_t now_ms);
  // The valid (not revoked) token with this hash; NOT_FOUND if none.
  absl::StatusOr<TokenRecord> FindToken(const std::string& sha256);
  // Every token ever created, revoked ones included.
  absl::StatusOr<int64_t> CountTokens();
  // Records the token a worker registered with (replaces an earlier one).
  absl::Status BindWorkerToken(const std::string& worker_id, const std::string& token_sha256);
  // The hash recorded by BindWorkerToken; NOT_FOUND if the worker has none.
  absl::StatusOr<std::string> WorkerToken(const std::string& worker_id);

  // ------------------------------------------------------------------ events
  // Events of one study (study_id 0 = all) with seq > after_seq, ascending.
  absl::StatusOr<std::vector<EventRecord>> EventsAfter(int64_t study_id, int64_t after_seq,
                                                       int limit);

  // "ok", or SQLite's description of the damage.
  absl::StatusOr<std::string> IntegrityCheck();
  // Prepared statements kept by both connections. It must not grow with the
  // number of studies or trials (tests check this).
  size_t CachedStatementCount();

 private:
  struct Writer;
  using WriteFn = std::function<absl::Status(SqliteDb*)>;

  TrialStore(std::unique_ptr<SqliteDb> writer, std::unique_ptr<SqliteDb> reader,
             TrialStoreOptions options);

  // Queues `fn` for the commit thread, which runs it inside a group-committed
  // transaction and then calls `done` with its status (after the commit, or
  // with the commit's error). Writers commit in the order they queue.
  void WriteAsync(WriteFn fn, std::function<void(absl::Status)> done);
  // WriteAsync, then waits for the status; `on_queued` runs once queued.
  absl::Status Write(WriteFn fn, const std::function<void()>& on_queued = nullptr);
  // The commit thread: takes what is queued, commits it, runs the callbacks.
  void CommitLoop();
  // Runs `batch` in one transaction; sets each writer's status.
  void CommitBatch(const std::vector<std::unique_ptr<Writer>>& batch);
  // Runs `fn` on the read connection (or the writer for :memory:).
  absl::Status Read(const std::function<absl::Status(SqliteDb*)>& fn);

  std::unique_ptr<SqliteDb> writer_db_;
  std::unique_ptr<SqliteDb> reader_db_;  // null for ":memory:"
  const TrialStoreOptions options_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;              // wakes the commit thread
  std::deque<std::unique_ptr<Writer>> writers_;  // guarded by queue_mu_
  bool committer_asleep_ = false;                 // queue_mu_
  bool stopping_ = false;                         // queue_mu_
  std::mutex writer_db_mu_;  // held by the commit thread while it writes
  std::mutex reader_db_mu_;
  std::thread committer_;  // last: started once everything above exists
};

}  // namespace peftsearch::storage

#endif  // PEFTSEARCH_STORAGE_TRIAL_STORE_H_
