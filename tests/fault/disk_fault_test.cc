// The store on a full and on a read-only filesystem (a real tmpfs mounted for
// the test): the controller refuses what it cannot store with a clear error,
// acknowledges nothing it did not store, keeps serving reads, and damages
// nothing already stored; once space or write access is back, the refused
// calls succeed when retried.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "controller/study_engine.h"

namespace peftsearch::controller {
namespace {

const char kSpec[] = R"({"name": "s", "direction": "minimize",
  "space": {"x": {"type": "float", "low": 0, "high": 1}},
  "sampler": {"type": "random", "seed": 1},
  "objective": {"type": "builtin", "function": "sphere"},
  "max_trials": 1000, "parallelism": 2})";

class DiskFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") + "/diskfault";
    mkdir(dir_.c_str(), 0755);
    if (mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=3m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                   << "); the disk-fault test needs root outside a sandbox";
    }
    mounted_ = true;
    auto store = storage::TrialStore::Open(dir_ + "/trials.db");
    ASSERT_TRUE(store.ok()) << store.status();
    auto engine = StudyEngine::Open(std::move(*store), EngineOptions{});
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
  }
  void TearDown() override {
    engine_.reset();
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  // Writes a filler file until the filesystem is full.
  void FillDisk() {
    FILE* f = fopen((dir_ + "/filler").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string block(64 * 1024, 'x');
    while (fwrite(block.data(), 1, block.size(), f) == block.size()) {
    }
    // Fill the last partial block too.
    while (fwrite("x", 1, 1, f) == 1) {
    }
    fclose(f);
  }
  void FreeDisk() { std::remove((dir_ + "/filler").c_str()); }
  void Remount(bool read_only) {
    ASSERT_EQ(mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | (read_only ? MS_RDONLY : 0),
                    "size=3m"),
              0)
        << std::strerror(errno);
  }
  int CompleteSome(int n) {
    int done = 0;
    for (int i = 0; i < n; ++i) {
      auto a = engine_->AcquireTrial("w", {}, 0, nullptr);
      if (!a.ok() || !a->has_value()) break;
      if (engine_->CompleteTrial((*a)->trial.lease_token, 0.5, "{}").ok()) ++done;
    }
    return done;
  }

  std::string dir_;
  bool mounted_ = false;
  std::unique_ptr<StudyEngine> engine_;
};

TEST_F(DiskFaultTest, FullDiskRefusesWorkAndLosesNothing) {
  ASSERT_TRUE(engine_->CreateStudy(kSpec).ok());
  ASSERT_EQ(CompleteSome(10), 10);
  auto leased = engine_->AcquireTrial("w", {}, 0, nullptr);
  ASSERT_TRUE(leased.ok() && leased->has_value());
  const std::string token = (*leased)->trial.lease_token;

  FillDisk();
  // A new study cannot be stored: refused with a clear error, not acknowledged.
  std::string spec2 = kSpec;
  spec2.replace(spec2.find("\"s\""), 3, "\"t\"");
  // The WAL may still have room for a page or two; keep writing until refused.
  absl::Status refused;
  for (int i = 0; i < 200 && refused.ok(); ++i) {
    std::string spec_i = spec2;
    spec_i.replace(spec_i.find("\"t\""), 3, "\"t" + std::to_string(i) + "\"");
    auto created = engine_->CreateStudy(spec_i);
    refused = created.status();
  }
  ASSERT_FALSE(refused.ok()) << "the disk never filled up";
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(std::string(refused.message()).find("full"), std::string::npos) << refused;
  // Completing the running trial is refused too, and it stays RUNNING.
  auto complete = engine_->CompleteTrial(token, 0.25, "{}");
  ASSERT_FALSE(complete.ok());
  EXPECT_EQ(complete.status().code(), absl::StatusCode::kResourceExhausted) << complete.status();
  // Reads still work and show only what was stored.
  auto view = engine_->GetStudy("s");
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->counts.complete, 10);
  auto trials = engine_->ListTrials("s", storage::TrialState::kComplete, 100, "", false);
  ASSERT_TRUE(trials.ok()) << trials.status();
  EXPECT_EQ(trials->trials.size(), 10u);

  FreeDisk();
  // The worker's retry of the same call now succeeds.
  auto retried = engine_->CompleteTrial(token, 0.25, "{}");
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(CompleteSome(5), 5);
  view = engine_->GetStudy("s");
  EXPECT_EQ(view->counts.complete, 16);
  auto integrity = engine_->store()->IntegrityCheck();
  ASSERT_TRUE(integrity.ok());
  EXPECT_EQ(*integrity, "ok");
}

// A filesystem cannot be remounted read-only while SQLite holds the file open
// for writing, so this is the case an operator meets: the database sits on a
// read-only filesystem when the controller starts.
TEST_F(DiskFaultTest, ReadOnlyDiskIsRefusedAtStartWithThePath) {
  ASSERT_TRUE(engine_->CreateStudy(kSpec).ok());
  ASSERT_EQ(CompleteSome(4), 4);
  engine_.reset();  // the controller stops
  Remount(/*read_only=*/true);
  auto store = storage::TrialStore::Open(dir_ + "/trials.db");
  ASSERT_FALSE(store.ok()) << "opened a database on a read-only filesystem";
  EXPECT_NE(std::string(store.status().message()).find(dir_ + "/trials.db"), std::string::npos)
      << store.status();
  EXPECT_NE(store.status().code(), absl::StatusCode::kOk);
  Remount(/*read_only=*/false);
  auto reopened = storage::TrialStore::Open(dir_ + "/trials.db");
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto engine = StudyEngine::Open(std::move(*reopened), EngineOptions{});
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto view = (*engine)->GetStudy("s");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->counts.complete, 4);
  auto integrity = (*engine)->store()->IntegrityCheck();
  ASSERT_TRUE(integrity.ok());
  EXPECT_EQ(*integrity, "ok");
}

}  // namespace
}  // namespace peftsearch::controller
