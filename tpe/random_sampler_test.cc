#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "tpe/random.h"
#include "tpe/sampler.h"
#include "tpe/test_util.h"
#include "tpe/uniform.h"

namespace peftsearch {
namespace tpe {
namespace {

using testing::Cat;
using testing::Float;
using testing::Int;
using testing::When;

SearchSpace Mixed() {
  return {{Float("x", -5, 5), Float("lr", 1e-5, 1, true), Int("n", 1, 10),
           Int("units", 8, 1024, true), Float("d", 0, 0.5, false, 0.05), Cat("opt", 3),
           When(Float("momentum", 0, 0.99), "opt", {0}), Float("c", 2, 2)}};
}

TEST(RngTest, UniformIntIsInRangeAndCoversIt) {
  Rng rng(1, 2);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    uint64_t v = rng.UniformInt(7);
    ASSERT_LT(v, 7u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);
  double u = rng.UniformOpen();
  EXPECT_GT(u, 0);
  EXPECT_LT(u, 1);
}

TEST(RngTest, StreamsDifferBySeedTrialAndStream) {
  EXPECT_NE(Rng(1, 2).NextU64(), Rng(2, 2).NextU64());
  EXPECT_NE(Rng(1, 2).NextU64(), Rng(1, 3).NextU64());
  EXPECT_NE(Rng(1, 2, 0).NextU64(), Rng(1, 2, 1).NextU64());
  EXPECT_EQ(Rng(1, 2, 3).NextU64(), Rng(1, 2, 3).NextU64());
}

TEST(RandomSamplerTest, ValuesAreLegalAndOnlyActiveParams) {
  auto sampler = NewRandomSampler(42);
  SearchSpace space = Mixed();
  for (int64_t t = 0; t < 300; ++t) {
    ParamValues v;
    ASSERT_TRUE(sampler->Suggest(space, {}, Direction::kMinimize, t, &v).ok());
    for (const ParamSpec& p : space.params) {
      bool active = IsActive(p, v);
      ASSERT_EQ(v.count(p.name), active ? 1u : 0u) << p.name;
      if (active) {
        EXPECT_TRUE(Contains(p.distribution, v[p.name])) << p.name << "=" << v[p.name];
      }
    }
    EXPECT_EQ(v["c"], 2);
  }
}

TEST(RandomSamplerTest, DeterministicPerTrialNumber) {
  auto a = NewRandomSampler(7);
  auto b = NewRandomSampler(7);
  ParamValues x, y, z;
  ASSERT_TRUE(a->Suggest(Mixed(), {}, Direction::kMinimize, 5, &x).ok());
  ASSERT_TRUE(b->Suggest(Mixed(), {}, Direction::kMaximize, 5, &y).ok());
  ASSERT_TRUE(b->Suggest(Mixed(), {}, Direction::kMinimize, 6, &z).ok());
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

TEST(RandomSamplerTest, RejectsInvalidSpace) {
  ParamValues v;
  Status s = NewRandomSampler(0)->Suggest({{Float("lr", 0, 1, true)}}, {}, Direction::kMinimize, 0, &v);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
}

TEST(SampleUniformTest, LogIntIsUniformInLogScale) {
  // Int(1, 100, log): P(n <= 10) = ln(10.5/0.5) / ln(100.5/0.5) ~ 0.574.
  Distribution d = Int("n", 1, 100, true).distribution;
  Rng rng(3, 0);
  int small = 0;
  const int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    double v = SampleUniform(d, &rng);
    ASSERT_TRUE(Contains(d, v)) << v;
    small += v <= 10;
  }
  EXPECT_NEAR(small / double(kDraws), std::log(21.0) / std::log(201.0), 0.015);
}

TEST(SampleUniformTest, StepGridEndpointsAreReached) {
  Distribution d = Float("d", 0, 0.5, false, 0.05).distribution;
  Rng rng(4, 0);
  std::set<double> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(SampleUniform(d, &rng));
  EXPECT_EQ(seen.size(), 11u);
  EXPECT_EQ(*seen.begin(), 0.0);
  EXPECT_NEAR(*seen.rbegin(), 0.5, 1e-12);
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
