#include "storage/schema.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "storage/trial_store.h"

namespace peftsearch::storage {
namespace {

std::string TempDbPath(const std::string& tag) {
  const char* dir = getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/schema_" + tag + "_" +
                     std::to_string(getpid()) + ".db";
  std::remove(path.c_str());
  return path;
}

// A file written by the first release (schema version 1, no phases) opens
// with its data intact and gains the new columns with their defaults.
TEST(SchemaTest, MigratesAVersionOneFile) {
  const std::string path = TempDbPath("v1");
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("BEGIN;" + Migrations()[0] + "PRAGMA user_version = 1; COMMIT;").ok());
    ASSERT_TRUE((*db)
                    ->Exec("INSERT INTO studies (name, spec_json, state, created_ms, updated_ms) "
                           "VALUES ('old', '{}', 1, 1, 1);"
                           "INSERT INTO trials (study_id, number, state, params_json, value, "
                           "created_ms) VALUES (1, 0, 3, '{\"x\":2}', 0.25, 1);")
                    .ok());
  }
  auto store = TrialStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto study = (*store)->GetStudyByName("old");
  ASSERT_TRUE(study.ok()) << study.status();
  EXPECT_EQ(study->phase, 0);
  EXPECT_EQ(study->summary_json, "");
  EXPECT_EQ(study->final_json, "") << "version 4 adds an empty final summary";
  auto trial = (*store)->GetTrial(study->id, 0);
  ASSERT_TRUE(trial.ok()) << trial.status();
  EXPECT_EQ(trial->state, TrialState::kComplete);
  EXPECT_EQ(trial->value, 0.25);
  EXPECT_EQ(trial->phase, 0);
  auto db = SqliteDb::Open(path);
  ASSERT_TRUE(db.ok());
  auto version = (*db)->QueryInt("PRAGMA user_version");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, CurrentSchemaVersion());
}

TEST(SchemaTest, MigrationIsIdempotent) {
  auto db = SqliteDb::Open(":memory:");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(Migrate(db->get()).ok());
  ASSERT_TRUE(Migrate(db->get()).ok());
  auto version = (*db)->QueryInt("PRAGMA user_version");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, CurrentSchemaVersion());
}

TEST(SchemaTest, RefusesAFileFromANewerRelease) {
  const std::string path = TempDbPath("future");
  {
    auto db = SqliteDb::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 99").ok());
  }
  auto store = TrialStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("schema version 99"), std::string::npos)
      << store.status();
}

TEST(SchemaTest, GarbageFileIsDataLossNamingThePath) {
  const std::string path = TempDbPath("garbage");
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  for (int i = 0; i < 4096; ++i) fputc('x', f);
  fclose(f);
  auto store = TrialStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  EXPECT_NE(store.status().message().find(path), std::string::npos) << store.status();
}

}  // namespace
}  // namespace peftsearch::storage
