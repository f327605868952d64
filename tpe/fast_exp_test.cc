#include "tpe/fast_exp.h"

#include <gtest/gtest.h>

#include <cmath>

namespace peftsearch {
namespace tpe {
namespace {

TEST(FastExpTest, MatchesLibmToAFewUlps) {
  for (double x = -707.9; x <= 0; x += 0.0137) {
    const double want = std::exp(x);
    EXPECT_NEAR(ExpNonPositive(x), want, 4e-16 * want) << x;
  }
  for (double x : {0.0, -1e-300, -1e-10, -0.5, -1.0, -700.0}) {
    EXPECT_NEAR(ExpNonPositive(x), std::exp(x), 4e-16 * std::exp(x)) << x;
  }
  EXPECT_EQ(ExpNonPositive(0), 1.0);
  EXPECT_LT(ExpNonPositive(-INFINITY), 1e-300);
  EXPECT_LT(ExpNonPositive(-1000), 1e-300);
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
