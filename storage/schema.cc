#include "storage/schema.h"

#include "absl/strings/str_cat.h"

namespace peftsearch::storage {

const std::vector<std::string>& Migrations() {
  static const auto* const kMigrations = new std::vector<std::string>{
      // 1: studies, trials, intermediate values, workers, the event log.
      R"sql(
        CREATE TABLE studies (
          id INTEGER PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          spec_json TEXT NOT NULL,
          state INTEGER NOT NULL,
          created_ms INTEGER NOT NULL,
          updated_ms INTEGER NOT NULL
        );
        CREATE TABLE trials (
          id INTEGER PRIMARY KEY,
          study_id INTEGER NOT NULL REFERENCES studies(id),
          number INTEGER NOT NULL,
          state INTEGER NOT NULL,
          params_json TEXT NOT NULL,
          value REAL,
          result_json TEXT NOT NULL DEFAULT '',
          attempt INTEGER NOT NULL DEFAULT 0,
          worker_id TEXT NOT NULL DEFAULT '',
          lease_token TEXT NOT NULL DEFAULT '',
          lease_deadline_ms INTEGER NOT NULL DEFAULT 0,
          message TEXT NOT NULL DEFAULT '',
          created_ms INTEGER NOT NULL,
          started_ms INTEGER NOT NULL DEFAULT 0,
          finished_ms INTEGER NOT NULL DEFAULT 0,
          UNIQUE (study_id, number)
        );
        CREATE INDEX trials_by_state ON trials(state, id);
        CREATE INDEX trials_by_token ON trials(lease_token);
        CREATE TABLE intermediate_values (
          trial_id INTEGER NOT NULL REFERENCES trials(id),
          step INTEGER NOT NULL,
          value REAL NOT NULL,
          PRIMARY KEY (trial_id, step)
        ) WITHOUT ROWID;
        CREATE TABLE workers (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          hostname TEXT NOT NULL,
          slots INTEGER NOT NULL,
          objective_types TEXT NOT NULL,
          registered_ms INTEGER NOT NULL,
          last_heartbeat_ms INTEGER NOT NULL
        );
        CREATE TABLE events (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          study_id INTEGER NOT NULL,
          trial_number INTEGER NOT NULL,
          kind TEXT NOT NULL,
          state INTEGER NOT NULL,
          value REAL,
          unix_ms INTEGER NOT NULL
        );
        CREATE INDEX events_by_study ON events(study_id, seq);
      )sql",
      // 2: phased strategies (hybrid PEFT search) record a phase per trial and
      // a summary per study.
      R"sql(
        ALTER TABLE trials ADD COLUMN phase INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE studies ADD COLUMN phase INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE studies ADD COLUMN summary_json TEXT NOT NULL DEFAULT '';
      )sql",
      // 3: bearer tokens (only their SHA-256 is kept) and which token each
      // worker registered with, so that a worker token touches only its own
      // leases, across controller restarts too.
      R"sql(
        CREATE TABLE auth_tokens (
          id INTEGER PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          role TEXT NOT NULL,
          sha256 TEXT NOT NULL UNIQUE,
          created_ms INTEGER NOT NULL,
          revoked_ms INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE worker_tokens (
          worker_id TEXT PRIMARY KEY,
          token_sha256 TEXT NOT NULL
        );
      )sql",
      // 4: what a finished study's view needs (counts, best trial, planned
      // total) kept on its row, so that the controller can drop finished
      // studies from memory and list them without reading their trials.
      R"sql(
        ALTER TABLE studies ADD COLUMN final_json TEXT NOT NULL DEFAULT '';
      )sql",
  };
  return *kMigrations;
}

int CurrentSchemaVersion() { return static_cast<int>(Migrations().size()); }

absl::Status Migrate(SqliteDb* db) {
  absl::StatusOr<int64_t> version = db->QueryInt("PRAGMA user_version");
  if (!version.ok()) return version.status();
  if (*version > CurrentSchemaVersion()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database '", db->path(), "' has schema version ", *version,
        ", newer than this binary's ", CurrentSchemaVersion(), "; upgrade peftsearch"));
  }
  for (int64_t v = *version; v < CurrentSchemaVersion(); ++v) {
    // user_version is set inside the same transaction, so a crash mid-step
    // leaves the file at the previous version with none of the step applied.
    std::string sql = absl::StrCat("BEGIN IMMEDIATE;", Migrations()[v],
                                   "PRAGMA user_version = ", v + 1, "; COMMIT;");
    absl::Status status = db->Exec(sql);
    if (!status.ok()) {
      db->Exec("ROLLBACK").IgnoreError();
      return absl::Status(status.code(), absl::StrCat("migrating '", db->path(), "' to version ",
                                                      v + 1, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace peftsearch::storage
