#include <gtest/gtest.h>

#include <set>

#include "tpe/sampler.h"
#include "tpe/test_util.h"

namespace peftsearch {
namespace tpe {
namespace {

using testing::Cat;
using testing::Float;
using testing::Int;
using testing::When;

TEST(GridSamplerTest, VisitsEveryPointOncePerCycle) {
  SearchSpace space{{Int("n", 1, 3), Float("d", 0, 0.5, false, 0.25), Cat("c", 2)}};
  std::unique_ptr<Sampler> sampler;
  ASSERT_TRUE(NewGridSampler(space, 1, &sampler).ok());
  auto* grid = static_cast<GridSampler*>(sampler.get());
  ASSERT_EQ(grid->GridSize(), 3 * 3 * 2);
  std::set<ParamValues> seen;
  for (int64_t t = 0; t < 18; ++t) {
    ParamValues v;
    ASSERT_TRUE(sampler->Suggest(space, {}, Direction::kMinimize, t, &v).ok());
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 18u);
  ParamValues first, again;
  ASSERT_TRUE(sampler->Suggest(space, {}, Direction::kMinimize, 0, &first).ok());
  ASSERT_TRUE(sampler->Suggest(space, {}, Direction::kMinimize, 18, &again).ok());
  EXPECT_EQ(first, again);
}

TEST(GridSamplerTest, ConditionalChildrenOnlyUnderActiveParent) {
  // opt=0 -> momentum in {0, 0.5}; opt=1 -> nothing; opt=2 -> beta in {1, 2, 3}.
  SearchSpace space{{Cat("opt", 3), When(Float("momentum", 0, 0.5, false, 0.5), "opt", {0}),
                     When(Int("beta", 1, 3), "opt", {2})}};
  int64_t size = 0;
  ASSERT_TRUE(GridSize(space, &size).ok());
  EXPECT_EQ(size, 2 + 1 + 3);
  std::unique_ptr<Sampler> sampler;
  ASSERT_TRUE(NewGridSampler(space, 9, &sampler).ok());
  std::set<ParamValues> seen;
  for (int64_t t = 0; t < size; ++t) {
    ParamValues v;
    ASSERT_TRUE(sampler->Suggest(space, {}, Direction::kMinimize, t, &v).ok());
    EXPECT_EQ(v.size(), v["opt"] == 1 ? 1u : 2u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 6u);
}

TEST(GridSamplerTest, SeedShufflesOrder) {
  SearchSpace space{{Int("n", 0, 99)}};
  std::unique_ptr<Sampler> a, b;
  ASSERT_TRUE(NewGridSampler(space, 1, &a).ok());
  ASSERT_TRUE(NewGridSampler(space, 2, &b).ok());
  int same = 0;
  for (int64_t t = 0; t < 100; ++t) {
    ParamValues x, y;
    ASSERT_TRUE(a->Suggest(space, {}, Direction::kMinimize, t, &x).ok());
    ASSERT_TRUE(b->Suggest(space, {}, Direction::kMinimize, t, &y).ok());
    same += x == y;
  }
  EXPECT_LT(same, 10);
}

TEST(GridSamplerTest, ErrorsNameTheProblem) {
  std::unique_ptr<Sampler> sampler;
  Status s = NewGridSampler({{Int("n", 0, 3), Float("lr", 0, 1)}}, 0, &sampler);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "param 'lr': step must be > 0 for grid search");
  s = NewGridSampler({{Int("a", 0, 999), Int("b", 0, 999), Int("c", 0, 9)}}, 0, &sampler);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "grid has more than 1000000 points");
  ASSERT_TRUE(NewGridSampler({{Int("n", 0, 3)}}, 0, &sampler).ok());
  ParamValues v;
  EXPECT_EQ(sampler->Suggest({{Int("n", 0, 4)}}, {}, Direction::kMinimize, 0, &v).code(),
            Status::Code::kInvalidArgument);
  // A single-valued float needs no step.
  EXPECT_TRUE(NewGridSampler({{Float("c", 1, 1), Int("n", 0, 1)}}, 0, &sampler).ok());
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
