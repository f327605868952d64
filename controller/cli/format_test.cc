#include "controller/cli/format.h"

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peftsearch::cli {
namespace {

using ::testing::HasSubstr;

v1::Study Demo() {
  v1::Study s;
  s.set_id(3);
  s.set_name("demo");
  s.set_state(v1::STUDY_RUNNING);
  s.set_direction("minimize");
  s.set_max_trials(20);
  s.set_parallelism(2);
  s.set_strategy("single");
  s.mutable_counts()->set_waiting(1);
  s.mutable_counts()->set_running(2);
  s.mutable_counts()->set_complete(5);
  s.mutable_counts()->set_pruned(1);
  s.mutable_counts()->set_failed(1);
  s.set_has_best(true);
  s.set_best_value(0.3978873577);
  s.set_best_trial_number(4);
  return s;
}

v1::Trial MakeTrial(int64_t number, v1::TrialState state, const std::string& params,
                    std::optional<double> value = std::nullopt) {
  v1::Trial t;
  t.set_number(number);
  t.set_state(state);
  t.set_params_json(params);
  if (value) {
    t.set_has_value(true);
    t.set_value(*value);
  }
  return t;
}

TEST(FormatTest, StateNamesRoundTrip) {
  for (v1::TrialState s : {v1::WAITING, v1::RUNNING, v1::COMPLETE, v1::PRUNED, v1::FAILED}) {
    EXPECT_EQ(*ParseTrialState(TrialStateName(s)), s);
  }
  EXPECT_EQ(*ParseTrialState("COMPLETE"), v1::COMPLETE);
  absl::StatusOr<v1::TrialState> bad = ParseTrialState("done");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("'done'"));
  EXPECT_EQ(StudyStateName(v1::STUDY_CANCELLED), "cancelled");
  EXPECT_EQ(*ParseTrialFormat("CSV"), TrialFormat::kCsv);
  EXPECT_EQ(ParseTrialFormat("xml").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FormatTest, ValueAndTable) {
  EXPECT_EQ(FormatValue(false, 1), "-");
  EXPECT_EQ(FormatValue(true, 0.3978873577), "0.397887");
  EXPECT_EQ(FormatValue(true, 1e-9), "1e-09");
  EXPECT_EQ(FormatTable({"A", "LONGER", "C"}, {{"xyz", "1", "tail text"}, {"1", "22", ""}}),
            "A    LONGER  C\n"
            "xyz  1       tail text\n"
            "1    22\n");
}

TEST(FormatTest, CsvQuoting) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
}

TEST(FormatTest, CompactParams) {
  EXPECT_EQ(CompactParams(R"({"y": 2, "x": 0.1234567891, "opt": "adam", "on": true})"),
            "on=true opt=adam x=0.123457 y=2");
  EXPECT_EQ(CompactParams("not json"), "not json");
  EXPECT_EQ(CompactParams("{}"), "");
}

TEST(FormatTest, CreatedAndStudies) {
  EXPECT_EQ(FormatCreated(Demo()), "created study id=3 name=demo state=running\n");
  EXPECT_EQ(FormatStudies({Demo()}),
            "ID  NAME  STATE    DIRECTION  DONE  RUNNING  BEST                STRATEGY\n"
            "3   demo  running  minimize   7/20  2        0.397887 (trial 4)  single\n");
}

TEST(FormatTest, StatusIncludesCountsAndPrettySummary) {
  v1::Study s = Demo();
  s.set_strategy("hybrid_peft");
  s.set_phase(2);
  s.set_summary_json(R"({"step1": {"best": ["lora_x"]}})");
  std::string out = FormatStudyStatus(s);
  EXPECT_THAT(out, HasSubstr("study:       demo (id 3)\n"));
  EXPECT_THAT(out, HasSubstr("strategy:    hybrid_peft (phase 2)\n"));
  EXPECT_THAT(out, HasSubstr("progress:    7/20 done, parallelism 2\n"));
  EXPECT_THAT(out, HasSubstr("trials:      waiting 1, running 2, complete 5, pruned 1, failed 1\n"));
  EXPECT_THAT(out, HasSubstr("best:        0.397887 (trial 4)\n"));
  EXPECT_THAT(out, HasSubstr("summary:\n  {\n    \"step1\": {\n      \"best\": [\n"));
}

TEST(FormatTest, TrialsTable) {
  v1::Trial a = MakeTrial(0, v1::COMPLETE, R"({"x": 1.5, "y": 2})", 17.25);
  a.set_attempt(1);
  v1::Trial b = MakeTrial(1, v1::RUNNING, R"({"x": -3, "y": 12.5})");
  EXPECT_EQ(FormatTrials({a, b}, TrialFormat::kTable),
            "NUMBER  STATE     VALUE  PHASE  ATTEMPT  PARAMS\n"
            "0       complete  17.25  0      1        x=1.5 y=2\n"
            "1       running   -      0      0        x=-3 y=12.5\n");
}

TEST(FormatTest, TrialsJsonIsValidAndTyped) {
  v1::Trial a = MakeTrial(0, v1::COMPLETE, R"({"x": 1.5})", 0.1);
  a.set_result_json(R"({"value": 0.1, "tasks": [1]})");
  a.add_intermediate_values()->set_step(1);
  v1::Trial b = MakeTrial(1, v1::FAILED, R"({"x": 2})");
  b.set_message("exit code 3");
  nlohmann::json j = nlohmann::json::parse(FormatTrials({a, b}, TrialFormat::kJson));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["params"]["x"], 1.5);
  EXPECT_EQ(j[0]["value"], 0.1);
  EXPECT_EQ(j[0]["result"]["tasks"][0], 1);
  EXPECT_EQ(j[0]["intermediate_values"][0]["step"], 1);
  EXPECT_TRUE(j[1]["value"].is_null());
  EXPECT_EQ(j[1]["state"], "failed");
  EXPECT_EQ(j[1]["message"], "exit code 3");
}

TEST(FormatTest, TrialsCsvHasOneColumnPerParam) {
  v1::Trial a = MakeTrial(0, v1::COMPLETE, R"({"lr": 0.1, "opt": "a,b"})", 0.5);
  v1::Trial b = MakeTrial(1, v1::PRUNED, R"({"lr": 0.2, "wd": 1})");
  b.set_message("pruned at step 3");
  EXPECT_EQ(FormatTrials({a, b}, TrialFormat::kCsv),
            "number,state,value,phase,attempt,params_lr,params_opt,params_wd,message\n"
            "0,complete,0.5,0,0,0.1,\"a,b\",,\n"
            "1,pruned,,0,0,0.2,,1,pruned at step 3\n");
}

TEST(FormatTest, BestWithSummary) {
  v1::Study s = Demo();
  s.set_summary_json(R"({"C": ["bias", "lora_x"]})");
  v1::Trial t = MakeTrial(4, v1::COMPLETE, R"({"x": 3.14})", 0.3978873577);
  t.set_result_json(R"({"value":0.3978873577})");
  std::string out = FormatBest(s, {t});
  EXPECT_THAT(out, HasSubstr("RANK  TRIAL  VALUE     PHASE  PARAMS\n1     4      0.397887  0      x=3.14\n"));
  EXPECT_THAT(out, HasSubstr("best params: {\"x\": 3.14}\n"));
  EXPECT_THAT(out, HasSubstr("summary:\n  {\n    \"C\": [\n      \"bias\",\n"));
  EXPECT_THAT(FormatBest(Demo(), {}), HasSubstr("no complete trial yet"));
}

TEST(FormatTest, Workers) {
  v1::Worker w;
  w.set_id("w-1");
  w.set_name("gpu0");
  w.set_hostname("node1");
  w.set_slots(2);
  w.set_running_trials(1);
  w.set_alive(true);
  w.set_last_heartbeat_unix_ms(10'000);
  EXPECT_EQ(FormatWorkers({w}, 13'500),
            "ID   NAME  HOST   SLOTS  RUNNING  ALIVE  LAST_HEARTBEAT\n"
            "w-1  gpu0  node1  2      1        yes    3s ago\n");
}

TEST(FormatTest, AskTellCancel) {
  EXPECT_EQ(FormatAsked(MakeTrial(5, v1::RUNNING, R"({"y": 1, "x": 0.5})")),
            "trial 5\n{\"x\":0.5,\"y\":1}\n");
  EXPECT_EQ(FormatTold(MakeTrial(5, v1::COMPLETE, "{}", 0.25)), "trial 5 complete value=0.25\n");
  EXPECT_EQ(FormatTold(MakeTrial(6, v1::FAILED, "{}")), "trial 6 failed\n");
  v1::Study s = Demo();
  s.set_state(v1::STUDY_CANCELLED);
  EXPECT_EQ(FormatCancelled(s), "cancelled study id=3 name=demo state=cancelled\n");
}

TEST(FormatTest, ProgressBarAndEnd) {
  EXPECT_EQ(FormatProgressBar(Demo(), 20),
            "[#######.............] 7/20 done  running 2  pruned 1  failed 1  best 0.397887 "
            "(trial 4)");
  v1::Study empty;
  empty.set_max_trials(0);
  EXPECT_EQ(FormatProgressBar(empty, 4), "[....] 0/0 done  running 0  pruned 0  failed 0  best -");
  v1::Study done = Demo();
  done.set_state(v1::STUDY_COMPLETE);
  EXPECT_EQ(FormatWatchEnd(done), "study demo complete: 7 trials done, best 0.397887 (trial 4)");
}

TEST(FormatTest, RpcErrorIsOneLine) {
  EXPECT_EQ(FormatRpcError(grpc::Status(grpc::StatusCode::NOT_FOUND, "no study named 'x'")),
            "error: NOT_FOUND: no study named 'x'");
  EXPECT_EQ(FormatRpcError(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a\nb")),
            "error: INVALID_ARGUMENT: a b");
}

}  // namespace
}  // namespace peftsearch::cli
