#include "storage/trial_store.h"

#include <sqlite3.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/rendezvous.h"
#include "storage/schema.h"

namespace peftsearch::storage {
namespace {

#define RETURN_IF_ERROR(expr)              \
  do {                                     \
    absl::Status _status = (expr);         \
    if (!_status.ok()) return _status;     \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr)        \
  auto lhs##_or = (expr);                  \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = std::move(*lhs##_or)

constexpr char kTrialColumns[] =
    "id, study_id, number, state, phase, params_json, value, result_json, attempt, worker_id, "
    "lease_token, lease_deadline_ms, message, created_ms, started_ms, finished_ms";

constexpr char kStudyColumns[] =
    "id, name, spec_json, state, phase, summary_json, created_ms, updated_ms, final_json";

TrialRecord ReadTrial(const Statement& s) {
  TrialRecord t;
  t.id = s.ColumnInt(0);
  t.study_id = s.ColumnInt(1);
  t.number = s.ColumnInt(2);
  t.state = static_cast<TrialState>(s.ColumnInt(3));
  t.phase = static_cast<int>(s.ColumnInt(4));
  t.params_json = s.ColumnText(5);
  t.value = s.ColumnOptionalDouble(6);
  t.result_json = s.ColumnText(7);
  t.attempt = static_cast<int>(s.ColumnInt(8));
  t.worker_id = s.ColumnText(9);
  t.lease_token = s.ColumnText(10);
  t.lease_deadline_ms = s.ColumnInt(11);
  t.message = s.ColumnText(12);
  t.created_ms = s.ColumnInt(13);
  t.started_ms = s.ColumnInt(14);
  t.finished_ms = s.ColumnInt(15);
  return t;
}

StudyRecord ReadStudy(const Statement& s) {
  StudyRecord r;
  r.id = s.ColumnInt(0);
  r.name = s.ColumnText(1);
  r.spec_json = s.ColumnText(2);
  r.state = static_cast<StudyState>(s.ColumnInt(3));
  r.phase = static_cast<int>(s.ColumnInt(4));
  r.summary_json = s.ColumnText(5);
  r.created_ms = s.ColumnInt(6);
  r.updated_ms = s.ColumnInt(7);
  r.final_json = s.ColumnText(8);
  return r;
}

absl::StatusOr<std::vector<TrialRecord>> QueryTrials(SqliteDb* db, const std::string& sql,
                                                     const std::function<void(Statement*)>& bind) {
  ASSIGN_OR_RETURN(stmt, db->Cached(sql));
  bind(stmt);
  std::vector<TrialRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(row, stmt->Step());
    if (!row) break;
    out.push_back(ReadTrial(*stmt));
  }
  return out;
}

absl::StatusOr<std::optional<TrialRecord>> QueryOneTrial(
    SqliteDb* db, const std::string& sql, const std::function<void(Statement*)>& bind) {
  ASSIGN_OR_RETURN(trials, QueryTrials(db, sql, bind));
  if (trials.empty()) return std::optional<TrialRecord>();
  return std::optional<TrialRecord>(std::move(trials.front()));
}

absl::Status LoadIntermediate(SqliteDb* db, TrialRecord* trial) {
  ASSIGN_OR_RETURN(stmt, db->Cached("SELECT step, value FROM intermediate_values "
                                    "WHERE trial_id = ? ORDER BY step"));
  stmt->Bind(1, trial->id);
  trial->intermediate_values.clear();
  while (true) {
    ASSIGN_OR_RETURN(row, stmt->Step());
    if (!row) break;
    trial->intermediate_values.emplace_back(stmt->ColumnInt(0), stmt->ColumnDouble(1));
  }
  return absl::OkStatus();
}

absl::Status AppendEvent(SqliteDb* db, int64_t study_id, int64_t trial_number,
                         const std::string& kind, TrialState state, std::optional<double> value,
                         int64_t now_ms) {
  ASSIGN_OR_RETURN(stmt, db->Cached("INSERT INTO events (study_id, trial_number, kind, state, "
                                    "value, unix_ms) VALUES (?, ?, ?, ?, ?, ?)"));
  stmt->Bind(1, study_id)
      .Bind(2, trial_number)
      .Bind(3, kind)
      .Bind(4, static_cast<int64_t>(state))
      .Bind(5, value)
      .Bind(6, now_ms);
  return stmt->Run();
}

const char* OutcomeEventKind(TrialState state) {
  switch (state) {
    case TrialState::kComplete:
      return "complete";
    case TrialState::kPruned:
      return "pruned";
    case TrialState::kFailed:
      return "failed";
    default:
      return "changed";
  }
}

bool SameOutcome(const TrialRecord& t, const TrialOutcome& o) {
  return t.state == o.state && t.value == o.value;
}

// Writes `outcome` over the running trial `*current` with a compare-and-set
// on (RUNNING, its lease token), logs the event, and updates `*current`.
absl::Status ApplyOutcome(SqliteDb* db, const TrialOutcome& outcome, int64_t now_ms,
                          TrialRecord* current) {
  ASSIGN_OR_RETURN(update, db->Cached("UPDATE trials SET state = ?, value = ?, result_json = ?, "
                                      "message = ?, finished_ms = ? "
                                      "WHERE id = ? AND state = ? AND lease_token = ?"));
  update->Bind(1, static_cast<int64_t>(outcome.state)).Bind(2, outcome.value);
  update->Bind(3, outcome.result_json).Bind(4, outcome.message).Bind(5, now_ms);
  update->Bind(6, current->id).Bind(7, static_cast<int64_t>(TrialState::kRunning));
  update->Bind(8, current->lease_token);
  RETURN_IF_ERROR(update->Run());
  if (db->Changes() != 1) return absl::AbortedError("finish raced with another change");
  current->state = outcome.state;
  current->value = outcome.value;
  current->result_json = outcome.result_json;
  current->message = outcome.message;
  current->finished_ms = now_ms;
  return AppendEvent(db, current->study_id, current->number, OutcomeEventKind(outcome.state),
                     outcome.state, outcome.value, now_ms);
}

// Appends WAITING trials numbered from the study's max + 1 (see CreateTrials).
absl::Status InsertWaitingTrials(SqliteDb* db, int64_t study_id,
                                 const std::vector<TrialStore::NewTrial>& trials,
                                 int64_t expected_first, int64_t now_ms,
                                 std::vector<TrialRecord>* created) {
  created->clear();
  if (trials.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(next, db->Cached("SELECT COALESCE(MAX(number), -1) + 1 FROM trials "
                                    "WHERE study_id = ?"));
  next->Bind(1, study_id);
  ASSIGN_OR_RETURN(row, next->Step());
  if (!row) return absl::InternalError("no row for next trial number");
  int64_t number = next->ColumnInt(0);
  next->Reset();
  if (expected_first >= 0 && number != expected_first) {
    return absl::AbortedError(absl::StrCat("trial numbering moved: the caller expected ",
                                           expected_first, ", the study's next is ", number));
  }
  for (const TrialStore::NewTrial& n : trials) {
    ASSIGN_OR_RETURN(insert, db->Cached("INSERT INTO trials (study_id, number, state, phase, "
                                        "params_json, created_ms, started_ms) "
                                        "VALUES (?, ?, ?, ?, ?, ?, ?)"));
    insert->Bind(1, study_id).Bind(2, number).Bind(3, static_cast<int64_t>(TrialState::kWaiting));
    insert->Bind(4, static_cast<int64_t>(n.phase)).Bind(5, n.params_json).Bind(6, now_ms);
    insert->Bind(7, int64_t{0});
    absl::Status run = insert->Run();
    if (!run.ok() && absl::IsAlreadyExists(run)) {
      return absl::NotFoundError(absl::StrCat("no study with id ", study_id));
    }
    RETURN_IF_ERROR(run);
    TrialRecord t;
    t.id = db->LastInsertRowId();
    t.study_id = study_id;
    t.number = number++;
    t.state = TrialState::kWaiting;
    t.phase = n.phase;
    t.params_json = n.params_json;
    t.created_ms = now_ms;
    RETURN_IF_ERROR(AppendEvent(db, study_id, t.number, "created", TrialState::kWaiting,
                                std::nullopt, now_ms));
    created->push_back(std::move(t));
  }
  return absl::OkStatus();
}

// Ends the running trial holding `lease_token` (see FinishLeasedTrial).
// `*changed` is false when the call repeats one that already took effect.
absl::Status FinishLeased(SqliteDb* db, const std::string& lease_token,
                          const TrialOutcome& outcome, int64_t now_ms, TrialRecord* result,
                          bool* changed) {
  *changed = false;
  ASSIGN_OR_RETURN(current,
                   QueryOneTrial(db,
                                 absl::StrCat("SELECT ", kTrialColumns,
                                              " FROM trials WHERE lease_token = ?"),
                                 [&](Statement* s) { s->Bind(1, lease_token); }));
  if (!current.has_value()) {
    return absl::FailedPreconditionError(
        "stale lease: the token holds no trial (its lease expired and the trial was "
        "handed to another worker, or it never existed)");
  }
  if (current->state != TrialState::kRunning) {
    if (SameOutcome(*current, outcome)) {
      *result = std::move(*current);  // a retried call that already took effect
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "trial ", current->number, " is already ", TrialStateName(current->state)));
  }
  RETURN_IF_ERROR(ApplyOutcome(db, outcome, now_ms, &*current));
  *result = std::move(*current);
  *changed = true;
  return absl::OkStatus();
}

}  // namespace

const char* TrialStateName(TrialState state) {
  switch (state) {
    case TrialState::kWaiting:
      return "WAITING";
    case TrialState::kRunning:
      return "RUNNING";
    case TrialState::kComplete:
      return "COMPLETE";
    case TrialState::kPruned:
      return "PRUNED";
    case TrialState::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

const char* StudyStateName(StudyState state) {
  switch (state) {
    case StudyState::kRunning:
      return "RUNNING";
    case StudyState::kComplete:
      return "COMPLETE";
    case StudyState::kCancelled:
      return "CANCELLED";
  }
  return "UNKNOWN";
}

// One caller waiting in the write queue.
struct TrialStore::Writer {
  Writer(WriteFn f, std::function<void(absl::Status)> d) : fn(std::move(f)), done(std::move(d)) {}
  WriteFn fn;
  std::function<void(absl::Status)> done;
  absl::Status status;
};

absl::StatusOr<std::unique_ptr<TrialStore>> TrialStore::Open(const std::string& path,
                                                             const TrialStoreOptions& options) {
  ASSIGN_OR_RETURN(writer, SqliteDb::Open(path));
  const bool in_memory = path == ":memory:" || path.empty();
  RETURN_IF_ERROR(writer->Exec(absl::StrCat("PRAGMA busy_timeout = ", options.busy_timeout_ms)));
  if (!in_memory) {
    absl::StatusOr<std::string> mode = writer->QueryText("PRAGMA journal_mode = WAL");
    if (!mode.ok()) {
      return absl::Status(mode.status().code(),
                          absl::StrCat("database '", path, "': ", mode.status().message()));
    }
  }
  RETURN_IF_ERROR(writer->Exec(options.synchronous_full ? "PRAGMA synchronous = FULL"
                                                        : "PRAGMA synchronous = NORMAL"));
  RETURN_IF_ERROR(writer->Exec("PRAGMA foreign_keys = ON"));
  RETURN_IF_ERROR(Migrate(writer.get()));
  std::unique_ptr<SqliteDb> reader;
  if (!in_memory) {
    ASSIGN_OR_RETURN(r, SqliteDb::Open(path));
    RETURN_IF_ERROR(r->Exec(absl::StrCat("PRAGMA busy_timeout = ", options.busy_timeout_ms)));
    reader = std::move(r);
  }
  return std::unique_ptr<TrialStore>(
      new TrialStore(std::move(writer), std::move(reader), options));
}

TrialStore::TrialStore(std::unique_ptr<SqliteDb> writer, std::unique_ptr<SqliteDb> reader,
                       TrialStoreOptions options)
    : writer_db_(std::move(writer)), reader_db_(std::move(reader)), options_(options) {
  committer_ = std::thread([this] { CommitLoop(); });
}

TrialStore::~TrialStore() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_one();
  committer_.join();  // commits what is still queued first
}

void TrialStore::WriteAsync(WriteFn fn, std::function<void(absl::Status)> done) {
  auto writer = std::make_unique<Writer>(std::move(fn), std::move(done));
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    writers_.push_back(std::move(writer));
    // A busy commit thread looks at the queue again before it sleeps; waking
    // it costs a futex call, so only when it sleeps.
    wake = committer_asleep_;
    committer_asleep_ = false;
  }
  if (wake) queue_cv_.notify_one();
}

absl::Status TrialStore::Write(WriteFn fn, const std::function<void()>& on_queued) {
  if (OnCommitThread()) {
    return absl::FailedPreconditionError(
        "a synchronous store write from a write callback would wait on itself");
  }
  Rendezvous<absl::Status> committed;
  WriteAsync(std::move(fn), committed.Callback());
  if (on_queued) on_queued();
  return committed.Wait();
}

absl::Status TrialStore::Flush() {
  return Write([](SqliteDb*) { return absl::OkStatus(); });
}

void TrialStore::CommitLoop() {
  std::vector<std::unique_ptr<Writer>> batch;
  std::unique_lock<std::mutex> lock(queue_mu_);
  while (true) {
    if (writers_.empty()) {
      if (stopping_) return;
      committer_asleep_ = true;
      queue_cv_.wait(lock, [this] { return stopping_ || !writers_.empty(); });
      committer_asleep_ = false;
      continue;
    }
    // Everything queued while the last transaction committed goes into this
    // one: one fsync for all of them.
    batch.clear();
    while (!writers_.empty() && static_cast<int>(batch.size()) < options_.max_batch) {
      batch.push_back(std::move(writers_.front()));
      writers_.pop_front();
    }
    lock.unlock();
    CommitBatch(batch);
    // Callbacks run outside every lock, in commit order; a callback may queue
    // the next change (WriteAsync) but must not wait for it.
    for (auto& w : batch) w->done(std::move(w->status));
    batch.clear();  // destroys the writers' functions (and what they hold) here
    lock.lock();
  }
}

void TrialStore::CommitBatch(const std::vector<std::unique_ptr<Writer>>& batch) {
  std::lock_guard<std::mutex> db_lock(writer_db_mu_);
  SqliteDb* db = writer_db_.get();
  absl::Status begin = db->Exec("BEGIN IMMEDIATE");
  if (!begin.ok()) {
    for (auto& w : batch) w->status = begin;
    return;
  }
  for (auto& w : batch) {
    // A savepoint per writer: one caller's failed compare-and-set or
    // constraint error must not undo its neighbours' changes.
    absl::Status sp = db->RunCached("SAVEPOINT w");
    if (!sp.ok()) {
      w->status = sp;
      continue;
    }
    w->status = w->fn(db);
    db->ResetCached();
    if (!w->status.ok()) db->RunCached("ROLLBACK TO w").IgnoreError();
    db->RunCached("RELEASE w").IgnoreError();
  }
  absl::Status commit = db->Exec("COMMIT");
  if (!commit.ok()) {
    db->Exec("ROLLBACK").IgnoreError();
    for (auto& w : batch) {
      w->status = absl::Status(commit.code(), absl::StrCat("not stored: ", commit.message()));
    }
  }
}

absl::Status TrialStore::Read(const std::function<absl::Status(SqliteDb*)>& fn) {
  if (reader_db_ == nullptr) {
    std::lock_guard<std::mutex> lock(writer_db_mu_);
    absl::Status s = fn(writer_db_.get());
    writer_db_->ResetCached();
    return s;
  }
  std::lock_guard<std::mutex> lock(reader_db_mu_);
  absl::Status s = fn(reader_db_.get());
  reader_db_->ResetCached();
  return s;
}

// ------------------------------------------------------------------- studies

absl::StatusOr<StudyRecord> TrialStore::CreateStudy(const std::string& name,
                                                    const std::string& spec_json,
                                                    int64_t now_ms) {
  StudyRecord study;
  absl::Status status = Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached("INSERT INTO studies (name, spec_json, state, created_ms, "
                                      "updated_ms) VALUES (?, ?, ?, ?, ?)"));
    stmt->Bind(1, name).Bind(2, spec_json).Bind(3, static_cast<int64_t>(StudyState::kRunning));
    stmt->Bind(4, now_ms).Bind(5, now_ms);
    absl::Status run = stmt->Run();
    if (absl::IsAlreadyExists(run)) {
      return absl::AlreadyExistsError(absl::StrCat("a study named '", name, "' already exists"));
    }
    RETURN_IF_ERROR(run);
    study.id = db->LastInsertRowId();
    study.name = name;
    study.spec_json = spec_json;
    study.created_ms = study.updated_ms = now_ms;
    return AppendEvent(db, study.id, -1, "study_created", TrialState::kWaiting, std::nullopt,
                       now_ms);
  });
  RETURN_IF_ERROR(status);
  return study;
}

absl::StatusOr<StudyRecord> TrialStore::GetStudy(int64_t study_id) {
  StudyRecord out;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt,
                     db->Cached(absl::StrCat("SELECT ", kStudyColumns, " FROM studies WHERE id = ?")));
    stmt->Bind(1, study_id);
    ASSIGN_OR_RETURN(row, stmt->Step());
    if (!row) return absl::NotFoundError(absl::StrCat("no study with id ", study_id));
    out = ReadStudy(*stmt);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<StudyRecord> TrialStore::GetStudyByName(const std::string& name) {
  StudyRecord out;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(
        stmt, db->Cached(absl::StrCat("SELECT ", kStudyColumns, " FROM studies WHERE name = ?")));
    stmt->Bind(1, name);
    ASSIGN_OR_RETURN(row, stmt->Step());
    if (!row) return absl::NotFoundError(absl::StrCat("no study named '", name, "'"));
    out = ReadStudy(*stmt);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<StudyRecord>> TrialStore::ListStudies() {
  std::vector<StudyRecord> out;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(
        stmt, db->Cached(absl::StrCat("SELECT ", kStudyColumns, " FROM studies ORDER BY id DESC")));
    while (true) {
      ASSIGN_OR_RETURN(row, stmt->Step());
      if (!row) break;
      out.push_back(ReadStudy(*stmt));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status TrialStore::SetStudyState(int64_t study_id, StudyState state, const std::string& kind,
                                       int64_t now_ms) {
  return Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached("UPDATE studies SET state = ?, updated_ms = ? WHERE id = ?"));
    stmt->Bind(1, static_cast<int64_t>(state)).Bind(2, now_ms).Bind(3, study_id);
    RETURN_IF_ERROR(stmt->Run());
    if (db->Changes() != 1) return absl::NotFoundError(absl::StrCat("no study with id ", study_id));
    return AppendEvent(db, study_id, -1, kind, TrialState::kWaiting, std::nullopt, now_ms);
  });
}

absl::Status TrialStore::SetStudyFinal(int64_t study_id, const std::string& final_json) {
  return Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(query, db->Cached("SELECT state FROM studies WHERE id = ?"));
    query->Bind(1, study_id);
    ASSIGN_OR_RETURN(row, query->Step());
    if (!row) return absl::NotFoundError(absl::StrCat("no study with id ", study_id));
    if (static_cast<StudyState>(query->ColumnInt(0)) == StudyState::kRunning) {
      return absl::FailedPreconditionError(
          absl::StrCat("study ", study_id, " is still running; only a finished study has a "
                                           "final summary"));
    }
    ASSIGN_OR_RETURN(stmt, db->Cached("UPDATE studies SET final_json = ? WHERE id = ?"));
    stmt->Bind(1, final_json).Bind(2, study_id);
    return stmt->Run();
  });
}

absl::Status TrialStore::SetStudyPhase(int64_t study_id, int phase,
                                       const std::string& summary_json, int64_t now_ms) {
  return Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached("UPDATE studies SET phase = ?, summary_json = ?, "
                                      "updated_ms = ? WHERE id = ?"));
    stmt->Bind(1, static_cast<int64_t>(phase)).Bind(2, summary_json).Bind(3, now_ms);
    stmt->Bind(4, study_id);
    RETURN_IF_ERROR(stmt->Run());
    if (db->Changes() != 1) return absl::NotFoundError(absl::StrCat("no study with id ", study_id));
    return AppendEvent(db, study_id, -1, absl::StrCat("phase_", phase), TrialState::kWaiting,
                       std::nullopt, now_ms);
  });
}

// -------------------------------------------------------------------- trials

absl::StatusOr<TrialRecord> TrialStore::CreateTrial(int64_t study_id, int phase,
                                                    const std::string& params_json,
                                                    TrialState state, int64_t now_ms) {
  if (state != TrialState::kWaiting && state != TrialState::kRunning) {
    return absl::InvalidArgumentError("a new trial is WAITING or RUNNING");
  }
  TrialRecord trial;
  RETURN_IF_ERROR(Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(next, db->Cached("SELECT COALESCE(MAX(number), -1) + 1 FROM trials "
                                      "WHERE study_id = ?"));
    next->Bind(1, study_id);
    ASSIGN_OR_RETURN(row, next->Step());
    if (!row) return absl::InternalError("no row for next trial number");
    trial.number = next->ColumnInt(0);
    ASSIGN_OR_RETURN(insert, db->Cached("INSERT INTO trials (study_id, number, state, phase, "
                                        "params_json, created_ms, started_ms) "
                                        "VALUES (?, ?, ?, ?, ?, ?, ?)"));
    insert->Bind(1, study_id).Bind(2, trial.number).Bind(3, static_cast<int64_t>(state));
    insert->Bind(4, static_cast<int64_t>(phase)).Bind(5, params_json).Bind(6, now_ms);
    insert->Bind(7, state == TrialState::kRunning ? now_ms : int64_t{0});
    absl::Status run = insert->Run();
    if (!run.ok() && absl::IsAlreadyExists(run)) {
      return absl::NotFoundError(absl::StrCat("no study with id ", study_id));
    }
    RETURN_IF_ERROR(run);
    trial.id = db->LastInsertRowId();
    trial.study_id = study_id;
    trial.state = state;
    trial.phase = phase;
    trial.params_json = params_json;
    trial.created_ms = now_ms;
    trial.started_ms = state == TrialState::kRunning ? now_ms : 0;
    RETURN_IF_ERROR(AppendEvent(db, study_id, trial.number, "created", TrialState::kWaiting,
                                std::nullopt, now_ms));
    if (state == TrialState::kRunning) {
      RETURN_IF_ERROR(AppendEvent(db, study_id, trial.number, "asked", TrialState::kRunning,
                                  std::nullopt, now_ms));
    }
    return absl::OkStatus();
  }));
  return trial;
}

absl::StatusOr<std::vector<TrialRecord>> TrialStore::CreateTrials(
    int64_t study_id, const std::vector<NewTrial>& trials, int64_t now_ms,
    int64_t expected_first) {
  std::vector<TrialRecord> created;
  RETURN_IF_ERROR(Write([&](SqliteDb* db) -> absl::Status {
    return InsertWaitingTrials(db, study_id, trials, expected_first, now_ms, &created);
  }));
  return created;
}

namespace {

// The transaction bodies shared by the waiting and the asynchronous forms.

absl::Status FinishAndCreateIn(SqliteDb* db, const std::string& lease_token,
                               const TrialOutcome& outcome, int64_t study_id,
                               int64_t first_number,
                               const std::vector<TrialStore::NewTrial>& replacements,
                               int64_t now_ms, TrialStore::FinishedAndCreated* out) {
  out->created.clear();
  out->finished_now = false;
  // The finish in its own savepoint: a refused finish (a stale lease) must
  // not take the replacements with it, or the trial numbers sampled after
  // them would no longer follow on.
  RETURN_IF_ERROR(db->RunCached("SAVEPOINT finish"));
  out->finish_status =
      FinishLeased(db, lease_token, outcome, now_ms, &out->finished, &out->finished_now);
  db->ResetCached();
  if (!out->finish_status.ok()) RETURN_IF_ERROR(db->RunCached("ROLLBACK TO finish"));
  RETURN_IF_ERROR(db->RunCached("RELEASE finish"));
  return InsertWaitingTrials(db, study_id, replacements, first_number, now_ms, &out->created);
}

absl::Status ValidateFinish(const std::string& lease_token, const TrialOutcome& outcome) {
  if (!IsFinal(outcome.state)) return absl::InvalidArgumentError("outcome must be a final state");
  if (lease_token.empty()) return absl::InvalidArgumentError("lease_token is empty");
  return absl::OkStatus();
}

absl::Status LeaseIn(SqliteDb* db, const std::vector<int64_t>& study_ids,
                     const std::string& worker_id, const std::string& lease_token,
                     int64_t deadline_ms, int64_t now_ms, std::optional<TrialRecord>* leased) {
  // The ids travel as one bound JSON array, not spliced into the SQL: every
  // distinct text stays prepared in the connection's cache, and one text
  // per set of running studies grew the controller ~16 KiB per study.
  std::string sql = absl::StrCat(
      "SELECT ", kTrialColumns, " FROM trials WHERE state = ", int(TrialState::kWaiting),
      " AND study_id IN (SELECT id FROM studies WHERE state = ", int(StudyState::kRunning));
  std::string ids_json;
  if (!study_ids.empty()) {
    absl::StrAppend(&sql, " AND id IN (SELECT value FROM json_each(?))");
    ids_json = "[";
    for (size_t i = 0; i < study_ids.size(); ++i) {
      absl::StrAppend(&ids_json, i ? "," : "", study_ids[i]);
    }
    ids_json += "]";
  }
  absl::StrAppend(&sql, ") ORDER BY id LIMIT 1");
  ASSIGN_OR_RETURN(candidate, QueryOneTrial(db, sql, [&](Statement* s) {
                     if (!ids_json.empty()) s->Bind(1, ids_json);
                   }));
  if (!candidate.has_value()) return absl::OkStatus();
  ASSIGN_OR_RETURN(update, db->Cached("UPDATE trials SET state = ?, worker_id = ?, "
                                      "lease_token = ?, lease_deadline_ms = ?, started_ms = ? "
                                      "WHERE id = ? AND state = ?"));
  update->Bind(1, static_cast<int64_t>(TrialState::kRunning)).Bind(2, worker_id);
  update->Bind(3, lease_token).Bind(4, deadline_ms).Bind(5, now_ms).Bind(6, candidate->id);
  update->Bind(7, static_cast<int64_t>(TrialState::kWaiting));
  RETURN_IF_ERROR(update->Run());
  if (db->Changes() != 1) return absl::AbortedError("lease raced with another change");
  candidate->state = TrialState::kRunning;
  candidate->worker_id = worker_id;
  candidate->lease_token = lease_token;
  candidate->lease_deadline_ms = deadline_ms;
  candidate->started_ms = now_ms;
  RETURN_IF_ERROR(AppendEvent(db, candidate->study_id, candidate->number, "leased",
                              TrialState::kRunning, std::nullopt, now_ms));
  *leased = std::move(candidate);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TrialStore::FinishedAndCreated> TrialStore::FinishLeasedTrialAndCreate(
    const std::string& lease_token, const TrialOutcome& outcome, int64_t study_id,
    int64_t first_number, const std::vector<NewTrial>& replacements, int64_t now_ms,
    const std::function<void()>& on_queued) {
  RETURN_IF_ERROR(ValidateFinish(lease_token, outcome));
  FinishedAndCreated out;
  RETURN_IF_ERROR(Write(
      [&](SqliteDb* db) {
        return FinishAndCreateIn(db, lease_token, outcome, study_id, first_number, replacements,
                                 now_ms, &out);
      },
      on_queued));
  return out;
}

void TrialStore::FinishLeasedTrialAndCreateAsync(const std::string& lease_token,
                                                 const TrialOutcome& outcome, int64_t study_id,
                                                 int64_t first_number,
                                                 std::vector<NewTrial> replacements,
                                                 int64_t now_ms, Done<FinishedAndCreated> done) {
  absl::Status valid = ValidateFinish(lease_token, outcome);
  if (!valid.ok()) return done(valid);
  auto out = std::make_shared<FinishedAndCreated>();
  WriteAsync(
      [=, replacements = std::move(replacements)](SqliteDb* db) {
        return FinishAndCreateIn(db, lease_token, outcome, study_id, first_number, replacements,
                                 now_ms, out.get());
      },
      [out, done = std::move(done)](absl::Status status) {
        if (!status.ok()) return done(status);
        done(std::move(*out));
      });
}

absl::StatusOr<std::optional<TrialRecord>> TrialStore::LeaseNextWaiting(
    const std::vector<int64_t>& study_ids, const std::string& worker_id,
    const std::string& lease_token, int64_t deadline_ms, int64_t now_ms) {
  std::optional<TrialRecord> leased;
  RETURN_IF_ERROR(Write([&](SqliteDb* db) {
    return LeaseIn(db, study_ids, worker_id, lease_token, deadline_ms, now_ms, &leased);
  }));
  return leased;
}

void TrialStore::LeaseNextWaitingAsync(const std::vector<int64_t>& study_ids,
                                       const std::string& worker_id,
                                       const std::string& lease_token, int64_t deadline_ms,
                                       int64_t now_ms, Done<std::optional<TrialRecord>> done) {
  auto leased = std::make_shared<std::optional<TrialRecord>>();
  WriteAsync(
      [=](SqliteDb* db) {
        return LeaseIn(db, study_ids, worker_id, lease_token, deadline_ms, now_ms, leased.get());
      },
      [leased, done = std::move(done)](absl::Status status) {
        if (!status.ok()) return done(status);
        done(std::move(*leased));
      });
}

absl::StatusOr<TrialRecord> TrialStore::FinishLeasedTrial(const std::string& lease_token,
                                                          const TrialOutcome& outcome,
                                                          int64_t now_ms) {
  if (!IsFinal(outcome.state)) return absl::InvalidArgumentError("outcome must be a final state");
  if (lease_token.empty()) return absl::InvalidArgumentError("lease_token is empty");
  TrialRecord result;
  RETURN_IF_ERROR(Write([&](SqliteDb* db) -> absl::Status {
    bool changed = false;
    return FinishLeased(db, lease_token, outcome, now_ms, &result, &changed);
  }));
  return result;
}

absl::StatusOr<TrialRecord> TrialStore::FinishTrialByNumber(int64_t study_id, int64_t number,
                                                            const TrialOutcome& outcome,
                                                            int64_t now_ms) {
  if (!IsFinal(outcome.state)) return absl::InvalidArgumentError("outcome must be a final state");
  TrialRecord result;
  RETURN_IF_ERROR(Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(current, QueryOneTrial(db,
                                            absl::StrCat("SELECT ", kTrialColumns,
                                                         " FROM trials WHERE study_id = ? "
                                                         "AND number = ?"),
                                            [&](Statement* s) {
                                              s->Bind(1, study_id).Bind(2, number);
                                            }));
    if (!current.has_value()) {
      return absl::NotFoundError(absl::StrCat("study ", study_id, " has no trial ", number));
    }
    if (current->state != TrialState::kRunning) {
      if (SameOutcome(*current, outcome)) {
        result = std::move(*current);
        return absl::OkStatus();
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "trial ", number, " is already ", TrialStateName(current->state)));
    }
    if (!current->worker_id.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "trial ", number, " is leased to worker ", current->worker_id,
          "; only that worker can finish it"));
    }
    RETURN_IF_ERROR(ApplyOutcome(db, outcome, now_ms, &*current));
    result = std::move(*current);
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<TrialRecord> TrialStore::AddIntermediateValue(const std::string& lease_token,
                                                             int64_t step, double value,
                                                             int64_t now_ms) {
  (void)now_ms;
  TrialRecord result;
  RETURN_IF_ERROR(Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(current,
                     QueryOneTrial(db,
                                   absl::StrCat("SELECT ", kTrialColumns,
                                                " FROM trials WHERE lease_token = ?"),
                                   [&](Statement* s) { s->Bind(1, lease_token); }));
    if (!current.has_value() || lease_token.empty()) {
      return absl::FailedPreconditionError("stale lease: the token holds no trial");
    }
    if (current->state != TrialState::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat(
          "trial ", current->number, " is already ", TrialStateName(current->state)));
    }
    ASSIGN_OR_RETURN(insert, db->Cached("INSERT OR REPLACE INTO intermediate_values "
                                        "(trial_id, step, value) VALUES (?, ?, ?)"));
    insert->Bind(1, current->id).Bind(2, step).Bind(3, value);
    RETURN_IF_ERROR(insert->Run());
    RETURN_IF_ERROR(LoadIntermediate(db, &*current));
    result = std::move(*current);
    return absl::OkStatus();
  }));
  return result;
}

absl::StatusOr<std::vector<std::optional<TrialRecord>>> TrialStore::RenewLeases(
    const std::vector<std::pair<std::string, int64_t>>& renewals) {
  std::vector<std::optional<TrialRecord>> out(renewals.size());
  if (renewals.empty()) return out;
  RETURN_IF_ERROR(Write([&](SqliteDb* db) -> absl::Status {
    for (size_t i = 0; i < renewals.size(); ++i) {
      out[i].reset();
      ASSIGN_OR_RETURN(update, db->Cached("UPDATE trials SET lease_deadline_ms = "
                                          "MAX(lease_deadline_ms, ?) WHERE lease_token = ? "
                                          "AND state = ? AND lease_token != ''"));
      update->Bind(1, renewals[i].second).Bind(2, renewals[i].first);
      update->Bind(3, static_cast<int64_t>(TrialState::kRunning));
      RETURN_IF_ERROR(update->Run());
      ASSIGN_OR_RETURN(current,
                       QueryOneTrial(db,
                                     absl::StrCat("SELECT ", kTrialColumns,
                                                  " FROM trials WHERE lease_token = ?"),
                                     [&](Statement* s) { s->Bind(1, renewals[i].first); }));
      if (!renewals[i].first.empty()) out[i] = std::move(current);
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<TrialRecord>> TrialStore::ExpireLeases(
    int64_t now_ms, const std::function<int(int64_t)>& max_attempts) {
  std::vector<TrialRecord> changed;
  RETURN_IF_ERROR(Write([&](SqliteDb* db) -> absl::Status {
    changed.clear();
    ASSIGN_OR_RETURN(expired,
                     QueryTrials(db,
                                 absl::StrCat("SELECT ", kTrialColumns, " FROM trials WHERE state = ",
                                              int(TrialState::kRunning),
                                              " AND worker_id != '' AND lease_deadline_ms < ?"),
                                 [&](Statement* s) { s->Bind(1, now_ms); }));
    for (TrialRecord& t : expired) {
      const int attempt = t.attempt + 1;
      const bool give_up = attempt >= max_attempts(t.study_id);
      const TrialState next = give_up ? TrialState::kFailed : TrialState::kWaiting;
      const std::string message =
          give_up ? absl::StrCat("lease expired on attempt ", attempt, " of ",
                                 max_attempts(t.study_id), " (worker ", t.worker_id, ")")
                  : "";
      // The token is cleared: the worker that lost the lease can no longer
      // touch the trial, even if it is still running it.
      ASSIGN_OR_RETURN(update, db->Cached("UPDATE trials SET state = ?, attempt = ?, "
                                          "worker_id = '', lease_token = '', "
                                          "lease_deadline_ms = 0, message = ?, finished_ms = ? "
                                          "WHERE id = ? AND state = ? AND lease_token = ?"));
      update->Bind(1, static_cast<int64_t>(next)).Bind(2, static_cast<int64_t>(attempt));
      update->Bind(3, message).Bind(4, give_up ? now_ms : int64_t{0}).Bind(5, t.id);
      update->Bind(6, static_cast<int64_t>(TrialState::kRunning)).Bind(7, t.lease_token);
      RETURN_IF_ERROR(update->Run());
      if (db->Changes() != 1) continue;
      ASSIGN_OR_RETURN(clear, db->Cached("DELETE FROM intermediate_values WHERE trial_id = ?"));
      clear->Bind(1, t.id);
      RETURN_IF_ERROR(clear->Run());
      RETURN_IF_ERROR(AppendEvent(db, t.study_id, t.number, give_up ? "failed" : "expired", next,
                                  std::nullopt, now_ms));
      t.state = next;
      t.attempt = attempt;
      t.worker_id.clear();
      t.lease_token.clear();
      t.lease_deadline_ms = 0;
      t.message = message;
      changed.push_back(std::move(t));
    }
    return absl::OkStatus();
  }));
  return changed;
}

absl::Status TrialStore::ExtendLeasesTo(int64_t deadline_ms) {
  return Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(update, db->Cached("UPDATE trials SET lease_deadline_ms = ? WHERE state = ? "
                                        "AND worker_id != '' AND lease_deadline_ms < ?"));
    update->Bind(1, deadline_ms).Bind(2, static_cast<int64_t>(TrialState::kRunning));
    update->Bind(3, deadline_ms);
    return update->Run();
  });
}

absl::StatusOr<std::vector<TrialRecord>> TrialStore::FailOpenTrials(int64_t study_id,
                                                                    const std::string& message,
                                                                    int64_t now_ms) {
  std::vector<TrialRecord> changed;
  RETURN_IF_ERROR(Write([&](SqliteDb* db) -> absl::Status {
    changed.clear();
    ASSIGN_OR_RETURN(open, QueryTrials(db,
                                       absl::StrCat("SELECT ", kTrialColumns,
                                                    " FROM trials WHERE study_id = ? AND state IN (",
                                                    int(TrialState::kWaiting), ",",
                                                    int(TrialState::kRunning), ")"),
                                       [&](Statement* s) { s->Bind(1, study_id); }));
    for (TrialRecord& t : open) {
      ASSIGN_OR_RETURN(update, db->Cached("UPDATE trials SET state = ?, message = ?, "
                                          "finished_ms = ? WHERE id = ?"));
      update->Bind(1, static_cast<int64_t>(TrialState::kFailed)).Bind(2, message);
      update->Bind(3, now_ms).Bind(4, t.id);
      RETURN_IF_ERROR(update->Run());
      RETURN_IF_ERROR(AppendEvent(db, study_id, t.number, "failed", TrialState::kFailed,
                                  std::nullopt, now_ms));
      t.state = TrialState::kFailed;
      t.message = message;
      t.finished_ms = now_ms;
      changed.push_back(std::move(t));
    }
    return absl::OkStatus();
  }));
  return changed;
}

absl::StatusOr<TrialRecord> TrialStore::GetTrial(int64_t study_id, int64_t number,
                                                 bool include_intermediate) {
  TrialRecord out;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(found, QueryOneTrial(db,
                                          absl::StrCat("SELECT ", kTrialColumns,
                                                       " FROM trials WHERE study_id = ? "
                                                       "AND number = ?"),
                                          [&](Statement* s) {
                                            s->Bind(1, study_id).Bind(2, number);
                                          }));
    if (!found.has_value()) {
      return absl::NotFoundError(absl::StrCat("study ", study_id, " has no trial ", number));
    }
    out = std::move(*found);
    if (include_intermediate) RETURN_IF_ERROR(LoadIntermediate(db, &out));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<TrialRecord> TrialStore::GetTrialByToken(const std::string& lease_token) {
  TrialRecord out;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(found,
                     QueryOneTrial(db,
                                   absl::StrCat("SELECT ", kTrialColumns,
                                                " FROM trials WHERE lease_token = ?"),
                                   [&](Statement* s) { s->Bind(1, lease_token); }));
    if (!found.has_value() || lease_token.empty()) {
      return absl::FailedPreconditionError("stale lease: the token holds no trial");
    }
    out = std::move(*found);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<TrialRecord>> TrialStore::ListTrials(int64_t study_id,
                                                                std::optional<TrialState> state,
                                                                int64_t after_number, int limit,
                                                                bool include_intermediate) {
  std::vector<TrialRecord> out;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    std::string sql = absl::StrCat("SELECT ", kTrialColumns,
                                   " FROM trials WHERE study_id = ? AND number > ?");
    if (state.has_value()) absl::StrAppend(&sql, " AND state = ", static_cast<int>(*state));
    absl::StrAppend(&sql, " ORDER BY number LIMIT ?");  // -1: no limit
    ASSIGN_OR_RETURN(trials, QueryTrials(db, sql, [&](Statement* s) {
                       s->Bind(1, study_id).Bind(2, after_number);
                       s->Bind(3, static_cast<int64_t>(limit > 0 ? limit : -1));
                     }));
    if (include_intermediate) {
      for (TrialRecord& t : trials) RETURN_IF_ERROR(LoadIntermediate(db, &t));
    }
    out = std::move(trials);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<int64_t> TrialStore::CountTrials(int64_t study_id,
                                                std::optional<TrialState> state) {
  int64_t count = 0;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    std::string sql = "SELECT COUNT(*) FROM trials WHERE study_id = ?";
    if (state.has_value()) absl::StrAppend(&sql, " AND state = ", static_cast<int>(*state));
    ASSIGN_OR_RETURN(stmt, db->Cached(sql));
    stmt->Bind(1, study_id);
    ASSIGN_OR_RETURN(row, stmt->Step());
    count = row ? stmt->ColumnInt(0) : 0;
    return absl::OkStatus();
  }));
  return count;
}

// ------------------------------------------------------------------- workers

absl::Status TrialStore::UpsertWorker(const WorkerRecord& w) {
  return Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached(
                               "INSERT INTO workers (id, name, hostname, slots, objective_types, "
                               "registered_ms, last_heartbeat_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
                               "ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
                               "hostname = excluded.hostname, slots = excluded.slots, "
                               "objective_types = excluded.objective_types, "
                               "last_heartbeat_ms = excluded.last_heartbeat_ms"));
    stmt->Bind(1, w.id).Bind(2, w.name).Bind(3, w.hostname).Bind(4, int64_t{w.slots});
    stmt->Bind(5, w.objective_types).Bind(6, w.registered_ms).Bind(7, w.last_heartbeat_ms);
    return stmt->Run();
  });
}

absl::Status TrialStore::TouchWorker(const std::string& worker_id, int64_t now_ms) {
  return Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached("UPDATE workers SET last_heartbeat_ms = ? WHERE id = ?"));
    stmt->Bind(1, now_ms).Bind(2, worker_id);
    RETURN_IF_ERROR(stmt->Run());
    if (db->Changes() != 1) {
      return absl::NotFoundError(absl::StrCat("unknown worker '", worker_id, "'"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<WorkerRecord>> TrialStore::ListWorkers() {
  std::vector<WorkerRecord> out;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached("SELECT id, name, hostname, slots, objective_types, "
                                      "registered_ms, last_heartbeat_ms FROM workers ORDER BY "
                                      "registered_ms, id"));
    while (true) {
      ASSIGN_OR_RETURN(row, stmt->Step());
      if (!row) break;
      WorkerRecord w;
      w.id = stmt->ColumnText(0);
      w.name = stmt->ColumnText(1);
      w.hostname = stmt->ColumnText(2);
      w.slots = static_cast<int>(stmt->ColumnInt(3));
      w.objective_types = stmt->ColumnText(4);
      w.registered_ms = stmt->ColumnInt(5);
      w.last_heartbeat_ms = stmt->ColumnInt(6);
      out.push_back(std::move(w));
    }
    return absl::OkStatus();
  }));
  return out;
}

// -------------------------------------------------------------------- tokens

namespace {
constexpr char kTokenColumns[] = "id, name, role, sha256, created_ms, revoked_ms";

TokenRecord ReadToken(const Statement& s) {
  TokenRecord t;
  t.id = s.ColumnInt(0);
  t.name = s.ColumnText(1);
  t.role = s.ColumnText(2);
  t.sha256 = s.ColumnText(3);
  t.created_ms = s.ColumnInt(4);
  t.revoked_ms = s.ColumnInt(5);
  return t;
}
}  // namespace

absl::StatusOr<TokenRecord> TrialStore::CreateToken(const std::string& name,
                                                    const std::string& role,
                                                    const std::string& sha256, int64_t now_ms) {
  TokenRecord out;
  RETURN_IF_ERROR(Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached("INSERT INTO auth_tokens (name, role, sha256, created_ms) "
                                      "VALUES (?, ?, ?, ?)"));
    stmt->Bind(1, name).Bind(2, role).Bind(3, sha256).Bind(4, now_ms);
    absl::Status run = stmt->Run();
    if (absl::IsAlreadyExists(run)) {
      return absl::AlreadyExistsError(absl::StrCat("a token named '", name, "' already exists"));
    }
    RETURN_IF_ERROR(run);
    out.id = db->LastInsertRowId();
    return absl::OkStatus();
  }));
  out.name = name;
  out.role = role;
  out.sha256 = sha256;
  out.created_ms = now_ms;
  return out;
}

absl::StatusOr<std::vector<TokenRecord>> TrialStore::ListTokens() {
  std::vector<TokenRecord> out;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached(absl::StrCat("SELECT ", kTokenColumns,
                                                   " FROM auth_tokens ORDER BY id")));
    while (true) {
      ASSIGN_OR_RETURN(row, stmt->Step());
      if (!row) break;
      out.push_back(ReadToken(*stmt));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status TrialStore::RevokeToken(const std::string& name_or_id, int64_t now_ms) {
  return Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached("UPDATE auth_tokens SET revoked_ms = ? WHERE revoked_ms = 0 "
                                      "AND (name = ? OR CAST(id AS TEXT) = ?)"));
    stmt->Bind(1, now_ms).Bind(2, name_or_id).Bind(3, name_or_id);
    RETURN_IF_ERROR(stmt->Run());
    if (db->Changes() == 0) {
      return absl::NotFoundError(absl::StrCat("no valid token named '", name_or_id, "'"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<TokenRecord> TrialStore::FindToken(const std::string& sha256) {
  std::optional<TokenRecord> out;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached(absl::StrCat("SELECT ", kTokenColumns,
                                                   " FROM auth_tokens WHERE sha256 = ? "
                                                   "AND revoked_ms = 0")));
    stmt->Bind(1, sha256);
    ASSIGN_OR_RETURN(row, stmt->Step());
    if (row) out = ReadToken(*stmt);
    stmt->Reset();
    return absl::OkStatus();
  }));
  if (!out.has_value()) return absl::NotFoundError("unknown or revoked token");
  return *out;
}

absl::StatusOr<int64_t> TrialStore::CountTokens() {
  int64_t n = 0;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached("SELECT COUNT(*) FROM auth_tokens"));
    ASSIGN_OR_RETURN(row, stmt->Step());
    if (row) n = stmt->ColumnInt(0);
    stmt->Reset();
    return absl::OkStatus();
  }));
  return n;
}

absl::Status TrialStore::BindWorkerToken(const std::string& worker_id,
                                         const std::string& token_sha256) {
  return Write([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt, db->Cached("INSERT INTO worker_tokens (worker_id, token_sha256) "
                                      "VALUES (?, ?) ON CONFLICT(worker_id) DO UPDATE SET "
                                      "token_sha256 = excluded.token_sha256"));
    stmt->Bind(1, worker_id).Bind(2, token_sha256);
    return stmt->Run();
  });
}

absl::StatusOr<std::string> TrialStore::WorkerToken(const std::string& worker_id) {
  std::optional<std::string> out;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(stmt,
                     db->Cached("SELECT token_sha256 FROM worker_tokens WHERE worker_id = ?"));
    stmt->Bind(1, worker_id);
    ASSIGN_OR_RETURN(row, stmt->Step());
    if (row) out = stmt->ColumnText(0);
    stmt->Reset();
    return absl::OkStatus();
  }));
  if (!out.has_value()) {
    return absl::NotFoundError(absl::StrCat("worker '", worker_id, "' registered with no token"));
  }
  return *out;
}

// -------------------------------------------------------------------- events

absl::StatusOr<std::vector<EventRecord>> TrialStore::EventsAfter(int64_t study_id,
                                                                 int64_t after_seq, int limit) {
  std::vector<EventRecord> out;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    // Two texts only (values are bound): see LeaseNextWaiting.
    std::string sql = "SELECT seq, study_id, trial_number, kind, state, value, unix_ms FROM events "
                      "WHERE seq > ?";
    if (study_id != 0) absl::StrAppend(&sql, " AND study_id = ?3");
    absl::StrAppend(&sql, " ORDER BY seq LIMIT ?2");  // -1: no limit
    ASSIGN_OR_RETURN(stmt, db->Cached(sql));
    stmt->Bind(1, after_seq).Bind(2, static_cast<int64_t>(limit > 0 ? limit : -1));
    if (study_id != 0) stmt->Bind(3, study_id);
    while (true) {
      ASSIGN_OR_RETURN(row, stmt->Step());
      if (!row) break;
      EventRecord e;
      e.seq = stmt->ColumnInt(0);
      e.study_id = stmt->ColumnInt(1);
      e.trial_number = stmt->ColumnInt(2);
      e.kind = stmt->ColumnText(3);
      e.state = static_cast<TrialState>(stmt->ColumnInt(4));
      e.value = stmt->ColumnOptionalDouble(5);
      e.unix_ms = stmt->ColumnInt(6);
      out.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  return out;
}

size_t TrialStore::CachedStatementCount() {
  size_t count = 0;
  {
    std::lock_guard<std::mutex> lock(writer_db_mu_);
    count += writer_db_->CachedCount();
  }
  if (reader_db_ != nullptr) {
    std::lock_guard<std::mutex> lock(reader_db_mu_);
    count += reader_db_->CachedCount();
  }
  return count;
}

absl::StatusOr<std::string> TrialStore::IntegrityCheck() {
  std::string result;
  RETURN_IF_ERROR(Read([&](SqliteDb* db) -> absl::Status {
    ASSIGN_OR_RETURN(text, db->QueryText("PRAGMA integrity_check"));
    result = text;
    return absl::OkStatus();
  }));
  return result;
}

}  // namespace peftsearch::storage
