#include "controller/dashboard/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace peftsearch::controller::dashboard {
namespace {

TrialInfo Trial(int64_t number, Json params, std::optional<double> value,
                const std::string& state = "COMPLETE", int phase = 0) {
  TrialInfo t;
  t.number = number;
  t.params = std::move(params);
  t.value = value;
  t.state = state;
  t.phase = phase;
  return t;
}

TEST(ParamColumnsTest, NumericCategoricalAndConstantColumns) {
  StudyInfo study;
  study.space["lr"] = {true, true, 1e-4, 1e-1};
  std::vector<TrialInfo> trials = {
      Trial(0, {{"lr", 1e-3}, {"opt", "adam"}, {"eval", "search"}, {"peft", {{"a", 1}}}}, 1.0),
      Trial(1, {{"lr", 1e-2}, {"opt", "sgd"}, {"eval", "search"}, {"flag", true}}, 2.0),
      Trial(2, {{"lr", 3e-2}, {"opt", "sgd"}, {"eval", "search"}, {"flag", false}}, 3.0)};
  auto columns = ParamColumns(trials, study);
  ASSERT_EQ(columns.size(), 3u);  // eval never varies, peft is an object
  EXPECT_EQ(columns[0].name, "lr");
  EXPECT_TRUE(columns[0].numeric);
  EXPECT_TRUE(columns[0].log);
  EXPECT_DOUBLE_EQ(columns[0].low, 1e-4);  // the spec range, not only the observed one
  EXPECT_DOUBLE_EQ(columns[0].high, 1e-1);
  EXPECT_EQ(columns[1].name, "opt");
  EXPECT_EQ(columns[1].categories, (std::vector<std::string>{"adam", "sgd"}));
  EXPECT_EQ(columns[2].name, "flag");
  EXPECT_EQ(columns[2].categories, (std::vector<std::string>{"false", "true"}));
}

TEST(PedAnovaTest, ParameterThatDrivesTheValueDominates) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<TrialInfo> trials;
  for (int i = 0; i < 200; ++i) {
    const double x = u(rng), noise = u(rng);
    const std::string cat = u(rng) < 0.5 ? "a" : "b";
    trials.push_back(Trial(i, {{"x", x}, {"noise", noise}, {"cat", cat}}, (x - 0.3) * (x - 0.3)));
  }
  StudyInfo study;
  auto imp = PedAnovaImportance(trials, ParamColumns(trials, study), /*maximize=*/false);
  ASSERT_EQ(imp.size(), 3u);
  EXPECT_EQ(imp[0].name, "x");
  EXPECT_GT(imp[0].importance, 0.8);
  double sum = 0;
  for (const auto& p : imp) sum += p.importance;
  EXPECT_NEAR(sum, 1.0, 1e-9);
}

TEST(PedAnovaTest, CategoricalThatDrivesTheValueDominatesWhenMaximizing) {
  std::vector<TrialInfo> trials;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 100; ++i) {
    const bool on = i % 2 == 0;
    trials.push_back(Trial(i, {{"method", on}, {"noise", u(rng)}}, (on ? 0.8 : 0.5) + 0.01 * u(rng)));
  }
  auto imp = PedAnovaImportance(trials, ParamColumns(trials, StudyInfo{}), /*maximize=*/true);
  ASSERT_EQ(imp.size(), 2u);
  EXPECT_EQ(imp[0].name, "method");
  EXPECT_GT(imp[0].importance, 0.6);
}

TEST(PedAnovaTest, TooFewTrialsGiveNothing) {
  std::vector<TrialInfo> trials = {Trial(0, {{"x", 1.0}}, 1.0), Trial(1, {{"x", 2.0}}, 2.0)};
  EXPECT_TRUE(PedAnovaImportance(trials, ParamColumns(trials, StudyInfo{}), false).empty());
}

TEST(MethodEffectsTest, MeansWithAndWithoutFromCompletedStepOneTrials) {
  std::vector<TrialInfo> trials = {
      Trial(0, {{"lora", true}, {"bias", false}}, 0.8, "COMPLETE", 1),
      Trial(1, {{"lora", true}, {"bias", true}}, 0.9, "COMPLETE", 1),
      Trial(2, {{"lora", false}, {"bias", true}}, 0.5, "COMPLETE", 1),
      Trial(3, {{"lora", false}, {"bias", false}}, 0.1, "FAILED", 1),   // not complete
      Trial(4, {{"lora", false}, {"bias", false}}, 0.0, "COMPLETE", 2),  // not step 1
  };
  auto effects = MethodEffects(trials, /*maximize=*/true);
  ASSERT_EQ(effects.size(), 2u);
  EXPECT_EQ(effects[0].method, "lora");  // +0.35 beats bias's +0.0
  EXPECT_EQ(effects[0].n_with, 2);
  EXPECT_EQ(effects[0].n_without, 1);
  EXPECT_DOUBLE_EQ(*effects[0].mean_with, 0.85);
  EXPECT_DOUBLE_EQ(*effects[0].mean_without, 0.5);
  EXPECT_EQ(effects[1].method, "bias");
  EXPECT_DOUBLE_EQ(*effects[1].mean_with, 0.7);
  EXPECT_DOUBLE_EQ(*effects[1].mean_without, 0.8);
}

TEST(WinnerTest, PrefersCompletedFinalThenStepTwoThenStepOne) {
  Json summary = Json::parse(R"({
    "phase": 3,
    "step1": {"best_trial": 4, "best_value": 0.8, "combination": ["a", "b"], "trainable_params": 1000},
    "step2": {"best_trial": 12, "best_value": 0.85, "combination": ["a"], "trainable_params": 600,
              "removed": "b"},
    "final": {"trial": 20, "state": "RUNNING", "combination": ["a"]}})");
  auto w = WinnerOf(summary);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->stage, "step2");  // the final trial has not finished
  EXPECT_EQ(w->trial, 12);
  EXPECT_EQ(w->combination, std::vector<std::string>{"a"});
  EXPECT_DOUBLE_EQ(*w->trainable_params, 600);
  EXPECT_EQ(w->removed, "b");
  summary["final"] = Json::parse(
      R"({"trial": 20, "state": "COMPLETE", "combination": ["a"], "test_value": 0.83,
          "trainable_params": 600})");
  w = WinnerOf(summary);
  EXPECT_EQ(w->stage, "final");
  EXPECT_DOUBLE_EQ(*w->value, 0.83);
  EXPECT_FALSE(WinnerOf(Json::parse(R"({"phase": 1, "step1": {"planned": 5}})")).has_value());
  EXPECT_FALSE(WinnerOf(nullptr).has_value());
}

}  // namespace
}  // namespace peftsearch::controller::dashboard
