#include "controller/study_engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <cstdio>
#include <thread>
#include <vector>

namespace peftsearch::controller {
namespace {

using storage::TrialState;

std::string Spec(const std::string& name, int max_trials, int parallelism,
                 const std::string& extra = "", const std::string& objective =
                     R"({"type": "builtin", "function": "branin"})") {
  return R"({"name": ")" + name + R"(", "direction": "minimize",
    "space": {"x": {"type": "float", "low": -5, "high": 10},
              "y": {"type": "float", "low": 0, "high": 15}},
    "sampler": {"type": "random", "seed": 7},
    "objective": )" + objective + R"(,
    "max_trials": )" + std::to_string(max_trials) + R"(, "parallelism": )" +
         std::to_string(parallelism) + extra + "}";
}

struct Clock {
  std::atomic<int64_t> now{1'700'000'000'000};
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { engine_ = OpenEngine(":memory:"); }

  std::unique_ptr<StudyEngine> OpenEngine(const std::string& path) {
    auto store = storage::TrialStore::Open(path);
    EXPECT_TRUE(store.ok()) << store.status();
    EngineOptions options;
    options.now_ms = [this] { return clock_.now.load(); };
    options.restart_grace_ms = 1000;
    auto engine = StudyEngine::Open(std::move(*store), options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return std::move(*engine);
  }

  Assignment Acquire(StudyEngine* engine, const std::string& worker = "w1") {
    auto a = engine->AcquireTrial(worker, {}, 0, nullptr);
    EXPECT_TRUE(a.ok()) << a.status();
    EXPECT_TRUE(a->has_value());
    return **a;
  }

  Clock clock_;
  std::unique_ptr<StudyEngine> engine_;
};

TEST_F(EngineTest, StudyRunsToCompletionKeepingParallelism) {
  auto study = engine_->CreateStudy(Spec("s", 5, 2));
  ASSERT_TRUE(study.ok()) << study.status();
  EXPECT_EQ(study->counts.waiting, 2);  // the queue holds `parallelism` trials
  for (int i = 0; i < 5; ++i) {
    Assignment a = Acquire(engine_.get());
    EXPECT_EQ(a.study_name, "s");
    EXPECT_NE(a.objective_json.find("branin"), std::string::npos);
    auto params = Json::parse(a.trial.params_json);
    EXPECT_GE(params["x"].get<double>(), -5);
    EXPECT_LE(params["y"].get<double>(), 15);
    auto state = engine_->CompleteTrial(a.trial.lease_token, i, "{}");
    ASSERT_TRUE(state.ok()) << state.status();
    auto view = engine_->GetStudy("s");
    ASSERT_TRUE(view.ok());
    EXPECT_LE(view->counts.waiting + view->counts.running, 2);
  }
  auto none = engine_->AcquireTrial("w1", {}, 0, nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto view = engine_->GetStudy("s");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->record.state, storage::StudyState::kComplete);
  EXPECT_EQ(view->counts.complete, 5);
  EXPECT_EQ(view->best_value, 0.0);
  EXPECT_EQ(view->best_trial_number, 0);
  auto best = engine_->BestTrials("s", 3);
  ASSERT_TRUE(best.ok());
  ASSERT_EQ(best->size(), 3u);
  EXPECT_EQ((*best)[0].value, 0.0);
  EXPECT_EQ((*best)[2].value, 2.0);
}

// Completions of one study from many threads: each completion's commit also
// stores the next trial (numbered in memory), so concurrent completions must
// still number every trial exactly once and keep the counts right. Also the
// TSan target for that path (CI runs this test under --config=tsan).
TEST_F(EngineTest, ConcurrentCompletionsNumberEveryTrialOnce) {
  constexpr int kTrials = 300, kThreads = 8;
  ASSERT_TRUE(engine_->CreateStudy(Spec("many", kTrials, kThreads)).ok());
  std::atomic<int> completed{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string worker = "w" + std::to_string(t);
      while (completed.load() < kTrials) {
        auto a = engine_->AcquireTrial(worker, {}, 20, nullptr);
        if (!a.ok()) {
          errors++;
          return;
        }
        if (!a->has_value()) continue;
        auto state = engine_->CompleteTrial((*a)->trial.lease_token, (*a)->trial.number, "{}");
        if (!state.ok() || *state != TrialState::kComplete) {
          errors++;
          return;
        }
        completed++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  auto view = engine_->GetStudy("many");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->record.state, storage::StudyState::kComplete);
  EXPECT_EQ(view->counts.complete, kTrials);
  EXPECT_EQ(view->counts.waiting + view->counts.running, 0);
  auto page = engine_->ListTrials("many", std::nullopt, 1000, "", false);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->trials.size(), static_cast<size_t>(kTrials));
  for (int i = 0; i < kTrials; ++i) {
    EXPECT_EQ(page->trials[i].number, i);
    EXPECT_EQ(page->trials[i].state, TrialState::kComplete);
    EXPECT_EQ(page->trials[i].value, static_cast<double>(i));  // each its own result
  }
}

// Workers as the gRPC handlers drive the engine: each acquire's answer starts
// the completion and each completion's answer the next acquire, all from the
// callbacks (the store's commit thread), with no thread waiting on a commit.
TEST_F(EngineTest, AsyncAcquireAndCompleteChainsFinishTheStudy) {
  constexpr int kTrials = 400, kWorkers = 16;
  ASSERT_TRUE(engine_->CreateStudy(Spec("chained", kTrials, kWorkers)).ok());
  std::mutex mu;
  std::condition_variable cv;
  int workers_done = 0;
  std::atomic<int> completed{0}, errors{0};
  std::function<void(int)> acquire = [&](int w) {
    engine_->AcquireTrialAsync(
        "w" + std::to_string(w), {}, 50,
        [&, w](absl::StatusOr<std::optional<Assignment>> a) {
          if (!a.ok() || !a->has_value()) {
            if (!a.ok()) errors++;
            // Nothing left to lease (the study is done) or an error: stop.
            std::lock_guard<std::mutex> lock(mu);
            ++workers_done;
            cv.notify_all();
            return;
          }
          const storage::TrialRecord& trial = (*a)->trial;
          engine_->CompleteTrialAsync(trial.lease_token, static_cast<double>(trial.number), "{}",
                                      [&, w](absl::StatusOr<TrialState> state) {
                                        if (!state.ok() || *state != TrialState::kComplete) {
                                          errors++;
                                        } else {
                                          completed++;
                                        }
                                        acquire(w);
                                      });
        });
  };
  for (int w = 0; w < kWorkers; ++w) acquire(w);
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return workers_done == kWorkers; }));
  }
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(completed.load(), kTrials);
  auto view = engine_->GetStudy("chained");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->record.state, storage::StudyState::kComplete);
  EXPECT_EQ(view->counts.complete, kTrials);
  auto page = engine_->ListTrials("chained", std::nullopt, 1000, "", false);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->trials.size(), static_cast<size_t>(kTrials));
  for (int i = 0; i < kTrials; ++i) {
    EXPECT_EQ(page->trials[i].number, i);
    EXPECT_EQ(page->trials[i].value, static_cast<double>(i));
  }
}

TEST_F(EngineTest, BadSpecStoresNothing) {
  auto study = engine_->CreateStudy(R"({"name": "bad", "direction": "sideways"})");
  EXPECT_EQ(study.status().code(), absl::StatusCode::kInvalidArgument);
  auto studies = engine_->ListStudies();
  ASSERT_TRUE(studies.ok());
  EXPECT_TRUE(studies->empty());
  ASSERT_TRUE(engine_->CreateStudy(Spec("dup", 1, 1)).ok());
  EXPECT_EQ(engine_->CreateStudy(Spec("dup", 1, 1)).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(EngineTest, ExpiredLeaseIsRetriedAndOldTokenRefused) {
  ASSERT_TRUE(engine_->CreateStudy(Spec("e", 1, 1, R"(, "lease_seconds": 5)")).ok());
  Assignment first = Acquire(engine_.get(), "w1");
  clock_.now += 6000;
  ASSERT_TRUE(engine_->SweepOnce().ok());
  Assignment second = Acquire(engine_.get(), "w2");
  EXPECT_EQ(second.trial.number, first.trial.number);
  EXPECT_EQ(second.trial.attempt, 1);
  EXPECT_EQ(engine_->CompleteTrial(first.trial.lease_token, 1, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(engine_->CompleteTrial(second.trial.lease_token, 2, "").ok());
  // Retrying the accepted call is harmless.
  auto again = engine_->CompleteTrial(second.trial.lease_token, 2, "");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, TrialState::kComplete);
  auto view = engine_->GetStudy("e");
  EXPECT_EQ(view->counts.complete, 1);
  EXPECT_EQ(view->record.state, storage::StudyState::kComplete);
}

TEST_F(EngineTest, HeartbeatKeepsLeaseAliveAndReportsLostOnes) {
  ASSERT_TRUE(engine_->CreateStudy(Spec("h", 2, 2, R"(, "lease_seconds": 5)")).ok());
  ASSERT_TRUE(engine_->RegisterWorker({"w1", "n", "host", 2, "builtin", 0, 0}).ok());
  Assignment a = Acquire(engine_.get(), "w1");
  for (int i = 0; i < 4; ++i) {
    clock_.now += 3000;
    auto leases = engine_->Heartbeat("w1", {a.trial.lease_token, "bogus"});
    ASSERT_TRUE(leases.ok()) << leases.status();
    EXPECT_TRUE((*leases)[0].valid);
    EXPECT_FALSE((*leases)[1].valid);
    ASSERT_TRUE(engine_->SweepOnce().ok());
  }
  EXPECT_TRUE(engine_->CompleteTrial(a.trial.lease_token, 1, "").ok());
  EXPECT_EQ(engine_->Heartbeat("nobody", {}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, TrialFailsAfterMaxAttempts) {
  ASSERT_TRUE(
      engine_->CreateStudy(Spec("f", 1, 1, R"(, "lease_seconds": 1, "max_attempts": 2)")).ok());
  for (int attempt = 0; attempt < 2; ++attempt) {
    Acquire(engine_.get());
    clock_.now += 2000;
    ASSERT_TRUE(engine_->SweepOnce().ok());
  }
  auto view = engine_->GetStudy("f");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->counts.failed, 1);
  EXPECT_EQ(view->record.state, storage::StudyState::kComplete);
}

TEST_F(EngineTest, FailTrialRecordsMessage) {
  ASSERT_TRUE(engine_->CreateStudy(Spec("fm", 1, 1)).ok());
  Assignment a = Acquire(engine_.get());
  auto state = engine_->FailTrial(a.trial.lease_token, "exit status 3: boom");
  ASSERT_TRUE(state.ok());
  auto trial = engine_->GetTrial("fm", 0);
  ASSERT_TRUE(trial.ok());
  EXPECT_EQ(trial->state, TrialState::kFailed);
  EXPECT_EQ(trial->message, "exit status 3: boom");
}

TEST_F(EngineTest, AskTellRoundTrip) {
  ASSERT_TRUE(engine_->CreateStudy(Spec("ext", 2, 1, "", R"({"type": "external"})")).ok());
  // External trials are never handed to workers.
  auto none = engine_->AcquireTrial("w1", {}, 0, nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  for (int i = 0; i < 2; ++i) {
    auto asked = engine_->AskTrial("ext");
    ASSERT_TRUE(asked.ok()) << asked.status();
    EXPECT_EQ(asked->number, i);
    EXPECT_EQ(asked->state, TrialState::kRunning);
    storage::TrialOutcome outcome;
    outcome.value = 10.0 - i;
    auto told = engine_->TellTrial("ext", asked->number, outcome);
    ASSERT_TRUE(told.ok()) << told.status();
  }
  EXPECT_EQ(engine_->AskTrial("ext").status().code(), absl::StatusCode::kFailedPrecondition);
  auto view = engine_->GetStudy("ext");
  EXPECT_EQ(view->record.state, storage::StudyState::kComplete);
  EXPECT_EQ(view->best_value, 9.0);
  // Ask on a worker-run study is refused with the reason.
  ASSERT_TRUE(engine_->CreateStudy(Spec("w", 1, 1)).ok());
  EXPECT_EQ(engine_->AskTrial("w").status().code(), absl::StatusCode::kFailedPrecondition);
}

// Found by the dashboard's browser test: an external hybrid study has no
// max_trials and must end when its strategy has no trial left.
TEST_F(EngineTest, ExternalHybridStudyCompletesWithoutMaxTrials) {
  ASSERT_TRUE(engine_->CreateStudy(R"({"name": "hx", "direction": "maximize",
      "strategy": {"type": "hybrid_peft", "n1": 2, "n2": 1, "final": true},
      "objective": {"type": "external"}})").ok());
  for (int i = 0; i < 4; ++i) {
    auto asked = engine_->AskTrial("hx");
    ASSERT_TRUE(asked.ok()) << i << ": " << asked.status();
    storage::TrialOutcome outcome;
    outcome.value = 50.0 + i;
    ASSERT_TRUE(engine_->TellTrial("hx", asked->number, outcome).ok());
  }
  auto view = engine_->GetStudy("hx");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->record.state, storage::StudyState::kComplete);
  EXPECT_EQ(view->max_trials, 4);
  EXPECT_EQ(view->record.phase, 3);
}

TEST_F(EngineTest, CancelStopsEverything) {
  ASSERT_TRUE(engine_->CreateStudy(Spec("c", 10, 2)).ok());
  ASSERT_TRUE(engine_->RegisterWorker({"w1", "n", "host", 1, "builtin", 0, 0}).ok());
  Assignment a = Acquire(engine_.get(), "w1");
  auto cancelled = engine_->CancelStudy("c");
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->record.state, storage::StudyState::kCancelled);
  EXPECT_EQ(cancelled->counts.failed, 2);
  auto leases = engine_->Heartbeat("w1", {a.trial.lease_token});
  ASSERT_TRUE(leases.ok());
  EXPECT_FALSE((*leases)[0].valid);
  EXPECT_TRUE((*leases)[0].cancel);
  auto action = engine_->ReportProgress(a.trial.lease_token, 1, 0.5, nullptr);
  ASSERT_TRUE(action.ok()) << action.status();
  EXPECT_EQ(*action, ProgressAction::kCancel);
  EXPECT_EQ(engine_->CancelStudy("c").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EngineTest, ListTrialsPages) {
  ASSERT_TRUE(engine_->CreateStudy(Spec("p", 5, 5)).ok());
  auto page1 = engine_->ListTrials("p", std::nullopt, 2, "", false);
  ASSERT_TRUE(page1.ok());
  EXPECT_EQ(page1->trials.size(), 2u);
  EXPECT_EQ(page1->total_size, 5);
  EXPECT_FALSE(page1->next_page_token.empty());
  auto page2 = engine_->ListTrials("p", std::nullopt, 10, page1->next_page_token, false);
  ASSERT_TRUE(page2.ok());
  EXPECT_EQ(page2->trials.size(), 3u);
  EXPECT_TRUE(page2->next_page_token.empty());
  EXPECT_EQ(engine_->ListTrials("p", std::nullopt, 2, "garbage", false).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->ListTrials("nope", std::nullopt, 2, "", false).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, RestartResumesAndHonoursRunningLeases) {
  const std::string path = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
                           "/engine_restart_" + std::to_string(getpid()) + ".db";
  std::remove(path.c_str());
  std::string token;
  {
    auto engine = OpenEngine(path);
    ASSERT_TRUE(engine->CreateStudy(Spec("r", 3, 2, R"(, "lease_seconds": 2)")).ok());
    token = Acquire(engine.get()).trial.lease_token;
  }
  // Down for longer than the lease: the restart grace keeps it.
  clock_.now += 3000;
  auto engine = OpenEngine(path);
  ASSERT_TRUE(engine->SweepOnce().ok());
  ASSERT_TRUE(engine->CompleteTrial(token, 1.5, "").ok());
  for (int i = 0; i < 2; ++i) {
    Assignment a = Acquire(engine.get());
    ASSERT_TRUE(engine->CompleteTrial(a.trial.lease_token, 1, "").ok());
  }
  auto view = engine->GetStudy("r");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->counts.complete, 3);
  EXPECT_EQ(view->record.state, storage::StudyState::kComplete);
}

TEST_F(EngineTest, LongPollWakesWhenATrialAppears) {
  ASSERT_TRUE(engine_->CreateStudy(Spec("lp", 2, 1)).ok());
  Assignment a = Acquire(engine_.get());
  std::thread completer([&] {
    usleep(100'000);
    ASSERT_TRUE(engine_->CompleteTrial(a.trial.lease_token, 1, "").ok());
  });
  auto b = engine_->AcquireTrial("w2", {}, 5000, nullptr);
  completer.join();
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(b->has_value());
  EXPECT_EQ((*b)->trial.number, 1);
}

TEST_F(EngineTest, MedianPrunerStopsABadTrial) {
  ASSERT_TRUE(engine_->CreateStudy(Spec("pr", 4, 1,
                                        R"(, "pruner": {"type": "median", "n_startup_trials": 2})"))
                  .ok());
  for (int i = 0; i < 2; ++i) {
    Assignment a = Acquire(engine_.get());
    for (int step = 1; step <= 3; ++step) {
      auto action = engine_->ReportProgress(a.trial.lease_token, step, 1.0 + i, nullptr);
      ASSERT_TRUE(action.ok()) << action.status();
      EXPECT_EQ(*action, ProgressAction::kContinue);
    }
    ASSERT_TRUE(engine_->CompleteTrial(a.trial.lease_token, 1.0 + i, "").ok());
  }
  Assignment bad = Acquire(engine_.get());
  auto action = engine_->ReportProgress(bad.trial.lease_token, 1, 50.0, nullptr);
  ASSERT_TRUE(action.ok()) << action.status();
  EXPECT_EQ(*action, ProgressAction::kPrune);
  auto trial = engine_->GetTrial("pr", bad.trial.number);
  ASSERT_TRUE(trial.ok());
  EXPECT_EQ(trial->state, TrialState::kPruned);
  EXPECT_EQ(trial->value, 50.0);  // a pruned trial keeps its last value, as in Optuna
  EXPECT_NE(trial->message.find("median pruner at step 1"), std::string::npos) << trial->message;
  // The worker's late CompleteTrial is refused; its FailTrial is a no-op.
  EXPECT_EQ(engine_->CompleteTrial(bad.trial.lease_token, 1, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto failed = engine_->FailTrial(bad.trial.lease_token, "killed");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(*failed, TrialState::kPruned);
  // A good trial continues.
  Assignment good = Acquire(engine_.get());
  auto ok = engine_->ReportProgress(good.trial.lease_token, 1, 0.5, nullptr);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, ProgressAction::kContinue);
}

TEST_F(EngineTest, ObjectiveTypeFilter) {
  ASSERT_TRUE(engine_->CreateStudy(Spec("t", 1, 1)).ok());
  auto none = engine_->AcquireTrial("w", {"command"}, 0, nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto some = engine_->AcquireTrial("w", {"command", "builtin"}, 0, nullptr);
  ASSERT_TRUE(some.ok());
  EXPECT_TRUE(some->has_value());
}

}  // namespace
}  // namespace peftsearch::controller
