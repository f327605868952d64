#include "worker/daemon/objective.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peftsearch::daemon {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

const ObjectiveOptions kOptions = {"/opt/bin/peftsearch-worker", ""};

TEST(SubstitutePlaceholdersTest, ReplacesByType) {
  json params = {{"lr", 0.001}, {"layers", 4}, {"opt", "adam"}, {"wd_on", true}};
  EXPECT_EQ(*SubstitutePlaceholders("--lr={lr}", params), "--lr=0.001");
  EXPECT_EQ(*SubstitutePlaceholders("{layers}x{opt}", params), "4xadam");
  EXPECT_EQ(*SubstitutePlaceholders("{wd_on}", params), "true");
  EXPECT_EQ(*SubstitutePlaceholders("plain", params), "plain");
}

TEST(SubstitutePlaceholdersTest, NonIdentifiersPassThrough) {
  json params = {{"a", 1}};
  EXPECT_EQ(*SubstitutePlaceholders(R"({"a": 1})", params), R"({"a": 1})");
  EXPECT_EQ(*SubstitutePlaceholders("{}{ a}{1}", params), "{}{ a}{1}");
  EXPECT_EQ(*SubstitutePlaceholders("{a", params), "{a");
}

TEST(SubstitutePlaceholdersTest, UnknownPlaceholderIsNamed) {
  absl::StatusOr<std::string> s = SubstitutePlaceholders("--x={batch}", json{{"lr", 1}});
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("{batch}"), std::string::npos) << s.status();
}

TEST(BuildChildCommandTest, Builtin) {
  absl::StatusOr<ChildCommand> cmd = BuildChildCommand(
      R"({"type": "builtin", "function": "branin", "sleep_ms": 20, "steps": 3,
          "timeout_s": 9, "fail_if": {"param": "x", "gt": 5}})",
      R"({"x": 1.5, "y": 2})", "/w/trial.json", kOptions);
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->type, "builtin");
  EXPECT_EQ(cmd->timeout_s, 9);
  EXPECT_THAT(cmd->argv, ElementsAre("/opt/bin/peftsearch-worker", "eval-builtin", "--function",
                                     "branin", "--params", R"({"x":1.5,"y":2})", "--sleep-ms",
                                     "20", "--steps", "3", "--fail-if",
                                     R"({"gt":5,"param":"x"})"));
}

TEST(BuildChildCommandTest, Command) {
  absl::StatusOr<ChildCommand> cmd =
      BuildChildCommand(R"({"type": "command", "argv": ["python3", "train.py", "--lr", "{lr}"]})",
                        R"({"lr": 0.01})", "/w/trial.json", kOptions);
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_EQ(cmd->timeout_s, 0);
  EXPECT_THAT(cmd->argv, ElementsAre("python3", "train.py", "--lr", "0.01"));
}

TEST(BuildChildCommandTest, CommandEnvIsSubstituted) {
  absl::StatusOr<ChildCommand> cmd = BuildChildCommand(
      R"({"type": "command", "argv": ["run"], "env": {"LR": "{lr}", "N": 3}})", R"({"lr": 0.5})",
      "", kOptions);
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_THAT(cmd->env, ElementsAre("LR=0.5", "N=3"));
  cmd = BuildChildCommand(R"({"type": "command", "argv": ["run"], "env": ["A=1"]})", "{}", "",
                          kOptions);
  EXPECT_EQ(cmd.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BuildChildCommandTest, CommandWithUnknownPlaceholderFails) {
  absl::StatusOr<ChildCommand> cmd = BuildChildCommand(
      R"({"type": "command", "argv": ["run", "{momentum}"]})", R"({"lr": 0.01})", "", kOptions);
  ASSERT_EQ(cmd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(cmd.status().message().find("momentum"), std::string::npos);
}

TEST(BuildChildCommandTest, PeftVimNeedsTrainer) {
  absl::StatusOr<ChildCommand> cmd =
      BuildChildCommand(R"({"type": "peft_vim", "model": "vim_s"})", "{}", "/w/t.json", kOptions);
  ASSERT_EQ(cmd.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(cmd.status().message().find("--trainer"), std::string::npos);

  ObjectiveOptions with_trainer = kOptions;
  with_trainer.trainer = "/opt/bin/peftsearch-train";
  cmd = BuildChildCommand(R"({"type": "peft_vim"})", "{}", "/w/t.json", with_trainer);
  ASSERT_TRUE(cmd.ok()) << cmd.status();
  EXPECT_THAT(cmd->argv, ElementsAre("/opt/bin/peftsearch-train", "--trial", "/w/t.json"));
  EXPECT_THAT(SupportedObjectiveTypes(with_trainer), ElementsAre("builtin", "command", "peft_vim"));
  EXPECT_THAT(SupportedObjectiveTypes(kOptions), ElementsAre("builtin", "command"));
}

TEST(BuildChildCommandTest, BadObjectives) {
  struct Case {
    const char* objective;
    absl::StatusCode code;
    const char* needle;
  } cases[] = {
      {"not json", absl::StatusCode::kInvalidArgument, "not a JSON object"},
      {R"({"function": "branin"})", absl::StatusCode::kInvalidArgument, "objective.type"},
      {R"({"type": "external"})", absl::StatusCode::kUnimplemented, "'external'"},
      {R"({"type": "builtin"})", absl::StatusCode::kInvalidArgument, "objective.function"},
      {R"({"type": "builtin", "function": "sphere", "steps": -1})",
       absl::StatusCode::kInvalidArgument, "objective.steps"},
      {R"({"type": "command", "argv": []})", absl::StatusCode::kInvalidArgument, "objective.argv"},
      {R"({"type": "command", "argv": ["a", 3]})", absl::StatusCode::kInvalidArgument, "strings"},
      {R"({"type": "command", "argv": ["a"], "timeout_s": "x"})",
       absl::StatusCode::kInvalidArgument, "objective.timeout_s"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ChildCommand> cmd = BuildChildCommand(c.objective, "{}", "", kOptions);
    EXPECT_EQ(cmd.status().code(), c.code) << c.objective;
    EXPECT_NE(cmd.status().message().find(c.needle), std::string::npos)
        << c.objective << " -> " << cmd.status();
  }
  absl::StatusOr<ChildCommand> cmd =
      BuildChildCommand(R"({"type": "command", "argv": ["a"]})", "[1]", "", kOptions);
  EXPECT_EQ(cmd.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace peftsearch::daemon
