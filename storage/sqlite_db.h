// Thin RAII wrappers over the SQLite C API: a connection (`SqliteDb`) and a
// prepared statement (`Statement`). Every SQLite error becomes an absl::Status
// here, once, with a code chosen by what the caller should do (busy: retry;
// full disk: stop accepting work; corrupt: data loss).
//
// Thread safety: a SqliteDb and its statements must be used by one thread at a
// time; TrialStore serialises all access.
#ifndef PEFTSEARCH_STORAGE_SQLITE_DB_H_
#define PEFTSEARCH_STORAGE_SQLITE_DB_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace peftsearch::storage {

// Maps an SQLite result code (and the connection's message) to a Status.
absl::Status SqliteStatus(int rc, sqlite3* db, std::string_view context);

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binders take 1-based indexes, as SQLite does.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, double value);
  Statement& Bind(int index, std::string_view value);
  Statement& BindNull(int index);
  Statement& Bind(int index, const std::optional<double>& value);

  // Advances; returns true while a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Runs a statement that returns no rows.
  absl::Status Run();
  void Reset();

  int64_t ColumnInt(int col) const;
  double ColumnDouble(int col) const;
  std::string ColumnText(int col) const;
  bool ColumnIsNull(int col) const;
  std::optional<double> ColumnOptionalDouble(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  absl::Status bind_status_;
};

class SqliteDb {
 public:
  // Opens (creating if needed) the database at `path` (":memory:" allowed).
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  absl::Status Exec(std::string_view sql);
  absl::StatusOr<std::unique_ptr<Statement>> Prepare(std::string_view sql);
  // A prepared statement kept for the life of the connection, reset and ready
  // to bind. Hot paths use this to skip re-parsing SQL on every call.
  // REQUIRES: `sql` comes from a small fixed set; values are bound, never
  // spliced into the text, or the cache grows with every new value.
  absl::StatusOr<Statement*> Cached(const std::string& sql);
  size_t CachedCount() const { return cache_.size(); }
  // Resets every cached statement. A statement left mid-step keeps its read
  // transaction open, pinning an old snapshot on a WAL reader; callers reset
  // after each unit of work.
  void ResetCached();
  // Runs a row-less statement (e.g. "SAVEPOINT w") through the cache: no
  // parsing after the first call, unlike Exec.
  absl::Status RunCached(const std::string& sql);
  // Runs a single-value query such as "PRAGMA user_version".
  absl::StatusOr<int64_t> QueryInt(std::string_view sql);
  absl::StatusOr<std::string> QueryText(std::string_view sql);
  int64_t Changes() const;
  int64_t LastInsertRowId() const;
  sqlite3* raw() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::map<std::string, std::unique_ptr<Statement>> cache_;
  std::vector<Statement*> handed_out_;  // by Cached since the last ResetCached
};

}  // namespace peftsearch::storage

#endif  // PEFTSEARCH_STORAGE_SQLITE_DB_H_
