// Issue 4's statistical acceptance test: on 1-D and 5-D shifted quadratics,
// TPE's best value after 100 trials beats random search's in >= 25 of 30
// seeds. Each seed pairs a TPE run and a random run with the same seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <limits>
#include <string>

#include "tpe/sampler.h"
#include "tpe/test_util.h"

namespace peftsearch {
namespace tpe {
namespace {

constexpr int kSeeds = 30;
constexpr int kTrials = 100;
constexpr int kRequiredWins = 25;

SearchSpace Cube(int dims) {
  SearchSpace space;
  for (int d = 0; d < dims; ++d) space.params.push_back(testing::Float("x" + std::to_string(d), -5, 5));
  return space;
}

// Optimum off-centre (x_d = 1.3): TPE's prior kernel sits at the centre, so
// a centred optimum would flatter it (Optuna PR #6261).
double Quadratic(const ParamValues& v) {
  double f = 0;
  for (const auto& [name, x] : v) f += (x - 1.3) * (x - 1.3);
  return f;
}

double BestAfter(Sampler* sampler, const SearchSpace& space) {
  std::vector<Trial> trials;
  double best = std::numeric_limits<double>::infinity();
  for (int t = 0; t < kTrials; ++t) {
    ParamValues v;
    Status s = sampler->Suggest(space, trials, Direction::kMinimize, t, &v);
    EXPECT_TRUE(s.ok()) << s.ToString();
    double f = Quadratic(v);
    best = std::min(best, f);
    trials.push_back(Trial{t, TrialState::kComplete, v, f, {}});
  }
  return best;
}

int TpeWins(int dims, bool multivariate) {
  SearchSpace space = Cube(dims);
  int wins = 0;
  for (int seed = 0; seed < kSeeds; ++seed) {
    TpeOptions o;
    o.seed = seed;
    o.multivariate = multivariate;
    std::unique_ptr<Sampler> tpe;
    EXPECT_TRUE(NewTpeSampler(o, &tpe).ok());
    auto random = NewRandomSampler(seed);
    double bt = BestAfter(tpe.get(), space), br = BestAfter(random.get(), space);
    wins += bt < br;
  }
  return wins;
}

TEST(TpeStatisticalTest, BeatsRandomOn1dQuadratic) {
  int wins = TpeWins(1, false);
  RecordProperty("wins", wins);
  std::printf("1-D quadratic: TPE beat random in %d of %d seeds\n", wins, kSeeds);
  EXPECT_GE(wins, kRequiredWins) << wins << " of " << kSeeds;
}

TEST(TpeStatisticalTest, BeatsRandomOn5dQuadratic) {
  int wins = TpeWins(5, false);
  RecordProperty("wins", wins);
  std::printf("5-D quadratic: TPE beat random in %d of %d seeds\n", wins, kSeeds);
  EXPECT_GE(wins, kRequiredWins) << wins << " of " << kSeeds;
}

TEST(TpeStatisticalTest, MultivariateBeatsRandomOn5dQuadratic) {
  int wins = TpeWins(5, true);
  RecordProperty("wins", wins);
  std::printf("5-D quadratic, multivariate: TPE beat random in %d of %d seeds\n", wins, kSeeds);
  EXPECT_GE(wins, kRequiredWins) << wins << " of " << kSeeds;
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
