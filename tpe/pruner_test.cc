#include "tpe/pruner.h"

#include <gtest/gtest.h>

#include <cmath>

namespace peftsearch {
namespace tpe {
namespace {

// Replays the scenario of a script run against Optuna 3.1's pruners (Debian
// 12): 30 sequential trials, each reporting 20 steps and asking after each
// report; returns the step each trial was pruned at, -1 if it completed.
std::vector<int> Scenario(const Pruner& pruner, Direction direction) {
  std::vector<Trial> history;
  std::vector<int> out;
  for (int i = 0; i < 30; ++i) {
    Trial t;
    t.number = i;
    const double base = ((i * 37) % 29) / 29.0 + 0.1;
    int pruned = -1;
    for (int s = 0; s < 20; ++s) {
      double v = base * (1 + 1.0 / (s + 1)) + 0.01 * ((i * s) % 7);
      if (i == 13 && s == 3) v = NAN;
      t.intermediate_values.push_back({s, v});
      if (pruner.ShouldPrune(t, history, direction)) {
        pruned = s;
        break;
      }
    }
    t.state = pruned >= 0 ? TrialState::kPruned : TrialState::kComplete;
    if (pruned < 0) t.value = base;
    history.push_back(t);
    out.push_back(pruned);
  }
  return out;
}

TEST(MedianPrunerTest, MatchesOptunaDefault) {
  auto p = NewMedianPruner();
  EXPECT_EQ(Scenario(*p, Direction::kMinimize),
            (std::vector<int>{-1, -1, -1, -1, -1, 0, 0, 0, -1, 0, 0, -1, 0, 0, 0,
                              -1, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, -1}));
  EXPECT_EQ(Scenario(*p, Direction::kMaximize),
            (std::vector<int>{-1, -1, -1, -1, -1, -1, -1, -1, 0, -1, -1, 0, 0, -1, -1,
                              0, 0, -1, -1, 0, 0, -1, 0, 0, 0, -1, 0, 0, -1, 0}));
}

TEST(MedianPrunerTest, MatchesOptunaWarmupAndInterval) {
  auto p = NewMedianPruner(3, 2, 3);
  EXPECT_EQ(Scenario(*p, Direction::kMinimize),
            (std::vector<int>{-1, -1, -1, 2, -1, 2, 2, 2, 2, 2, 2, -1, 2, 2, 2,
                              2, 2, 2, 2, 2, 2, 2, -1, 2, 2, 2, 2, 2, 2, -1}));
  EXPECT_EQ(Scenario(*p, Direction::kMaximize),
            (std::vector<int>{-1, -1, -1, -1, 2, -1, -1, -1, 2, -1, -1, 2, 2, -1, -1,
                              2, -1, -1, -1, 2, -1, -1, 2, 2, -1, -1, 2, -1, -1, 2}));
}

TEST(MedianPrunerTest, EdgeCases) {
  auto p = NewMedianPruner(1, 0, 1);
  Trial done;
  done.number = 0;
  done.state = TrialState::kComplete;
  done.value = 1;
  done.intermediate_values = {{0, 1.0}, {1, 0.5}};
  Trial t;
  t.number = 1;
  EXPECT_FALSE(p->ShouldPrune(t, {done}, Direction::kMinimize));  // nothing reported
  t.intermediate_values = {{0, NAN}};
  EXPECT_TRUE(p->ShouldPrune(t, {done}, Direction::kMinimize));   // only NaN
  t.intermediate_values = {{5, 9.0}};
  EXPECT_FALSE(p->ShouldPrune(t, {done}, Direction::kMinimize));  // no one else at step 5
  t.intermediate_values = {{0, 0.9}, {1, 0.6}};  // best so far 0.6 > median 0.5 at step 1
  EXPECT_TRUE(p->ShouldPrune(t, {done}, Direction::kMinimize));
  Trial failed = done;
  failed.state = TrialState::kFailed;
  EXPECT_FALSE(p->ShouldPrune(t, {failed}, Direction::kMinimize));  // only COMPLETE count
  EXPECT_EQ(CheckMedianPrunerArgs(-1, 0, 1).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(CheckMedianPrunerArgs(0, 0, 0).message(), "interval_steps (0) must be >= 1");
  EXPECT_TRUE(CheckMedianPrunerArgs(5, 0, 1).ok());
}

TEST(SuccessiveHalvingPrunerTest, MatchesOptunaDefaults) {
  auto p = NewSuccessiveHalvingPruner(1, 4, 0);
  EXPECT_EQ(Scenario(*p, Direction::kMinimize),
            (std::vector<int>{-1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 1, 1,
                              4, 1, 1, 1, 1, 1, 1, 4, 1, 1, 1, 4, 1, 1, 4}));
  EXPECT_EQ(Scenario(*p, Direction::kMaximize),
            (std::vector<int>{-1, -1, -1, -1, 1, 1, 1, -1, 1, 1, 1, 1, 1, 1, 4,
                              1, 1, 1, -1, 1, 1, 4, 1, 1, 1, 4, 1, 1, 1, 1}));
}

TEST(SuccessiveHalvingPrunerTest, MatchesOptunaWithEarlyStoppingRate) {
  auto p = NewSuccessiveHalvingPruner(2, 3, 1);
  EXPECT_EQ(Scenario(*p, Direction::kMinimize),
            (std::vector<int>{-1, 6, 6, 6, 6, 6, 6, 6, 18, 6, 6, 18, 6, 6, 6,
                              18, 6, 6, 6, 18, 6, 6, 18, 6, 6, 6, 18, 6, 6, -1}));
  EXPECT_EQ(Scenario(*p, Direction::kMaximize),
            (std::vector<int>{-1, -1, -1, -1, 6, 6, 18, -1, 6, 6, 18, 6, 6, 6, 18,
                              6, 6, 18, -1, 6, 6, 18, 6, 6, 6, -1, 6, 6, 18, 6}));
}

TEST(SuccessiveHalvingPrunerTest, NanAndArgs) {
  auto p = NewSuccessiveHalvingPruner();
  Trial t;
  t.number = 0;
  t.intermediate_values = {{0, NAN}};
  EXPECT_FALSE(p->ShouldPrune(t, {}, Direction::kMinimize));  // below the first rung (step 1)
  t.intermediate_values = {{0, 1.0}, {1, NAN}};
  EXPECT_TRUE(p->ShouldPrune(t, {}, Direction::kMinimize));
  t.intermediate_values = {{1, 1.0}};
  EXPECT_FALSE(p->ShouldPrune(t, {}, Direction::kMinimize));  // first at its rung: best so far
  EXPECT_EQ(CheckSuccessiveHalvingPrunerArgs(1, 1, 0).message(), "reduction_factor (1) must be >= 2");
  EXPECT_EQ(CheckSuccessiveHalvingPrunerArgs(0, 4, 0).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(CheckSuccessiveHalvingPrunerArgs(1, 4, -1).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(CheckSuccessiveHalvingPrunerArgs(1, 4, 0).ok());
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
