// The fast density paths (windowed 1-D sum, bounded discrete masses, merged
// kernels) against a brute-force sum over every kernel.
#include "tpe/mixture.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tpe/parzen_estimator.h"
#include "tpe/test_util.h"
#include "tpe/truncnorm.h"

namespace peftsearch {
namespace tpe {
namespace {

double BruteForce(const Mixture& m, const std::vector<double>& point) {
  double mx = -INFINITY;
  std::vector<double> terms;
  for (int k = 0; k < m.num_kernels(); ++k) {
    double t = std::log(m.weights[k]);
    for (size_t d = 0; d < m.dims.size(); ++d) {
      const MixtureDim& dim = m.dims[d];
      const ModelDomain& dom = dim.domain;
      if (dom.type == ModelDomain::Type::kCategorical) {
        t += std::log(dim.probs[k * dom.num_choices + static_cast<int>(point[d])]);
        continue;
      }
      const double mu = dim.mu[k], s = dim.sigma[k];
      const double norm = LogGaussMass((dom.low - mu) / s, (dom.high - mu) / s);
      if (dom.type == ModelDomain::Type::kContinuous) {
        t += TruncNormLogPdf((dom.ToModel(point[d]) - mu) / s, (dom.low - mu) / s, (dom.high - mu) / s) -
             std::log(s);
      } else {
        double lo, hi;
        dom.Cell(point[d], &lo, &hi);
        t += LogGaussMass((lo - mu) / s, (hi - mu) / s) - norm;
      }
    }
    terms.push_back(t);
    mx = std::max(mx, t);
  }
  double sum = 0;
  for (double t : terms) sum += std::exp(t - mx);
  return mx + std::log(sum);
}

Mixture Build(const std::vector<Distribution>& dims, const std::vector<std::vector<double>>& obs) {
  ParzenOptions o;
  o.weights = DefaultWeights;
  Mixture m;
  EXPECT_TRUE(BuildParzenEstimator(dims, obs, o, &m).ok());
  return m;
}

TEST(MixtureTest, WindowedOneDimensionalSumEqualsFullSum) {
  for (bool log : {false, true}) {
    Distribution d = testing::Float("x", log ? 1e-4 : -5, 5, log).distribution;
    std::vector<double> obs;
    for (int i = 0; i < 2000; ++i) {
      const double u = std::fmod(i * 0.6180339887, 1.0);
      obs.push_back(log ? 1e-4 * std::pow(5e4, u) : -5 + 10 * u * u);  // uneven density
    }
    Mixture m = Build({d}, {obs});
    std::vector<std::vector<double>> pts(1);
    for (int i = 0; i <= 40; ++i) pts[0].push_back(log ? 1e-4 * std::pow(5e4, i / 40.0) : -5 + i / 4.0);
    std::vector<double> lp;
    m.LogPdf(pts, &lp);
    for (size_t i = 0; i < pts[0].size(); ++i) {
      EXPECT_NEAR(lp[i], BruteForce(m, {pts[0][i]}), 1e-10) << pts[0][i];
    }
  }
}

TEST(MixtureTest, LogIntAsContinuousIsADensityInLogSpaceOnTheGrid) {
  ParzenOptions o;
  o.weights = DefaultWeights;
  o.log_int_as_continuous = true;
  const Distribution d = testing::Int("units", 8, 1024, true).distribution;
  Mixture m;
  ASSERT_TRUE(BuildParzenEstimator({d}, {{8, 64, 256, 300, 1000}}, o, &m).ok());
  ASSERT_EQ(m.dims[0].domain.type, ModelDomain::Type::kContinuous);
  EXPECT_NEAR(m.dims[0].domain.low, std::log(7.5), 1e-12);
  EXPECT_NEAR(m.dims[0].domain.high, std::log(1024.5), 1e-12);
  std::vector<double> lp;
  m.LogPdf({{8, 100, 1024}}, &lp);
  EXPECT_NEAR(lp[0], BruteForce(m, {8}), 1e-12);
  EXPECT_NEAR(lp[1], BruteForce(m, {100}), 1e-12);
  EXPECT_NEAR(lp[2], BruteForce(m, {1024}), 1e-12);
  Rng rng(1, 2);
  std::vector<std::vector<double>> pts;
  m.Sample(&rng, 500, &pts);
  for (double v : pts[0]) EXPECT_TRUE(Contains(d, v)) << v;
}

TEST(MixtureTest, DiscreteAndMixedDimensionsEqualFullSum) {
  std::vector<Distribution> dims = {testing::Int("n", 1, 100).distribution,
                                    testing::Int("u", 1, 1024, true).distribution,
                                    testing::Float("x", 0, 1).distribution,
                                    testing::Cat("c", 5).distribution};
  std::vector<std::vector<double>> obs(4);
  for (int i = 0; i < 800; ++i) {
    obs[0].push_back(1 + (i * 37) % 100);
    obs[1].push_back(std::round(std::pow(1024.0, std::fmod(i * 0.377, 1.0))));
    obs[2].push_back(std::fmod(i * 0.6180339887, 1.0));
    obs[3].push_back(i % 5);
  }
  Mixture m = Build(dims, obs);
  Mixture discrete_only = Build({dims[0]}, {obs[0]});
  std::vector<std::vector<double>> pts(4);
  for (int i = 0; i < 30; ++i) {
    pts[0].push_back(1 + (i * 13) % 100);
    pts[1].push_back(1 + (i * 97) % 1024);
    pts[2].push_back(i / 29.0);
    pts[3].push_back(i % 5);
  }
  std::vector<double> lp, lp1;
  m.LogPdf(pts, &lp);
  discrete_only.LogPdf({pts[0]}, &lp1);
  for (int i = 0; i < 30; ++i) {
    EXPECT_NEAR(lp[i], BruteForce(m, {pts[0][i], pts[1][i], pts[2][i], pts[3][i]}), 1e-9) << i;
    EXPECT_NEAR(lp1[i], BruteForce(discrete_only, {pts[0][i]}), 1e-9) << i;
  }
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
