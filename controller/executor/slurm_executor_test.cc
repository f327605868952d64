#include "controller/executor/slurm_executor.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace peftsearch::controller::executor {
namespace {

constexpr char kSpec[] = R"({"name": "s", "direction": "minimize",
  "space": {"x": {"type": "float", "low": 0, "high": 1}},
  "objective": {"type": "builtin", "function": "sphere"},
  "max_trials": 10, "parallelism": 3})";

// A fake Slurm: sbatch adds a job to the queue, scancel removes it.
struct FakeSlurm {
  std::map<std::string, std::string> queue;  // id -> name
  int next_id = 100;
  bool squeue_fails = false;
  std::vector<std::vector<std::string>> calls;
  std::vector<std::map<std::string, std::string>> sbatch_env;

  absl::StatusOr<std::string> Run(const std::vector<std::string>& argv,
                                  const std::map<std::string, std::string>& env) {
    calls.push_back(argv);
    if (argv[0] == "squeue") {
      if (squeue_fails) return absl::UnavailableError("slurmctld down");
      std::string out;
      for (const auto& [id, name] : queue) out += id + " " + name + "\n";
      out += "999 someone-elses-job\n";
      return out;
    }
    if (argv[0] == "sbatch") {
      std::string name;
      for (const std::string& a : argv) {
        if (a.rfind("--job-name=", 0) == 0) name = a.substr(11);
      }
      const std::string id = std::to_string(next_id++);
      queue[id] = name;
      sbatch_env.push_back(env);
      return id + "\n";
    }
    if (argv[0] == "scancel") {
      queue.erase(argv[1]);
      return std::string();
    }
    return absl::NotFoundError(argv[0]);
  }
  int Count(const std::string& program) const {
    return static_cast<int>(std::count_if(calls.begin(), calls.end(),
                                          [&](const auto& c) { return c[0] == program; }));
  }
};

class SlurmExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::TrialStore::Open(":memory:");
    ASSERT_TRUE(store.ok());
    auto engine = StudyEngine::Open(std::move(*store), EngineOptions{});
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    SlurmExecutorOptions options;
    options.script = "/opt/peftsearch/worker.sbatch";
    options.sbatch_args = {"--partition=gpu"};
    options.controller_address = "ctl.example:50051";
    options.worker_token = "psk_secret";
    executor_ = std::make_unique<SlurmExecutor>(
        engine_.get(), options,
        [this](const auto& argv, const auto& env) { return slurm_.Run(argv, env); });
  }

  FakeSlurm slurm_;
  std::unique_ptr<StudyEngine> engine_;
  std::unique_ptr<SlurmExecutor> executor_;
};

TEST_F(SlurmExecutorTest, FillsParallelismReplacesLostJobsCancelsAtTheEnd) {
  auto study = engine_->CreateStudy(kSpec);
  ASSERT_TRUE(study.ok()) << study.status();
  const std::string name = "peftsearch-" + std::to_string(study->record.id);

  ASSERT_TRUE(executor_->PollOnce().ok());
  EXPECT_EQ(slurm_.Count("sbatch"), 3);
  EXPECT_EQ(executor_->jobs()[study->record.id].size(), 3u);
  ASSERT_FALSE(slurm_.sbatch_env.empty());
  EXPECT_EQ(slurm_.sbatch_env[0].at("PEFTSEARCH_CONTROLLER"), "ctl.example:50051");
  EXPECT_EQ(slurm_.sbatch_env[0].at("PEFTSEARCH_TOKEN"), "psk_secret");
  for (const auto& call : slurm_.calls) {
    for (const std::string& arg : call) EXPECT_EQ(arg.find("psk_"), std::string::npos);
  }
  const auto& sbatch = *std::find_if(slurm_.calls.begin(), slurm_.calls.end(),
                                     [](const auto& c) { return c[0] == "sbatch"; });
  EXPECT_EQ(sbatch.back(), "/opt/peftsearch/worker.sbatch");
  EXPECT_NE(std::find(sbatch.begin(), sbatch.end(), "--job-name=" + name), sbatch.end());
  EXPECT_NE(std::find(sbatch.begin(), sbatch.end(), "--partition=gpu"), sbatch.end());

  // Filled: nothing more to submit.
  ASSERT_TRUE(executor_->PollOnce().ok());
  EXPECT_EQ(slurm_.Count("sbatch"), 3);

  // A job vanishes (scancel by hand, node failure): it is replaced.
  slurm_.queue.erase(slurm_.queue.begin());
  ASSERT_TRUE(executor_->PollOnce().ok());
  EXPECT_EQ(slurm_.Count("sbatch"), 4);
  EXPECT_EQ(executor_->jobs()[study->record.id].size(), 3u);

  // Slurm unreachable: no blind submissions.
  slurm_.squeue_fails = true;
  EXPECT_EQ(executor_->PollOnce().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(slurm_.Count("sbatch"), 4);
  slurm_.squeue_fails = false;

  // The study is cancelled: every job of it is scancelled, others' are not.
  ASSERT_TRUE(engine_->CancelStudy("s").ok());
  ASSERT_TRUE(executor_->PollOnce().ok());
  EXPECT_EQ(slurm_.Count("scancel"), 3);
  EXPECT_TRUE(slurm_.queue.empty());
  EXPECT_TRUE(executor_->jobs()[study->record.id].empty());
  ASSERT_TRUE(executor_->PollOnce().ok());
  EXPECT_EQ(slurm_.Count("sbatch"), 4);
}

TEST_F(SlurmExecutorTest, AdoptsJobsOfARestartedController) {
  auto study = engine_->CreateStudy(kSpec);
  ASSERT_TRUE(study.ok());
  slurm_.queue["7"] = "peftsearch-" + std::to_string(study->record.id);
  ASSERT_TRUE(executor_->PollOnce().ok());
  EXPECT_EQ(slurm_.Count("sbatch"), 2);  // 3 wanted, 1 already there
}

TEST_F(SlurmExecutorTest, ExternalStudiesGetNoWorkers) {
  auto study = engine_->CreateStudy(R"({"name": "ext", "direction": "minimize",
    "space": {"x": {"type": "float", "low": 0, "high": 1}},
    "objective": {"type": "external"}, "max_trials": 5, "parallelism": 2})");
  ASSERT_TRUE(study.ok()) << study.status();
  ASSERT_TRUE(executor_->PollOnce().ok());
  EXPECT_EQ(slurm_.Count("sbatch"), 0);
}

TEST(RunCommandTest, CapturesOutputAndMapsFailures) {
  auto out = RunCommand({"sh", "-c", "echo \"$GREETING\"; echo err >&2"}, {{"GREETING", "hi"}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hi\nerr\n");
  EXPECT_EQ(RunCommand({"sh", "-c", "exit 3"}, {}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(RunCommand({"/nonexistent/sbatch"}, {}).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace peftsearch::controller::executor
