#include "storage/trial_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace peftsearch::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

std::unique_ptr<TrialStore> OpenMemory() {
  auto store = TrialStore::Open(":memory:");
  EXPECT_TRUE(store.ok()) << store.status();
  return std::move(*store);
}

std::string TempDbPath(const std::string& tag) {
  const char* dir = getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/store_" + tag + "_" +
                     std::to_string(getpid()) + ".db";
  std::remove(path.c_str());
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
  return path;
}

TrialOutcome Complete(double v) {
  TrialOutcome o;
  o.state = TrialState::kComplete;
  o.value = v;
  return o;
}

class TrialStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenMemory();
    auto study = store_->CreateStudy("s", "{}", kNow);
    ASSERT_TRUE(study.ok()) << study.status();
    study_id_ = study->id;
  }
  TrialRecord LeaseOne(const std::string& token, int64_t deadline = kNow + 1000) {
    auto leased = store_->LeaseNextWaiting({}, "w1", token, deadline, kNow);
    EXPECT_TRUE(leased.ok()) << leased.status();
    EXPECT_TRUE(leased->has_value());
    return **leased;
  }
  std::unique_ptr<TrialStore> store_;
  int64_t study_id_ = 0;
};

TEST_F(TrialStoreTest, StudyNamesAreUnique) {
  auto again = store_->CreateStudy("s", "{}", kNow);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("'s'"), std::string::npos);
  auto by_name = store_->GetStudyByName("s");
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(by_name->id, study_id_);
  EXPECT_EQ(store_->GetStudyByName("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetStudy(999).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TrialStoreTest, FinalSummaryOnlyForFinishedStudies) {
  auto before = store_->GetStudy(study_id_);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->final_json, "");
  absl::Status running = store_->SetStudyFinal(study_id_, R"({"complete":1})");
  EXPECT_EQ(running.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(running.message().find("still running"), std::string::npos) << running;
  EXPECT_EQ(store_->GetStudy(study_id_)->final_json, "") << "a refused write stores nothing";
  EXPECT_EQ(store_->SetStudyFinal(999, "{}").code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(store_->SetStudyState(study_id_, StudyState::kComplete, "study_complete", kNow).ok());
  ASSERT_TRUE(store_->SetStudyFinal(study_id_, R"({"complete":1})").ok());
  EXPECT_EQ(store_->GetStudy(study_id_)->final_json, R"({"complete":1})");
  EXPECT_EQ(store_->GetStudyByName("s")->final_json, R"({"complete":1})");
  EXPECT_EQ(store_->ListStudies()->front().final_json, R"({"complete":1})");
}

// Every query a controller makes per study, for study after study: the
// connections' prepared-statement caches must stop growing after the first
// (they once kept one statement per set of study ids, ~16 KiB per study).
TEST(TrialStoreCacheTest, PreparedStatementsDoNotGrowWithStudies) {
  auto store = TrialStore::Open(TempDbPath("stmt_cache"));
  ASSERT_TRUE(store.ok()) << store.status();
  size_t after_first = 0;
  for (int s = 0; s < 20; ++s) {
    auto study = (*store)->CreateStudy("s" + std::to_string(s), "{}", kNow);
    ASSERT_TRUE(study.ok()) << study.status();
    ASSERT_TRUE((*store)->CreateTrial(study->id, 0, "{}", TrialState::kWaiting, kNow).ok());
    const std::string token = "t" + std::to_string(s);
    auto leased = (*store)->LeaseNextWaiting({study->id}, "w", token, kNow + 1000, kNow);
    ASSERT_TRUE(leased.ok()) << leased.status();
    ASSERT_TRUE(leased->has_value()) << "the id filter finds the study's trial";
    EXPECT_EQ((**leased).study_id, study->id);
    ASSERT_TRUE((*store)->FinishLeasedTrial(token, Complete(s), kNow).ok());
    ASSERT_TRUE((*store)->ListTrials(study->id, std::nullopt, -1, 10 + s, false).ok());
    ASSERT_TRUE((*store)->ListTrials(study->id, TrialState::kComplete, -1, 0, false).ok());
    auto events = (*store)->EventsAfter(study->id, 0, 5 + s);
    ASSERT_TRUE(events.ok()) << events.status();
    EXPECT_FALSE(events->empty());
    for (const EventRecord& e : *events) EXPECT_EQ(e.study_id, study->id);
    ASSERT_TRUE((*store)->EventsAfter(0, 0, 0).ok());
    ASSERT_TRUE((*store)->SetStudyState(study->id, StudyState::kComplete, "study_complete", kNow)
                    .ok());
    if (s == 0) after_first = (*store)->CachedStatementCount();
  }
  EXPECT_GT(after_first, 0u);
  EXPECT_EQ((*store)->CachedStatementCount(), after_first);
}

TEST_F(TrialStoreTest, LeaseFiltersByAListOfStudies) {
  std::vector<int64_t> ids = {study_id_};
  for (int s = 0; s < 3; ++s) {
    auto other = store_->CreateStudy("o" + std::to_string(s), "{}", kNow);
    ASSERT_TRUE(other.ok());
    ids.push_back(other->id);
    ASSERT_TRUE(store_->CreateTrial(other->id, 0, "{}", TrialState::kWaiting, kNow).ok());
  }
  // Only the last two studies are asked for: their trials, oldest first.
  auto first = store_->LeaseNextWaiting({ids[3], ids[2]}, "w", "a", kNow + 1000, kNow);
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((**first).study_id, ids[2]);
  auto second = store_->LeaseNextWaiting({ids[3], ids[2]}, "w", "b", kNow + 1000, kNow);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((**second).study_id, ids[3]);
  auto none = store_->LeaseNextWaiting({ids[3], ids[2]}, "w", "c", kNow + 1000, kNow);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto any = store_->LeaseNextWaiting({}, "w", "d", kNow + 1000, kNow);
  ASSERT_TRUE(any.ok() && any->has_value());
  EXPECT_EQ((**any).study_id, ids[1]);
}

TEST_F(TrialStoreTest, TrialNumbersCountUpPerStudy) {
  auto other = store_->CreateStudy("other", "{}", kNow);
  ASSERT_TRUE(other.ok());
  for (int i = 0; i < 3; ++i) {
    auto t = store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->number, i);
  }
  auto t = store_->CreateTrial(other->id, 0, "{}", TrialState::kWaiting, kNow);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->number, 0);
  EXPECT_EQ(store_->CreateTrial(12345, 0, "{}", TrialState::kWaiting, kNow).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->CreateTrial(study_id_, 0, "{}", TrialState::kComplete, kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TrialStoreTest, WaitingRunningComplete) {
  ASSERT_TRUE(store_->CreateTrial(study_id_, 1, R"({"x":1})", TrialState::kWaiting, kNow).ok());
  TrialRecord leased = LeaseOne("tok");
  EXPECT_EQ(leased.state, TrialState::kRunning);
  EXPECT_EQ(leased.worker_id, "w1");
  EXPECT_EQ(leased.phase, 1);
  EXPECT_EQ(leased.params_json, R"({"x":1})");
  // Nothing else is waiting.
  auto none = store_->LeaseNextWaiting({}, "w2", "tok2", kNow + 1000, kNow);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  auto done = store_->FinishLeasedTrial("tok", Complete(0.5), kNow + 10);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state, TrialState::kComplete);
  EXPECT_EQ(done->value, 0.5);
  auto stored = store_->GetTrial(study_id_, 0);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, TrialState::kComplete);
  EXPECT_EQ(stored->finished_ms, kNow + 10);
}

TEST_F(TrialStoreTest, CompleteIsIdempotentOnTheToken) {
  ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  LeaseOne("tok");
  ASSERT_TRUE(store_->FinishLeasedTrial("tok", Complete(1.0), kNow).ok());
  auto again = store_->FinishLeasedTrial("tok", Complete(1.0), kNow + 5);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->finished_ms, kNow);  // the first call's record, unchanged
  // A different outcome on the same token is refused: the trial ended already.
  auto different = store_->FinishLeasedTrial("tok", Complete(2.0), kNow);
  EXPECT_EQ(different.status().code(), absl::StatusCode::kFailedPrecondition);
  TrialOutcome failed;
  failed.state = TrialState::kFailed;
  EXPECT_EQ(store_->FinishLeasedTrial("tok", failed, kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto events = store_->EventsAfter(study_id_, 0, 0);
  ASSERT_TRUE(events.ok());
  int completes = 0;
  for (const auto& e : *events) completes += e.kind == "complete";
  EXPECT_EQ(completes, 1);
}

TEST_F(TrialStoreTest, FinishAndCreateIsOneChange) {
  ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  LeaseOne("tok");
  bool queued = false;
  auto both = store_->FinishLeasedTrialAndCreate("tok", Complete(0.25), study_id_, 1,
                                                 {{0, R"({"x":2})"}}, kNow + 3,
                                                 [&] { queued = true; });
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_TRUE(queued);
  ASSERT_TRUE(both->finish_status.ok()) << both->finish_status;
  EXPECT_TRUE(both->finished_now);
  EXPECT_EQ(both->finished.number, 0);
  EXPECT_EQ(both->finished.state, TrialState::kComplete);
  ASSERT_EQ(both->created.size(), 1u);
  EXPECT_EQ(both->created[0].number, 1);
  EXPECT_EQ(store_->GetTrial(study_id_, 0)->state, TrialState::kComplete);
  EXPECT_EQ(store_->GetTrial(study_id_, 1)->state, TrialState::kWaiting);
  EXPECT_EQ(store_->GetTrial(study_id_, 1)->params_json, R"({"x":2})");

  // A repeat finds the finish done and says so; its replacements are stored
  // like any others (the numbers were the caller's to give).
  auto repeat = store_->FinishLeasedTrialAndCreate("tok", Complete(0.25), study_id_, 2,
                                                   {{0, "{}"}}, kNow + 4, nullptr);
  EXPECT_EQ(repeat.status().code(), absl::StatusCode::kOk);
  EXPECT_FALSE(repeat->finished_now);
  EXPECT_EQ(*store_->CountTrials(study_id_, std::nullopt), 3);
}

TEST_F(TrialStoreTest, RefusedFinishKeepsTheReplacementsNumbered) {
  ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  // A stale token: the finish is refused, the replacement (numbered by the
  // caller) is stored so that later numbers still follow on.
  auto both = store_->FinishLeasedTrialAndCreate("stale", Complete(1), study_id_, 1,
                                                 {{0, "{}"}}, kNow, nullptr);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->finish_status.code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(both->created.size(), 1u);
  EXPECT_EQ(both->created[0].number, 1);
  EXPECT_EQ(store_->GetTrial(study_id_, 0)->state, TrialState::kWaiting);
}

TEST_F(TrialStoreTest, CallerNumberedCreationRefusesAGap) {
  ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  LeaseOne("tok");
  // The caller believes trial 1 exists; the store's next is 1, so a batch
  // starting at 2 would leave a hole: nothing is stored, not even the finish.
  auto both = store_->FinishLeasedTrialAndCreate("tok", Complete(1), study_id_, 2, {{0, "{}"}},
                                                 kNow, nullptr);
  EXPECT_EQ(both.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->GetTrial(study_id_, 0)->state, TrialState::kRunning);
  EXPECT_EQ(store_->CreateTrials(study_id_, {{0, "{}"}}, kNow, 5).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(*store_->CountTrials(study_id_, std::nullopt), 1);
  auto right = store_->CreateTrials(study_id_, {{0, "{}"}}, kNow, 1);
  ASSERT_TRUE(right.ok()) << right.status();
  EXPECT_EQ((*right)[0].number, 1);
}

TEST_F(TrialStoreTest, StaleTokenIsRefused) {
  ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  EXPECT_EQ(store_->FinishLeasedTrial("never-issued", Complete(1), kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->FinishLeasedTrial("", Complete(1), kNow).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->AddIntermediateValue("never-issued", 1, 0.1, kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TrialStoreTest, ExpiredLeaseReturnsTrialToWaitingAndInvalidatesToken) {
  ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  LeaseOne("old", kNow + 100);
  ASSERT_TRUE(store_->AddIntermediateValue("old", 1, 0.3, kNow).ok());
  // Not expired yet.
  auto early = store_->ExpireLeases(kNow + 50, [](int64_t) { return 3; });
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->empty());
  auto expired = store_->ExpireLeases(kNow + 200, [](int64_t) { return 3; });
  ASSERT_TRUE(expired.ok());
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].state, TrialState::kWaiting);
  EXPECT_EQ((*expired)[0].attempt, 1);

  // The old worker can no longer finish or report.
  EXPECT_EQ(store_->FinishLeasedTrial("old", Complete(1), kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->AddIntermediateValue("old", 2, 0.3, kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Another worker gets it, with no intermediate values left from the lost run.
  auto again = store_->LeaseNextWaiting({}, "w2", "new", kNow + 1000, kNow);
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->number, 0);
  EXPECT_EQ((*again)->attempt, 1);
  auto with_values = store_->GetTrial(study_id_, 0);
  ASSERT_TRUE(with_values.ok());
  EXPECT_TRUE(with_values->intermediate_values.empty());
  EXPECT_TRUE(store_->FinishLeasedTrial("new", Complete(3), kNow).ok());
}

TEST_F(TrialStoreTest, ExpiryFailsTheTrialAfterMaxAttempts) {
  ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  for (int attempt = 0; attempt < 2; ++attempt) {
    LeaseOne("t" + std::to_string(attempt), kNow);
    auto expired = store_->ExpireLeases(kNow + 1, [](int64_t) { return 2; });
    ASSERT_TRUE(expired.ok());
    ASSERT_EQ(expired->size(), 1u);
    EXPECT_EQ((*expired)[0].state, attempt == 0 ? TrialState::kWaiting : TrialState::kFailed);
  }
  auto failed = store_->GetTrial(study_id_, 0);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->state, TrialState::kFailed);
  EXPECT_NE(failed->message.find("attempt 2 of 2"), std::string::npos) << failed->message;
}

TEST_F(TrialStoreTest, RenewedLeaseDoesNotExpire) {
  ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  LeaseOne("tok", kNow + 100);
  auto renewed = store_->RenewLeases({{"tok", kNow + 500}, {"gone", kNow + 500}});
  ASSERT_TRUE(renewed.ok());
  ASSERT_EQ(renewed->size(), 2u);
  EXPECT_TRUE((*renewed)[0].has_value());
  EXPECT_FALSE((*renewed)[1].has_value());
  auto expired = store_->ExpireLeases(kNow + 200, [](int64_t) { return 3; });
  ASSERT_TRUE(expired.ok());
  EXPECT_TRUE(expired->empty());
}

TEST_F(TrialStoreTest, ExtendLeasesToHonoursRunningTrialsAfterRestart) {
  ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  LeaseOne("tok", kNow + 100);
  ASSERT_TRUE(store_->ExtendLeasesTo(kNow + 10'000).ok());
  auto expired = store_->ExpireLeases(kNow + 5'000, [](int64_t) { return 3; });
  ASSERT_TRUE(expired.ok());
  EXPECT_TRUE(expired->empty());
}

TEST_F(TrialStoreTest, PrunedAndFailedOutcomes) {
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  }
  LeaseOne("a");
  LeaseOne("b");
  ASSERT_TRUE(store_->AddIntermediateValue("a", 1, 0.7, kNow).ok());
  auto values = store_->AddIntermediateValue("a", 2, 0.6, kNow);
  ASSERT_TRUE(values.ok());
  ASSERT_EQ(values->intermediate_values.size(), 2u);
  TrialOutcome pruned;
  pruned.state = TrialState::kPruned;
  pruned.value = 0.6;
  pruned.message = "median pruner";
  auto p = store_->FinishLeasedTrial("a", pruned, kNow);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->state, TrialState::kPruned);
  TrialOutcome failed;
  failed.state = TrialState::kFailed;
  failed.message = "exit 1";
  auto f = store_->FinishLeasedTrial("b", failed, kNow);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->message, "exit 1");
  // A pruned trial accepts no more values.
  EXPECT_EQ(store_->AddIntermediateValue("a", 3, 0.5, kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TrialStoreTest, AskTellTrialsAreFinishedByNumberOnly) {
  auto asked = store_->CreateTrial(study_id_, 0, "{}", TrialState::kRunning, kNow);
  ASSERT_TRUE(asked.ok());
  // Nobody can lease an asked trial.
  auto lease = store_->LeaseNextWaiting({}, "w", "t", kNow + 10, kNow);
  ASSERT_TRUE(lease.ok());
  EXPECT_FALSE(lease->has_value());
  // Nor does its "lease" expire.
  auto expired = store_->ExpireLeases(kNow + 1'000'000, [](int64_t) { return 1; });
  ASSERT_TRUE(expired.ok());
  EXPECT_TRUE(expired->empty());
  auto told = store_->FinishTrialByNumber(study_id_, 0, Complete(4.0), kNow);
  ASSERT_TRUE(told.ok()) << told.status();
  EXPECT_TRUE(store_->FinishTrialByNumber(study_id_, 0, Complete(4.0), kNow).ok());
  EXPECT_EQ(store_->FinishTrialByNumber(study_id_, 0, Complete(5.0), kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->FinishTrialByNumber(study_id_, 7, Complete(5.0), kNow).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TrialStoreTest, WorkerHeldTrialCannotBeToldByNumber) {
  ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  LeaseOne("tok");
  EXPECT_EQ(store_->FinishTrialByNumber(study_id_, 0, Complete(1), kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TrialStoreTest, CancelledStudyLeasesNothingAndFailsOpenTrials) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  }
  LeaseOne("tok");
  ASSERT_TRUE(store_->SetStudyState(study_id_, StudyState::kCancelled, "cancelled", kNow).ok());
  auto lease = store_->LeaseNextWaiting({}, "w", "t2", kNow + 10, kNow);
  ASSERT_TRUE(lease.ok());
  EXPECT_FALSE(lease->has_value());
  auto failed = store_->FailOpenTrials(study_id_, "study cancelled", kNow);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->size(), 3u);
  auto count = store_->CountTrials(study_id_, TrialState::kFailed);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 3);
  EXPECT_EQ(store_->FinishLeasedTrial("tok", Complete(1), kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TrialStoreTest, LeaseFiltersByStudy) {
  auto other = store_->CreateStudy("other", "{}", kNow);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  ASSERT_TRUE(store_->CreateTrial(other->id, 0, "{}", TrialState::kWaiting, kNow).ok());
  auto leased = store_->LeaseNextWaiting({other->id}, "w", "t", kNow + 10, kNow);
  ASSERT_TRUE(leased.ok() && leased->has_value());
  EXPECT_EQ((*leased)->study_id, other->id);
}

TEST_F(TrialStoreTest, ListTrialsPagesAndFilters) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->CreateTrial(study_id_, 0, "{}", TrialState::kWaiting, kNow).ok());
  }
  LeaseOne("a");
  auto page1 = store_->ListTrials(study_id_, std::nullopt, -1, 2, false);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->size(), 2u);
  auto page2 = store_->ListTrials(study_id_, std::nullopt, page1->back().number, 2, false);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 2u);
  EXPECT_EQ((*page2)[0].number, 2);
  auto running = store_->ListTrials(study_id_, TrialState::kRunning, -1, 0, false);
  ASSERT_TRUE(running.ok());
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ((*running)[0].number, 0);
}

TEST_F(TrialStoreTest, WorkersUpsertAndTouch) {
  WorkerRecord w;
  w.id = "w-1";
  w.name = "gpu0";
  w.hostname = "node1";
  w.slots = 2;
  w.objective_types = "builtin,command";
  w.registered_ms = kNow;
  w.last_heartbeat_ms = kNow;
  ASSERT_TRUE(store_->UpsertWorker(w).ok());
  ASSERT_TRUE(store_->TouchWorker("w-1", kNow + 5).ok());
  EXPECT_EQ(store_->TouchWorker("w-2", kNow).code(), absl::StatusCode::kNotFound);
  auto workers = store_->ListWorkers();
  ASSERT_TRUE(workers.ok());
  ASSERT_EQ(workers->size(), 1u);
  EXPECT_EQ((*workers)[0].last_heartbeat_ms, kNow + 5);
  EXPECT_EQ((*workers)[0].slots, 2);
}

// Many threads leasing and completing at once on a real file: every trial is
// leased once and completed once, and the event log agrees with the table.
TEST(TrialStoreFileTest, ConcurrentLeaseAndCompleteNeverDoubleCompletes) {
  const std::string path = TempDbPath("concurrent");
  auto opened = TrialStore::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  auto store = std::move(*opened);
  auto study = store->CreateStudy("c", "{}", kNow);
  ASSERT_TRUE(study.ok());
  constexpr int kTrials = 400;
  for (int i = 0; i < kTrials; ++i) {
    ASSERT_TRUE(store->CreateTrial(study->id, 0, "{}", TrialState::kWaiting, kNow).ok());
  }
  std::atomic<int> completed{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 8; ++w) {
    threads.emplace_back([&, w] {
      for (int n = 0;; ++n) {
        std::string token = "w" + std::to_string(w) + "-" + std::to_string(n);
        auto leased = store->LeaseNextWaiting({}, "w", token, kNow + 1000, kNow);
        ASSERT_TRUE(leased.ok()) << leased.status();
        if (!leased->has_value()) return;
        auto done = store->FinishLeasedTrial(token, Complete((*leased)->number), kNow);
        ASSERT_TRUE(done.ok()) << done.status();
        completed++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(completed.load(), kTrials);
  auto complete = store->ListTrials(study->id, TrialState::kComplete, -1, 0, false);
  ASSERT_TRUE(complete.ok());
  ASSERT_EQ(complete->size(), static_cast<size_t>(kTrials));
  for (const auto& t : *complete) EXPECT_EQ(t.value, static_cast<double>(t.number));
  auto events = store->EventsAfter(study->id, 0, 0);
  ASSERT_TRUE(events.ok());
  std::set<int64_t> completed_numbers;
  for (const auto& e : *events) {
    if (e.kind == "complete") EXPECT_TRUE(completed_numbers.insert(e.trial_number).second);
  }
  EXPECT_EQ(completed_numbers.size(), static_cast<size_t>(kTrials));
  auto integrity = store->IntegrityCheck();
  ASSERT_TRUE(integrity.ok());
  EXPECT_EQ(*integrity, "ok");
}

// The asynchronous forms answer on the commit thread, in commit order, only
// once the change is durable, and a synchronous write from that thread fails
// instead of waiting on itself.
TEST(TrialStoreFileTest, AsyncCallsAnswerInCommitOrderOnceDurable) {
  const std::string path = TempDbPath("async");
  auto opened = TrialStore::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  auto store = std::move(*opened);
  auto study = store->CreateStudy("a", "{}", kNow);
  ASSERT_TRUE(study.ok());
  constexpr int kTrials = 50;
  for (int i = 0; i < kTrials; ++i) {
    ASSERT_TRUE(store->CreateTrial(study->id, 0, "{}", TrialState::kWaiting, kNow).ok());
  }
  std::mutex mu;
  std::vector<int64_t> leased_numbers;  // in the order the callbacks ran
  std::atomic<int> answered{0};
  absl::Status from_callback;
  for (int i = 0; i < kTrials + 1; ++i) {
    store->LeaseNextWaitingAsync(
        {study->id}, "w", "t" + std::to_string(i), kNow + 1000, kNow,
        [&, i](absl::StatusOr<std::optional<TrialRecord>> leased) {
          std::lock_guard<std::mutex> lock(mu);
          ASSERT_TRUE(leased.ok()) << leased.status();
          if (i == kTrials) {
            EXPECT_FALSE(leased->has_value());  // all taken by the calls before it
            from_callback = store->SetStudyPhase(study->id, 1, "", kNow);
          } else {
            ASSERT_TRUE(leased->has_value());
            leased_numbers.push_back((*leased)->number);
          }
          answered++;
        });
  }
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(answered.load(), kTrials + 1);
  // Queued in this order, committed in this order: trial i went to call i.
  ASSERT_EQ(leased_numbers.size(), static_cast<size_t>(kTrials));
  for (int i = 0; i < kTrials; ++i) EXPECT_EQ(leased_numbers[i], i);
  EXPECT_TRUE(absl::IsFailedPrecondition(from_callback)) << from_callback;
  // Durable: a second connection to the file sees every lease.
  auto reopened = TrialStore::Open(path);
  ASSERT_TRUE(reopened.ok());
  auto running = (*reopened)->CountTrials(study->id, TrialState::kRunning);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(*running, kTrials);

  // A finish and its replacement in one change, answered the same way; a
  // refused finish still stores the replacement.
  std::atomic<int> finished{0};
  store->FinishLeasedTrialAndCreateAsync(
      "t0", Complete(0), study->id, kTrials, {{0, R"({"x": 1})"}}, kNow,
      [&](absl::StatusOr<TrialStore::FinishedAndCreated> done) {
        ASSERT_TRUE(done.ok()) << done.status();
        EXPECT_TRUE(done->finish_status.ok());
        EXPECT_TRUE(done->finished_now);
        ASSERT_EQ(done->created.size(), 1u);
        EXPECT_EQ(done->created[0].number, kTrials);
        finished++;
      });
  store->FinishLeasedTrialAndCreateAsync(
      "no-such-token", Complete(0), study->id, kTrials + 1, {{0, "{}"}}, kNow,
      [&](absl::StatusOr<TrialStore::FinishedAndCreated> done) {
        ASSERT_TRUE(done.ok()) << done.status();
        EXPECT_TRUE(absl::IsFailedPrecondition(done->finish_status)) << done->finish_status;
        ASSERT_EQ(done->created.size(), 1u);
        EXPECT_EQ(done->created[0].number, kTrials + 1);
        finished++;
      });
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(finished.load(), 2);
}

// Reads on the WAL reader connection see every committed write: a cached
// statement left mid-step must not pin an old snapshot.
TEST(TrialStoreFileTest, ReadsSeeLaterWrites) {
  const std::string path = TempDbPath("snapshot");
  auto opened = TrialStore::Open(path);
  ASSERT_TRUE(opened.ok());
  auto store = std::move(*opened);
  for (int s = 0; s < 3; ++s) {
    auto study = store->CreateStudy("s" + std::to_string(s), "{}", kNow);
    ASSERT_TRUE(study.ok());
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(store->CreateTrial(study->id, 0, "{}", TrialState::kWaiting, kNow).ok());
      auto count = store->CountTrials(study->id, std::nullopt);
      ASSERT_TRUE(count.ok());
      EXPECT_EQ(*count, i + 1);
    }
    auto listed = store->ListTrials(study->id, std::nullopt, -1, 0, false);
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->size(), 3u) << "study " << s;
    auto trial = store->GetTrial(study->id, 2);
    EXPECT_TRUE(trial.ok()) << trial.status();
  }
}

TEST(TrialStoreFileTest, ReopenKeepsEverything) {
  const std::string path = TempDbPath("reopen");
  {
    auto store = TrialStore::Open(path);
    ASSERT_TRUE(store.ok());
    auto study = (*store)->CreateStudy("keep", R"({"a":1})", kNow);
    ASSERT_TRUE(study.ok());
    ASSERT_TRUE((*store)->CreateTrial(study->id, 0, "{}", TrialState::kWaiting, kNow).ok());
  }
  auto store = TrialStore::Open(path);
  ASSERT_TRUE(store.ok());
  auto study = (*store)->GetStudyByName("keep");
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->spec_json, R"({"a":1})");
  auto count = (*store)->CountTrials(study->id, std::nullopt);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);
}

TEST(TrialStoreFileTest, UnopenablePathNamesThePath) {
  auto store = TrialStore::Open("/nonexistent-dir/x/trials.db");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/nonexistent-dir/x/trials.db"), std::string::npos)
      << store.status();
}

}  // namespace
}  // namespace peftsearch::storage

namespace peftsearch::storage {
namespace {

TEST(TrialStoreTokens, CreateFindRevokeAndWorkerBinding) {
  auto store = OpenMemory();
  auto count = store->CountTokens();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 0);
  auto t = store->CreateToken("ci", "submit", "abc123", kNow);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_GT(t->id, 0);
  EXPECT_EQ(store->CreateToken("ci", "read", "other", kNow).status().code(),
            absl::StatusCode::kAlreadyExists);
  auto found = store->FindToken("abc123");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->role, "submit");
  EXPECT_EQ(found->name, "ci");
  EXPECT_EQ(store->FindToken("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*store->CountTokens(), 1);

  ASSERT_TRUE(store->RevokeToken("ci", kNow + 1).ok());
  EXPECT_EQ(store->FindToken("abc123").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->RevokeToken("ci", kNow + 2).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*store->CountTokens(), 1);  // revoked tokens still count
  auto all = store->ListTokens();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].revoked_ms, kNow + 1);

  auto w = store->CreateToken("w", "worker", "def", kNow);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(store->RevokeToken(std::to_string(w->id), kNow).ok());

  EXPECT_EQ(store->WorkerToken("w1").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store->BindWorkerToken("w1", "def").ok());
  ASSERT_TRUE(store->BindWorkerToken("w1", "ghi").ok());
  auto bound = store->WorkerToken("w1");
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ(*bound, "ghi");
}

}  // namespace
}  // namespace peftsearch::storage
