#include "worker/daemon/trial_runner.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peftsearch::daemon {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using Kind = TrialOutcome::Kind;
using namespace std::chrono_literals;

class RecordingSink : public ProgressSink {
 public:
  Action Report(int64_t step, double value, std::string* why) override {
    reports.emplace_back(step, value);
    if (stop_at_step >= 0 && step >= stop_at_step) {
      *why = "pruned";
      return Action::kStop;
    }
    return Action::kContinue;
  }
  std::vector<std::pair<int64_t, double>> reports;
  int64_t stop_at_step = -1;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TrialRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/runnerXXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    options_.workdir = dir;
    options_.kill_grace = 300ms;
    // The real worker binary, for builtin objectives (its eval-builtin subcommand).
    const char* srcdir = std::getenv("TEST_SRCDIR");
    if (srcdir != nullptr) {
      options_.objective.self_exe =
          std::string(srcdir) + "/peftsearch/worker/daemon/peftsearch-worker";
    }
  }

  TrialSpec Trial(const std::string& objective, const std::string& params = "{}") {
    TrialSpec t;
    t.study_id = 7;
    t.study_name = "demo";
    t.number = 3;
    t.attempt = 1;
    t.params_json = params;
    t.objective_json = objective;
    return t;
  }

  static std::string Sh(const std::string& script) {
    return json{{"type", "command"}, {"argv", {"/bin/sh", "-c", script}}}.dump();
  }

  TrialRunnerOptions options_;
  RecordingSink sink_;
};

TEST_F(TrialRunnerTest, CommandCompletesWithProgressAndFiles) {
  TrialSpec t = Trial(json{{"type", "command"},
                           {"argv",
                            {"/bin/sh", "-c",
                             "echo training lr=$1; echo '{\"step\": 1, \"value\": 0.5}'; "
                             "echo '{\"step\": 2, \"value\": 0.7}'; echo warn >&2; "
                             "echo \"{\\\"value\\\": $1, \\\"acc\\\": [1, 2]}\"",
                             "sh", "{lr}"}}}
                          .dump(),
                      R"({"lr": 0.25})");
  TrialOutcome out = RunTrial(options_, t, &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kComplete) << out.message;
  EXPECT_DOUBLE_EQ(out.value, 0.25);
  EXPECT_EQ(out.result_json, R"({"acc":[1,2],"value":0.25})");
  EXPECT_THAT(sink_.reports, ElementsAre(Pair(1, 0.5), Pair(2, 0.7)));
  EXPECT_EQ(out.trial_dir, options_.workdir + "/demo/trial-3-a1");
  EXPECT_THAT(Slurp(out.trial_dir + "/stdout"), HasSubstr("training lr=0.25\n"));
  EXPECT_EQ(Slurp(out.trial_dir + "/stderr"), "warn\n");
  json trial = json::parse(Slurp(out.trial_dir + "/trial.json"));
  EXPECT_EQ(trial["params"]["lr"], 0.25);
  EXPECT_EQ(trial["number"], 3);
  EXPECT_EQ(trial["objective"]["type"], "command");
}

TEST_F(TrialRunnerTest, NonZeroExitFailsWithStderrTail) {
  TrialOutcome out = RunTrial(
      options_, Trial(Sh("echo '{\"value\": 1}'; echo 'CUDA out of memory' >&2; exit 4")),
      &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kFailed);
  EXPECT_THAT(out.message, HasSubstr("exit code 4"));
  EXPECT_THAT(out.message, HasSubstr("CUDA out of memory"));
}

TEST_F(TrialRunnerTest, NoResultLineFails) {
  TrialOutcome out =
      RunTrial(options_, Trial(Sh("echo '{\"step\": 1, \"loss\": 2}'")), &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kFailed);
  EXPECT_THAT(out.message, HasSubstr("printed no result line"));
}

TEST_F(TrialRunnerTest, UnknownPlaceholderFailsBeforeRunning) {
  TrialSpec t = Trial(R"({"type": "command", "argv": ["touch", "{marker}"]})", R"({"lr": 1})");
  TrialOutcome out = RunTrial(options_, t, &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kFailed);
  EXPECT_THAT(out.message, HasSubstr("unknown placeholder {marker}"));
}

TEST_F(TrialRunnerTest, MissingProgramFails) {
  TrialOutcome out = RunTrial(
      options_, Trial(R"({"type": "command", "argv": ["no-such-trainer-xyz"]})"), &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kFailed);
  EXPECT_THAT(out.message, HasSubstr("no-such-trainer-xyz"));
}

TEST_F(TrialRunnerTest, PruneKillsChildAndAbandons) {
  sink_.stop_at_step = 2;
  TrialOutcome out = RunTrial(options_,
                              Trial(Sh("for i in 1 2 3; do echo \"{\\\"step\\\": $i, "
                                       "\\\"value\\\": $i}\"; sleep 0.05; done; sleep 30; "
                                       "echo '{\"value\": 9}'")),
                              &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kAbandoned);
  EXPECT_EQ(out.message, "pruned");
  EXPECT_LT(out.elapsed, 5s);
  EXPECT_THAT(sink_.reports, ElementsAre(Pair(1, 1.0), Pair(2, 2.0)));
}

TEST_F(TrialRunnerTest, ShouldStopAbandonsWithReason) {
  int polls = 0;
  TrialOutcome out = RunTrial(options_, Trial(Sh("sleep 30")), &sink_, [&polls]() {
    return ++polls > 3 ? std::string("cancelled") : std::string();
  });
  ASSERT_EQ(out.kind, Kind::kAbandoned);
  EXPECT_EQ(out.message, "cancelled");
  EXPECT_LT(out.elapsed, 5s);
}

TEST_F(TrialRunnerTest, TimeoutFails) {
  TrialOutcome out = RunTrial(
      options_,
      Trial(R"({"type": "command", "argv": ["/bin/sh", "-c", "echo slow >&2; sleep 30"],
                "timeout_s": 1})"),
      &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kFailed);
  EXPECT_THAT(out.message, HasSubstr("timed out after 1 s"));
  EXPECT_THAT(out.message, HasSubstr("slow"));
}

TEST_F(TrialRunnerTest, PeftVimWithoutTrainerIsUnsupported) {
  TrialOutcome out = RunTrial(options_, Trial(R"({"type": "peft_vim"})"), &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kFailed);
  EXPECT_THAT(out.message, HasSubstr("unsupported objective type 'peft_vim'"));
}

TEST_F(TrialRunnerTest, PeftVimRunsTrainerWithTrialJson) {
  std::string trainer = options_.workdir + "/fake-trainer";
  std::ofstream(trainer) << "#!/bin/sh\n"
                            "[ \"$1\" = --trial ] || exit 9\n"
                            "grep -q '\"lr\": 0.001' \"$2\" || exit 8\n"
                            "echo '{\"step\": 0, \"value\": 0.4}'\n"
                            "echo '{\"value\": 0.8, \"tasks\": {\"dtd\": 0.8}}'\n";
  chmod(trainer.c_str(), 0755);
  options_.objective.trainer = trainer;
  TrialOutcome out = RunTrial(options_, Trial(R"({"type": "peft_vim", "model": "vim_t"})",
                                              R"({"lr": 0.001})"),
                              &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kComplete) << out.message;
  EXPECT_DOUBLE_EQ(out.value, 0.8);
  EXPECT_THAT(sink_.reports, ElementsAre(Pair(0, 0.4)));
}

TEST_F(TrialRunnerTest, BuiltinRunsWorkerBinaryAsChild) {
  ASSERT_FALSE(options_.objective.self_exe.empty());
  TrialOutcome out = RunTrial(
      options_,
      Trial(R"({"type": "builtin", "function": "branin", "steps": 2, "sleep_ms": 20})",
            R"({"x": 3.141592653589793, "y": 2.275})"),
      &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kComplete) << out.message;
  EXPECT_NEAR(out.value, 0.397887, 1e-6);
  ASSERT_EQ(sink_.reports.size(), 2u);
  EXPECT_NEAR(sink_.reports[0].second, 0.897887, 1e-6);

  out = RunTrial(options_, Trial(R"({"type": "builtin", "function": "branin"})", R"({"x": 1})"),
                 &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kFailed);
  EXPECT_THAT(out.message, HasSubstr("exit code 2"));
  EXPECT_THAT(out.message, HasSubstr("parameter 'y'"));

  out = RunTrial(options_,
                 Trial(R"({"type": "builtin", "function": "sphere", "fail_if": {"always": true}})",
                       R"({"x0": 1})"),
                 &sink_, nullptr);
  ASSERT_EQ(out.kind, Kind::kFailed);
  EXPECT_THAT(out.message, HasSubstr("failing on purpose"));
}

TEST(TrialDirectoryTest, StudyNameIsMadePathSafe) {
  TrialSpec t;
  t.study_name = "../etc/x y";
  t.number = 12;
  EXPECT_EQ(TrialDirectory("/w", t), "/w/.._etc_x_y/trial-12-a0");
  t.study_name = "..";
  EXPECT_EQ(TrialDirectory("/w", t), "/w/_../trial-12-a0");
  t.study_name = "";
  t.study_id = 4;
  EXPECT_EQ(TrialDirectory("/w", t), "/w/study-4/trial-12-a0");
}

}  // namespace
}  // namespace peftsearch::daemon
