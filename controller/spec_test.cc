#include "controller/spec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace peftsearch::controller {
namespace {

const char kGood[] = R"({
  "name": "branin-1", "direction": "minimize",
  "space": {"x": {"type": "float", "low": -5, "high": 10},
            "y": {"type": "float", "low": 0, "high": 15}},
  "objective": {"type": "builtin", "function": "branin"},
  "max_trials": 30, "parallelism": 2
})";

TEST(SpecTest, GoodSpecParses) {
  auto spec = ParseStudySpec(kGood);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "branin-1");
  EXPECT_FALSE(spec->maximize);
  ASSERT_EQ(spec->space.size(), 2u);
  EXPECT_EQ(spec->sampler.type, "tpe");  // TPE is the default sampler
  EXPECT_EQ(spec->max_trials, 30);
  EXPECT_EQ(spec->parallelism, 2);
  EXPECT_EQ(spec->max_attempts, 3);
  EXPECT_EQ(spec->strategy_type, "single");
}

TEST(SpecTest, ConditionalChildrenAreOrderedAfterParents) {
  auto spec = ParseStudySpec(R"({
    "name": "cond", "objective": {"type": "external"},
    "space": {
      "momentum": {"type": "float", "low": 0, "high": 1,
                   "condition": {"param": "opt", "values": ["sgd"]}},
      "opt": {"type": "categorical", "choices": ["adam", "sgd"]},
      "layers": {"type": "int", "low": 1, "high": 8, "log": true}
    }})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->space.size(), 3u);
  EXPECT_EQ(spec->space[0].name, "opt");
  EXPECT_EQ(spec->space[1].name, "momentum");
  EXPECT_EQ(spec->space[2].step, 1);
}

TEST(SpecTest, ArraySpaceKeepsOrder) {
  auto spec = ParseStudySpec(R"({
    "name": "arr", "objective": {"type": "command", "argv": ["train", "--lr={lr}", "{bs}"]},
    "max_trials": 3,
    "space": [{"name": "lr", "type": "float", "low": 1e-5, "high": 1e-1, "log": true},
              {"name": "bs", "type": "categorical", "choices": [16, 32, 64]}]})");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->space[0].name, "lr");
  EXPECT_TRUE(spec->space[0].log);
}

struct BadSpec {
  const char* label;
  std::string json;
  std::string expected;  // a substring of the error message
};

std::string With(const std::string& replace_from, const std::string& replace_to) {
  std::string s = kGood;
  size_t at = s.find(replace_from);
  EXPECT_NE(at, std::string::npos) << replace_from;
  s.replace(at, replace_from.size(), replace_to);
  return s;
}

TEST(SpecTest, BadSpecsNameTheField) {
  const std::vector<BadSpec> cases = {
      {"not json", "{\"name\": ", "spec is not valid JSON"},
      {"not an object", "[1, 2]", "spec: must be a JSON object"},
      // Found by tests/fuzz/spec_fuzz: used to escape as an exception.
      {"number beyond double", R"({"name": "x", "max_trials": 1e999})", "spec is not valid JSON"},
      {"missing name", With(R"("name": "branin-1", )", ""), "name: is required"},
      {"bad name", With(R"("branin-1")", R"("has space")"), "name: must be 1-128 characters"},
      {"numeric name", With(R"("branin-1")", R"("123")"), "name: cannot be all digits"},
      {"bad direction", With(R"("minimize")", R"("down")"),
       R"(direction: must be "minimize" or "maximize", got "down")"},
      {"unknown top-level field", With(R"("parallelism": 2)", R"("parallelism": 2, "paralelism": 3)"),
       "paralelism: unknown field"},
      {"low > high", With(R"("low": -5, "high": 10)", R"("low": 11, "high": 10)"),
       "space.x.low: must be <= high (10), got 11"},
      {"log with low 0", With(R"("low": 0, "high": 15})", R"("low": 0, "high": 15, "log": true})"),
       "space.y.low: must be > 0 when log is true, got 0"},
      {"unknown param type", With(R"("type": "float", "low": -5)", R"("type": "double", "low": -5)"),
       R"(space.x.type: must be float, int or categorical, got "double")"},
      {"missing high", With(R"("low": -5, "high": 10)", R"("low": -5)"), "space.x.high: is required"},
      {"string bound", With(R"("low": -5, "high": 10)", R"("low": "a", "high": 10)"),
       R"(space.x.low: must be a number, got "a")"},
      {"int with fractional bound",
       With(R"("type": "float", "low": -5, "high": 10)", R"("type": "int", "low": 0.5, "high": 10)"),
       "space.x.low: must be an integer, got 0.5"},
      {"empty choices", With(R"({"type": "float", "low": -5, "high": 10})", R"({"type": "categorical", "choices": []})"),
       "space.x.choices: must be a non-empty array"},
      {"duplicate choice", With(R"({"type": "float", "low": -5, "high": 10})", R"({"type": "categorical", "choices": [1, 1]})"),
       "space.x.choices[1]: duplicate choice 1"},
      {"condition on unknown param",
       With(R"("low": -5, "high": 10})", R"("low": -5, "high": 10, "condition": {"param": "z", "values": [1]}})"),
       R"(space.x.condition.param: unknown parameter "z")"},
      {"condition value out of parent's range",
       With(R"("low": -5, "high": 10})", R"("low": -5, "high": 10, "condition": {"param": "y", "values": [99]}})"),
       R"(space.x.condition.values[0]: 99 is not a value of "y")"},
      {"unknown builtin", With(R"("function": "branin")", R"("function": "ackley")"),
       R"(objective.function: unknown builtin "ackley")"},
      {"unknown objective type", With(R"("type": "builtin", "function": "branin")", R"("type": "magic")"),
       R"(objective.type: must be builtin, command, external or peft_vim, got "magic")"},
      {"placeholder names no param",
       With(R"({"type": "builtin", "function": "branin"})", R"({"type": "command", "argv": ["run", "{lr}"]})"),
       "objective.argv[1]: placeholder {lr} names no parameter"},
      {"zero max_trials", With(R"("max_trials": 30)", R"("max_trials": 0)"),
       "max_trials: must be in [1, 10000000], got 0"},
      {"fractional parallelism", With(R"("parallelism": 2)", R"("parallelism": 1.5)"),
       "parallelism: must be an integer, got 1.5"},
      {"missing max_trials", With(R"("max_trials": 30, )", ""), "max_trials: is required"},
      {"unknown sampler", With(R"("parallelism": 2)", R"("parallelism": 2, "sampler": {"type": "cmaes"})"),
       R"(sampler.type: must be tpe, random or grid, got "cmaes")"},
      {"group without multivariate",
       With(R"("parallelism": 2)", R"("parallelism": 2, "sampler": {"group": true})"),
       "sampler.group: requires multivariate: true"},
      {"grid over continuous float",
       With(R"("parallelism": 2)", R"("parallelism": 2, "sampler": {"type": "grid"})"),
       "space.x.step: is required for a float under the grid sampler"},
      {"bad pruner", With(R"("parallelism": 2)", R"("parallelism": 2, "pruner": {"type": "hyperband"})"),
       R"(pruner.type: must be none, median or asha, got "hyperband")"},
      {"bad asha factor",
       With(R"("parallelism": 2)", R"("parallelism": 2, "pruner": {"type": "asha", "reduction_factor": 1})"),
       "pruner.reduction_factor: must be in [2, 1024], got 1"},
      {"bad strategy", With(R"("parallelism": 2)", R"("parallelism": 2, "strategy": {"type": "bohb"})"),
       R"(strategy.type: must be single or hybrid_peft, got "bohb")"},
  };
  ASSERT_GE(cases.size(), 15u);
  for (const BadSpec& c : cases) {
    auto spec = ParseStudySpec(c.json);
    ASSERT_FALSE(spec.ok()) << c.label;
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << c.label;
    EXPECT_NE(std::string(spec.status().message()).find(c.expected), std::string::npos)
        << c.label << ": got \"" << spec.status().message() << "\", want \"" << c.expected << "\"";
  }
}

}  // namespace
}  // namespace peftsearch::controller
