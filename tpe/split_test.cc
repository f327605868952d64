#include "tpe/split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tpe/subspace.h"
#include "tpe/test_util.h"

namespace peftsearch {
namespace tpe {
namespace {

Trial Complete(int64_t n, double v) {
  Trial t;
  t.number = n;
  t.state = TrialState::kComplete;
  t.value = v;
  return t;
}

Trial Pruned(int64_t n, std::vector<std::pair<int64_t, double>> iv) {
  Trial t;
  t.number = n;
  t.state = TrialState::kPruned;
  t.intermediate_values = std::move(iv);
  return t;
}

std::vector<int64_t> Numbers(const std::vector<const Trial*>& ts) {
  std::vector<int64_t> out;
  for (const Trial* t : ts) out.push_back(t->number);
  return out;
}

TEST(SplitTest, UsableTrialsFollowOptuna) {
  std::vector<Trial> h = {Complete(0, 1), Complete(1, NAN), Pruned(2, {}), Complete(3, 2)};
  h.push_back(Trial{4, TrialState::kRunning, {}, std::nullopt, {}});
  h.push_back(Trial{5, TrialState::kFailed, {}, std::nullopt, {}});
  Trial no_value = Complete(6, 0);
  no_value.value.reset();
  h.push_back(no_value);
  UsableTrials u = SelectUsableTrials(h, /*exclude_number=*/3, /*include_running=*/false);
  EXPECT_EQ(Numbers(u.finished), (std::vector<int64_t>{0, 2}));
  EXPECT_TRUE(u.running.empty());
  u = SelectUsableTrials(h, 99, true);
  EXPECT_EQ(Numbers(u.finished), (std::vector<int64_t>{0, 2, 3}));
  EXPECT_EQ(Numbers(u.running), (std::vector<int64_t>{4}));
}

TEST(SplitTest, CompleteByValueThenPrunedByStepThenValue) {
  std::vector<Trial> h = {Complete(0, 5),  Complete(1, 1),
                          Pruned(2, {{1, 0.5}, {3, 9}}),   // reached step 3
                          Pruned(3, {{1, 0.1}}),           // step 1, good value
                          Pruned(4, {{3, 2}}),             // step 3, better than #2
                          Pruned(5, {}), Complete(6, 1)};  // tie with #1
  UsableTrials u = SelectUsableTrials(h, -1, false);
  Split s = SplitTrials(u, 2, Direction::kMinimize);
  EXPECT_EQ(Numbers(s.below), (std::vector<int64_t>{1, 6}));
  s = SplitTrials(u, 4, Direction::kMinimize);
  EXPECT_EQ(Numbers(s.below), (std::vector<int64_t>{0, 1, 4, 6}));
  s = SplitTrials(u, 5, Direction::kMinimize);
  EXPECT_EQ(Numbers(s.below), (std::vector<int64_t>{0, 1, 2, 4, 6}));
  EXPECT_EQ(Numbers(s.above), (std::vector<int64_t>{3, 5}));
  s = SplitTrials(u, 100, Direction::kMinimize);
  EXPECT_EQ(s.below.size(), 7u);
  s = SplitTrials(u, 0, Direction::kMinimize);
  EXPECT_TRUE(s.below.empty());
}

TEST(SplitTest, MaximizeAndNanIntermediate) {
  std::vector<Trial> h = {Complete(0, 5), Complete(1, 1), Pruned(2, {{2, NAN}}), Pruned(3, {{2, -4}}),
                          Pruned(4, {{2, 3}})};
  UsableTrials u = SelectUsableTrials(h, -1, false);
  Split s = SplitTrials(u, 1, Direction::kMaximize);
  EXPECT_EQ(Numbers(s.below), (std::vector<int64_t>{0}));
  s = SplitTrials(u, 3, Direction::kMaximize);
  EXPECT_EQ(Numbers(s.below), (std::vector<int64_t>{0, 1, 4}));
  s = SplitTrials(u, 4, Direction::kMaximize);
  EXPECT_EQ(Numbers(s.below), (std::vector<int64_t>{0, 1, 3, 4}));  // NaN ranks last
}

TEST(SplitTest, LargeShuffledHistoryMatchesAFullStableSort) {
  // The split selects the best n_below instead of sorting everything, and
  // skips re-sorting sides that are already in number order: compare with
  // the plain definition on a history out of number order, with ties.
  std::vector<Trial> h;
  for (int i = 0; i < 500; ++i) {
    const int64_t number = (i * 7919) % 500;  // a permutation of 0..499
    if (i % 9 == 0) {
      h.push_back(Pruned(number, {{i % 4, std::fmod(i * 0.37, 1.0)}}));
    } else {
      h.push_back(Complete(number, std::round(std::fmod(i * 0.6180339887, 1.0) * 50)));  // many ties
    }
  }
  h.push_back(Trial{500, TrialState::kRunning, {}, std::nullopt, {}});
  UsableTrials u = SelectUsableTrials(h, -1, true);
  for (Direction dir : {Direction::kMinimize, Direction::kMaximize}) {
    for (int n_below : {0, 1, 25, 444, 450, 470, 500}) {
      std::vector<const Trial*> complete, pruned;
      for (const Trial* t : u.finished) (t->state == TrialState::kComplete ? complete : pruned).push_back(t);
      auto by_number = [](const Trial* a, const Trial* b) { return a->number < b->number; };
      std::sort(complete.begin(), complete.end(), by_number);
      std::sort(pruned.begin(), pruned.end(), by_number);
      const double sign = dir == Direction::kMinimize ? 1 : -1;
      std::stable_sort(complete.begin(), complete.end(),
                       [&](const Trial* a, const Trial* b) { return sign * *a->value < sign * *b->value; });
      auto pruned_key = [&](const Trial* t) {
        const auto& last = t->intermediate_values.back();
        return std::make_pair(-static_cast<double>(last.first), sign * last.second);
      };
      std::stable_sort(pruned.begin(), pruned.end(),
                       [&](const Trial* a, const Trial* b) { return pruned_key(a) < pruned_key(b); });
      std::vector<const Trial*> ranked = complete;
      ranked.insert(ranked.end(), pruned.begin(), pruned.end());
      std::vector<int64_t> want_below, want_above;
      for (size_t r = 0; r < ranked.size(); ++r) {
        (static_cast<int>(r) < n_below ? want_below : want_above).push_back(ranked[r]->number);
      }
      want_above.push_back(500);  // the running trial
      std::sort(want_below.begin(), want_below.end());
      std::sort(want_above.begin(), want_above.end());
      Split s = SplitTrials(u, n_below, dir);
      EXPECT_EQ(Numbers(s.below), want_below) << n_below;
      EXPECT_EQ(Numbers(s.above), want_above) << n_below;
    }
  }
}

TEST(SplitTest, RunningTrialsAreAlwaysAbove) {
  std::vector<Trial> h = {Complete(0, 5), Trial{1, TrialState::kRunning, {}, std::nullopt, {}}};
  UsableTrials u = SelectUsableTrials(h, -1, true);
  Split s = SplitTrials(u, 5, Direction::kMinimize);
  EXPECT_EQ(Numbers(s.below), (std::vector<int64_t>{0}));
  EXPECT_EQ(Numbers(s.above), (std::vector<int64_t>{1}));
}

TEST(SubspaceTest, IntersectionAndGroups) {
  using testing::Cat;
  using testing::Float;
  using testing::When;
  SearchSpace space{{Cat("opt", 2), When(Float("m", 0, 1), "opt", {0}),
                     When(Float("b", 0, 1), "opt", {1}), Float("lr", 0, 1), Float("c", 3, 3)}};
  Trial a;
  a.params = {{"opt", 0}, {"m", 0.5}, {"lr", 0.1}, {"c", 3}};
  Trial b;
  b.params = {{"opt", 1}, {"b", 0.5}, {"lr", 0.2}, {"c", 3}};
  Trial c;
  c.params = {{"opt", 0}, {"m", 2.0}, {"lr", 0.2}};  // m out of range: absent
  std::vector<const Trial*> ts = {&a, &b};
  EXPECT_EQ(IntersectionSpace(space, ts), (std::vector<int>{0, 3}));
  EXPECT_EQ(GroupDecomposition(space, ts), (std::vector<std::vector<int>>{{0, 3}, {1}, {2}}));
  ts.push_back(&c);
  EXPECT_EQ(GroupDecomposition(space, ts), (std::vector<std::vector<int>>{{0, 3}, {1}, {2}}));
  EXPECT_TRUE(IntersectionSpace(space, {}).empty());
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
