// The engine keeps running studies in memory and at most
// EngineOptions::max_finished_studies_in_memory finished ones; the others are
// listed from their study row and read back from the store when asked for.
// These tests check that what a client sees does not change when a study
// leaves memory, across a restart, and for a file written before the
// finished-study summary existed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "controller/study_engine.h"

namespace peftsearch::controller {
namespace {

using storage::StudyState;
using storage::TrialState;

std::string Spec(const std::string& name, int max_trials) {
  return R"({"name": ")" + name + R"(", "direction": "minimize",
    "space": {"x": {"type": "float", "low": -5, "high": 10}},
    "sampler": {"type": "random", "seed": 3},
    "objective": {"type": "builtin", "function": "branin"},
    "max_trials": )" + std::to_string(max_trials) + R"(, "parallelism": 1})";
}

std::string TempDbPath(const std::string& tag) {
  const char* dir = getenv("TEST_TMPDIR");
  const std::string path = std::string(dir ? dir : "/tmp") + "/study_cache_" + tag + "_" +
                           std::to_string(getpid()) + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  return path;
}

// What a client can see of a study, in one comparable string.
std::string Describe(const StudyView& v) {
  return v.record.name + " id=" + std::to_string(v.record.id) +
         " state=" + storage::StudyStateName(v.record.state) +
         " waiting=" + std::to_string(v.counts.waiting) +
         " running=" + std::to_string(v.counts.running) +
         " complete=" + std::to_string(v.counts.complete) +
         " pruned=" + std::to_string(v.counts.pruned) +
         " failed=" + std::to_string(v.counts.failed) +
         " best=" + (v.best_value ? std::to_string(*v.best_value) : "none") +
         " best_trial=" + std::to_string(v.best_trial_number) +
         " max_trials=" + std::to_string(v.max_trials) + " direction=" +
         (v.spec.maximize ? "max" : "min") + " parallelism=" + std::to_string(v.spec.parallelism);
}

class StudyCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<StudyEngine> OpenEngine(const std::string& path, int max_finished) {
    auto store = storage::TrialStore::Open(path);
    EXPECT_TRUE(store.ok()) << store.status();
    EngineOptions options;
    options.now_ms = [] { return int64_t{1'700'000'000'000}; };
    options.max_finished_studies_in_memory = max_finished;
    auto engine = StudyEngine::Open(std::move(*store), options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return std::move(*engine);
  }

  // Runs study `name` to completion; trial i scores values[i].
  void RunStudy(StudyEngine* engine, const std::string& name, const std::vector<double>& values) {
    ASSERT_TRUE(engine->CreateStudy(Spec(name, static_cast<int>(values.size()))).ok());
    for (double value : values) {
      auto a = engine->AcquireTrial("w1", {}, 0, nullptr);
      ASSERT_TRUE(a.ok() && a->has_value()) << a.status();
      ASSERT_TRUE(engine->CompleteTrial((*a)->trial.lease_token, value, "{}").ok());
    }
  }

  std::map<std::string, std::string> DescribeAll(StudyEngine* engine) {
    std::map<std::string, std::string> out;
    auto views = engine->ListStudies();
    EXPECT_TRUE(views.ok()) << views.status();
    int64_t previous_id = INT64_MAX;
    for (const StudyView& v : *views) {
      EXPECT_LT(v.record.id, previous_id) << "newest first";
      previous_id = v.record.id;
      out[v.record.name] = Describe(v);
    }
    return out;
  }
};

TEST_F(StudyCacheTest, FinishedStudiesLeaveMemoryAndReadBackUnchanged) {
  const std::string path = TempDbPath("bounded");
  std::map<std::string, std::string> when_finished;
  {
    auto engine = OpenEngine(path, /*max_finished=*/2);
    for (int s = 0; s < 6; ++s) {
      const std::string name = "s" + std::to_string(s);
      RunStudy(engine.get(), name, {3.0 + s, 1.0 + s, 2.0 + s});
      auto view = engine->GetStudy(name);
      ASSERT_TRUE(view.ok()) << view.status();
      ASSERT_EQ(view->record.state, StudyState::kComplete);
      EXPECT_EQ(view->best_trial_number, 1);
      when_finished[name] = Describe(*view);
    }
    // A running study stays in memory whatever the bound.
    ASSERT_TRUE(engine->CreateStudy(Spec("live", 4)).ok());
    EXPECT_EQ(engine->StudiesInMemory(), 3u) << "2 finished + 1 running";

    auto listed = DescribeAll(engine.get());
    EXPECT_EQ(listed.size(), 7u);
    EXPECT_EQ(engine->StudiesInMemory(), 3u) << "listing does not load studies";
    for (const auto& [name, described] : when_finished) EXPECT_EQ(listed[name], described);

    // Looked up by name or id, an evicted study comes back the same.
    auto by_name = engine->GetStudy("s0");
    ASSERT_TRUE(by_name.ok()) << by_name.status();
    EXPECT_EQ(Describe(*by_name), when_finished["s0"]);
    auto by_id = engine->GetStudy(std::to_string(by_name->record.id));
    ASSERT_TRUE(by_id.ok()) << by_id.status();
    EXPECT_EQ(Describe(*by_id), when_finished["s0"]);
    auto best = engine->BestTrials("s1", 3);
    ASSERT_TRUE(best.ok()) << best.status();
    ASSERT_EQ(best->size(), 3u);
    EXPECT_EQ((*best)[0].value, 2.0);
    EXPECT_EQ((*best)[2].value, 4.0);
    auto trials = engine->ListTrials("s2", TrialState::kComplete, 10, "", false);
    ASSERT_TRUE(trials.ok()) << trials.status();
    EXPECT_EQ(trials->total_size, 3);
    EXPECT_EQ(engine->StudiesInMemory(), 3u) << "still bounded after lookups";

    EXPECT_EQ(engine->GetStudy("nope").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(engine->GetStudy("99999999999999999999999").status().code(),
              absl::StatusCode::kNotFound);
    EXPECT_EQ(engine->GetStudy("").status().code(), absl::StatusCode::kInvalidArgument);

    auto cancelled = engine->CancelStudy("live");
    ASSERT_TRUE(cancelled.ok()) << cancelled.status();
    when_finished["live"] = Describe(*cancelled);
    EXPECT_EQ(engine->StudiesInMemory(), 2u);
    EXPECT_EQ(engine->CancelStudy("s3").status().code(), absl::StatusCode::kFailedPrecondition);
  }
  // After a restart nothing finished is loaded until asked for.
  auto engine = OpenEngine(path, 2);
  EXPECT_EQ(engine->StudiesInMemory(), 0u);
  EXPECT_EQ(DescribeAll(engine.get()), when_finished);
  EXPECT_EQ(engine->StudiesInMemory(), 0u);
  auto view = engine->GetStudy("live");
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(Describe(*view), when_finished["live"]);
  EXPECT_EQ(view->counts.failed, 1) << "its open trial failed on cancel";
}

// A file whose studies finished before the summary existed: the engine reads
// their trials once at Open, writes the summary, and keeps within its bound.
TEST_F(StudyCacheTest, StudiesFinishedBeforeSummariesGetThemOnOpen) {
  const std::string path = TempDbPath("legacy");
  {
    auto store = storage::TrialStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int s = 0; s < 3; ++s) {
      auto study = (*store)->CreateStudy("old" + std::to_string(s), Spec("old", 2), 1);
      ASSERT_TRUE(study.ok()) << study.status();
      for (double value : {5.0, 4.0 - s}) {
        const std::string token = "tok" + std::to_string(s) + "_" + std::to_string(value);
        ASSERT_TRUE((*store)->CreateTrial(study->id, 0, R"({"x": 1})", TrialState::kWaiting, 1)
                        .ok());
        auto leased = (*store)->LeaseNextWaiting({}, "w", token, 10, 1);
        ASSERT_TRUE(leased.ok() && leased->has_value());
        storage::TrialOutcome outcome;
        outcome.state = TrialState::kComplete;
        outcome.value = value;
        ASSERT_TRUE((*store)->FinishLeasedTrial(token, outcome, 2).ok());
      }
      ASSERT_TRUE((*store)->SetStudyState(study->id, StudyState::kComplete, "study_complete", 3)
                      .ok());
      EXPECT_EQ((*store)->GetStudy(study->id)->final_json, "");
    }
  }
  auto engine = OpenEngine(path, /*max_finished=*/1);
  EXPECT_LE(engine->StudiesInMemory(), 1u);
  auto listed = DescribeAll(engine.get());
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_NE(listed["old2"].find("complete=2"), std::string::npos) << listed["old2"];
  EXPECT_NE(listed["old2"].find("best=2.000000 best_trial=1"), std::string::npos)
      << listed["old2"];
  for (int s = 0; s < 3; ++s) {
    auto row = engine->store()->GetStudyByName("old" + std::to_string(s));
    ASSERT_TRUE(row.ok());
    EXPECT_NE(row->final_json, "") << "summary written at Open";
  }
  engine.reset();
  auto reopened = OpenEngine(path, 1);
  EXPECT_EQ(reopened->StudiesInMemory(), 0u);
  EXPECT_EQ(DescribeAll(reopened.get()), listed);
}

}  // namespace
}  // namespace peftsearch::controller
