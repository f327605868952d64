// The engine's parked calls (AcquireTrialAsync, WaitForChangeAsync): nothing
// blocks the caller; the waiter thread answers them when a trial comes or the
// version moves, at their deadline, on cancellation and on Stop. Also a TSan
// target (CI runs it under --config=tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "controller/engine_test_util.h"
#include "controller/study_engine.h"

namespace peftsearch::controller {
namespace {

using Clock = std::chrono::steady_clock;
using Result = absl::StatusOr<std::optional<Assignment>>;

std::string Spec(const std::string& name, int max_trials, int parallelism) {
  return R"({"name": ")" + name + R"(", "direction": "minimize",
    "space": {"x": {"type": "float", "low": 0, "high": 1}},
    "sampler": {"type": "random", "seed": 3},
    "objective": {"type": "builtin", "function": "sphere"},
    "max_trials": )" +
         std::to_string(max_trials) + R"(, "parallelism": )" + std::to_string(parallelism) + "}";
}

// One parked acquire's answer, delivered on whatever thread answers it.
struct Answer {
  std::promise<Result> promise;
  std::future<Result> future = promise.get_future();
  std::atomic<int> calls{0};
  StudyEngine::AcquireDone Done() {
    return [this](Result r) {
      if (calls.fetch_add(1) == 0) promise.set_value(std::move(r));
    };
  }
  bool Ready(std::chrono::milliseconds within) {
    return future.wait_for(within) == std::future_status::ready;
  }
};

class ParkedCallsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine_ = NewMemoryEngine();
    ASSERT_NE(engine_, nullptr);
  }

  // Creates a study with one slot and leases its only WAITING trial, so that
  // the next acquire has to park.
  Assignment FillTheOnlySlot(const std::string& name, int max_trials) {
    EXPECT_TRUE(engine_->CreateStudy(Spec(name, max_trials, 1)).ok());
    auto a = engine_->AcquireTrial("w0", {}, 0, nullptr);
    EXPECT_TRUE(a.ok() && a->has_value());
    return **a;
  }

  std::unique_ptr<StudyEngine> engine_;
};

TEST_F(ParkedCallsTest, AnsweredOnceTheLeaseCommitsWhenATrialIsWaiting) {
  ASSERT_TRUE(engine_->CreateStudy(Spec("now", 2, 1)).ok());
  Answer answer;
  engine_->AcquireTrialAsync("w1", {}, 30000, answer.Done());
  // From the commit thread, long before the deadline: it did not park.
  ASSERT_TRUE(answer.Ready(std::chrono::seconds(5)));
  Result r = answer.future.get();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->trial.number, 0);
  EXPECT_EQ((*r)->trial.worker_id, "w1");
}

TEST_F(ParkedCallsTest, AcquireCancelledWhileItsLeaseCommitsDoesNotPark) {
  // One WAITING trial, two acquires: both see it and both try to lease it;
  // the second in commit order finds none. The second is cancelled at once,
  // usually while its lease is still committing, and must then end at once
  // instead of parking until its deadline.
  ASSERT_TRUE(engine_->CreateStudy(Spec("race", 2, 1)).ok());
  Answer first, second;
  engine_->AcquireTrialAsync("w1", {}, 30000, first.Done());
  const uint64_t handle = engine_->AcquireTrialAsync("w2", {}, 30000, second.Done());
  engine_->CancelAcquire(handle);
  ASSERT_TRUE(second.Ready(std::chrono::seconds(5)));
  Result r2 = second.future.get();
  ASSERT_TRUE(r2.ok()) << r2.status();
  if (r2->has_value()) {
    // The second won the race (a trial on its way is still handed out); the
    // first, not cancelled, waits for the next trial.
    EXPECT_EQ((*r2)->trial.number, 0);
    EXPECT_FALSE(first.Ready(std::chrono::milliseconds(200)));
  } else {
    ASSERT_TRUE(first.Ready(std::chrono::seconds(5)));
    Result r1 = first.future.get();
    ASSERT_TRUE(r1.ok() && r1->has_value());
    EXPECT_EQ((*r1)->trial.number, 0);
  }
}

TEST_F(ParkedCallsTest, ParkedAcquireGetsATrialCreatedAfterItParked) {
  Assignment first = FillTheOnlySlot("later", 2);
  Answer answer;
  const uint64_t handle = engine_->AcquireTrialAsync("w1", {}, 10000, answer.Done());
  EXPECT_NE(handle, 0u);
  EXPECT_FALSE(answer.Ready(std::chrono::milliseconds(100)));  // parked, nothing waiting
  // Completing the only trial creates the next one (number 1): the parked
  // call gets it.
  ASSERT_TRUE(engine_->CompleteTrial(first.trial.lease_token, 0.5, "").ok());
  ASSERT_TRUE(answer.Ready(std::chrono::seconds(5)));
  Result r = answer.future.get();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->trial.number, 1);
  EXPECT_EQ((*r)->trial.state, storage::TrialState::kRunning);
  EXPECT_EQ((*r)->study_name, "later");
  auto view = engine_->GetStudy("later");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->counts.running, 1);
  EXPECT_EQ(view->counts.waiting, 0);
  engine_->CancelAcquire(handle);  // already answered: no second call
  EXPECT_EQ(answer.calls.load(), 1);
}

TEST_F(ParkedCallsTest, ParkedAcquireIsEmptyAtItsDeadline) {
  FillTheOnlySlot("deadline", 2);
  Answer answer;
  const auto start = Clock::now();
  EXPECT_NE(engine_->AcquireTrialAsync("w1", {}, 300, answer.Done()), 0u);
  ASSERT_TRUE(answer.Ready(std::chrono::seconds(5)));
  const auto waited = Clock::now() - start;
  Result r = answer.future.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->has_value());
  EXPECT_GE(waited, std::chrono::milliseconds(290));
  EXPECT_LT(waited, std::chrono::milliseconds(2000));
}

TEST_F(ParkedCallsTest, CancelledAcquireEndsAndTakesNoTrial) {
  Assignment first = FillTheOnlySlot("cancel", 2);
  Answer answer;
  const uint64_t handle = engine_->AcquireTrialAsync("w1", {}, 30000, answer.Done());
  ASSERT_NE(handle, 0u);
  engine_->CancelAcquire(handle);
  ASSERT_TRUE(answer.Ready(std::chrono::milliseconds(0)));  // answered by CancelAcquire
  Result r = answer.future.get();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  // The next trial stays WAITING for someone else.
  ASSERT_TRUE(engine_->CompleteTrial(first.trial.lease_token, 0.5, "").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto view = engine_->GetStudy("cancel");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->counts.waiting, 1);
  EXPECT_EQ(view->counts.running, 0);
  EXPECT_EQ(answer.calls.load(), 1);
}

TEST_F(ParkedCallsTest, BlockingAcquireEndsWhenCancelled) {
  FillTheOnlySlot("poll", 2);
  const auto start = Clock::now();
  auto r = engine_->AcquireTrial(
      "w1", {}, 30000, [&] { return Clock::now() - start > std::chrono::milliseconds(100); });
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST_F(ParkedCallsTest, ObjectiveTypesOfParkedCallsAreHonoured) {
  Assignment first = FillTheOnlySlot("types", 2);  // a "builtin" study
  Answer command, builtin;
  ASSERT_NE(engine_->AcquireTrialAsync("wc", {"command"}, 10000, command.Done()), 0u);
  ASSERT_NE(engine_->AcquireTrialAsync("wb", {"builtin"}, 10000, builtin.Done()), 0u);
  ASSERT_TRUE(engine_->CompleteTrial(first.trial.lease_token, 0.5, "").ok());
  ASSERT_TRUE(builtin.Ready(std::chrono::seconds(5)));
  Result r = builtin.future.get();
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->trial.worker_id, "wb");
  EXPECT_FALSE(command.Ready(std::chrono::milliseconds(50)));  // the older call, other type
  engine_->Stop();
  ASSERT_TRUE(command.Ready(std::chrono::seconds(5)));
}

TEST_F(ParkedCallsTest, StopAnswersParkedAcquiresAndLaterOnesAtOnce) {
  FillTheOnlySlot("stop", 10);
  std::vector<std::unique_ptr<Answer>> answers;
  for (int i = 0; i < 5; ++i) {
    answers.push_back(std::make_unique<Answer>());
    ASSERT_NE(
        engine_->AcquireTrialAsync("w" + std::to_string(i), {}, 30000, answers.back()->Done()), 0u);
  }
  const auto start = Clock::now();
  engine_->Stop();
  for (auto& a : answers) {
    ASSERT_TRUE(a->Ready(std::chrono::milliseconds(0)));  // answered within Stop
    Result r = a->future.get();
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->has_value());
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  Answer late;
  EXPECT_EQ(engine_->AcquireTrialAsync("w9", {}, 30000, late.Done()), 0u);
  ASSERT_TRUE(late.Ready(std::chrono::milliseconds(0)));
  EXPECT_FALSE(late.future.get()->has_value());
}

TEST_F(ParkedCallsTest, ManyParkedAcquiresEachGetOneTrial) {
  // Parallelism 4: four trials WAITING at once after the first completions;
  // eight parked callers; every trial goes to exactly one of them.
  constexpr int kCallers = 8;
  ASSERT_TRUE(engine_->CreateStudy(Spec("many", 40, 4)).ok());
  std::vector<Assignment> held;
  for (int i = 0; i < 4; ++i) {
    auto a = engine_->AcquireTrial("w", {}, 0, nullptr);
    ASSERT_TRUE(a.ok() && a->has_value());
    held.push_back(**a);
  }
  std::vector<std::unique_ptr<Answer>> answers;
  for (int i = 0; i < kCallers; ++i) {
    answers.push_back(std::make_unique<Answer>());
    ASSERT_NE(
        engine_->AcquireTrialAsync("p" + std::to_string(i), {}, 10000, answers.back()->Done()), 0u);
  }
  std::vector<std::thread> completers;
  for (const Assignment& a : held) {
    completers.emplace_back([this, token = a.trial.lease_token] {
      EXPECT_TRUE(engine_->CompleteTrial(token, 0.1, "").ok());
    });
  }
  for (auto& t : completers) t.join();
  auto answered = [&] {
    int n = 0;
    for (auto& a : answers) n += a->calls.load();
    return n;
  };
  const auto give_up = Clock::now() + std::chrono::seconds(5);
  while (answered() < 4 && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // no fifth answer
  EXPECT_EQ(answered(), 4);                                     // four new trials, one each
  engine_->Stop();                                              // the other four: empty
  std::set<int64_t> numbers;
  int empty = 0;
  for (auto& a : answers) {
    ASSERT_TRUE(a->Ready(std::chrono::seconds(0)));
    EXPECT_EQ(a->calls.load(), 1);
    Result r = a->future.get();
    ASSERT_TRUE(r.ok()) << r.status();
    if (r->has_value()) {
      numbers.insert((*r)->trial.number);
    } else {
      ++empty;
    }
  }
  EXPECT_EQ(numbers.size(), 4u);
  EXPECT_EQ(empty, kCallers - 4);
}

TEST_F(ParkedCallsTest, ChangeWaitIsAnsweredOnChangeTimeoutCancelAndStop) {
  ASSERT_TRUE(engine_->CreateStudy(Spec("watch", 5, 1)).ok());
  uint64_t handle = 0;
  // Already moved: not parked, not called.
  EXPECT_FALSE(engine_->WaitForChangeAsync(
      engine_->ChangeVersion() - 1, 1000, [] {}, &handle));

  std::promise<void> changed;
  ASSERT_TRUE(engine_->WaitForChangeAsync(
      engine_->ChangeVersion(), 10000, [&] { changed.set_value(); }, &handle));
  auto a = engine_->AcquireTrial("w", {}, 0, nullptr);  // a change
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ(changed.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);

  std::promise<void> timed_out;
  const auto start = Clock::now();
  ASSERT_TRUE(engine_->WaitForChangeAsync(
      engine_->ChangeVersion(), 200, [&] { timed_out.set_value(); }, &handle));
  EXPECT_EQ(timed_out.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(190));

  std::promise<void> cancelled;
  ASSERT_TRUE(engine_->WaitForChangeAsync(
      engine_->ChangeVersion(), 30000, [&] { cancelled.set_value(); }, &handle));
  engine_->CancelWaitForChange(handle);
  EXPECT_EQ(cancelled.get_future().wait_for(std::chrono::seconds(0)), std::future_status::ready);

  std::promise<void> stopped;
  ASSERT_TRUE(engine_->WaitForChangeAsync(
      engine_->ChangeVersion(), 30000, [&] { stopped.set_value(); }, &handle));
  engine_->Stop();
  EXPECT_EQ(stopped.get_future().wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_FALSE(engine_->WaitForChangeAsync(
      engine_->ChangeVersion(), 1000, [] {}, &handle));
}

}  // namespace
}  // namespace peftsearch::controller
