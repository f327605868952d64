// The database schema as an ordered list of migrations, keyed on
// `PRAGMA user_version`: version N means migrations [0, N) have run. A file
// written by an older peftsearch is upgraded in place, in one transaction per
// step; a file from a newer peftsearch is refused rather than misread.
#ifndef PEFTSEARCH_STORAGE_SCHEMA_H_
#define PEFTSEARCH_STORAGE_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "storage/sqlite_db.h"

namespace peftsearch::storage {

// The SQL of each migration, oldest first. Exposed so tests can build a file at
// any older version.
const std::vector<std::string>& Migrations();

// The version a fully migrated file has.
int CurrentSchemaVersion();

// Brings `db` to CurrentSchemaVersion(). FAILED_PRECONDITION if the file is
// newer than this binary understands.
absl::Status Migrate(SqliteDb* db);

}  // namespace peftsearch::storage

#endif  // PEFTSEARCH_STORAGE_SCHEMA_H_
