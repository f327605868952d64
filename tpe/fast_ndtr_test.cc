// NdtrNonPositive against mpmath (60 digits) and against libm's erfc.
#include "tpe/fast_ndtr.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace peftsearch {
namespace tpe {
namespace {

TEST(FastNdtrTest, MatchesMpmath) {
  // Phi(x) from mpmath 1.2.1 (mp.dps = 40) at the double nearest each x,
  // rounded to the nearest double.
  const double golden[][2] = {
      {0, 0.5},
      {-1e-300, 0.5},
      {-0.03125, 0.4875350825656229},
      {-0.3, 0.3820885778110474},
      {-1, 0.15865525393145705},
      {-1.96, 0.024997895148220435},
      {-3.5, 0.00023262907903552504},
      {-5, 2.866515718791939e-07},
      {-6.0625, 6.701090416765294e-10},
      {-7.77, 3.924306316131574e-15},
      {-8.3, 5.205569744890254e-17},
      {-8.5, 9.479534822203318e-18},
  };
  for (const auto& [x, want] : golden) {
    EXPECT_NEAR(NdtrNonPositive(x), want, 5e-16 * want) << x;
  }
  EXPECT_EQ(NdtrNonPositive(0), 0.5);
}

// libm's route, erfc(-x / sqrt(2)) / 2, is itself off by up to ~1e-14
// relative near x = -8 (the rounding of x / sqrt(2) is amplified by x^2);
// an offline check against mpmath at 25,000 points found NdtrNonPositive
// within 4.7 ulp everywhere on [-8.5, 0] and libm's route within 90.
TEST(FastNdtrTest, AgreesWithErfc) {
  for (double x = kNdtrFastMin; x <= 0; x += 0.00371) {
    const double want = 0.5 * std::erfc(-x / std::sqrt(2.0));
    const double tol = (1e-15 + 2e-16 * x * x) * want;
    EXPECT_NEAR(NdtrNonPositive(x), want, tol) << x;
  }
}

#if defined(__SSE2__) && defined(__x86_64__)
// The two-lane version must give the scalar version's bits exactly.
TEST(FastNdtrTest, TwoLanesBitIdentical) {
  uint64_t state = 12345;
  auto next = [&]() {  // xorshift in [0, 1)
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (state >> 11) * (1.0 / 9007199254740992.0);
  };
  for (int i = 0; i < 100000; ++i) {
    const double x0 = kNdtrFastMin * next(), x1 = i < 69 ? -i / 8.0 : kNdtrFastMin * next();
    double got[2];
    _mm_storeu_pd(got, NdtrNonPositive2(_mm_set_pd(x1, x0)));
    const double want0 = NdtrNonPositive(x0), want1 = NdtrNonPositive(x1);
    ASSERT_EQ(std::memcmp(&got[0], &want0, sizeof want0), 0) << x0;
    ASSERT_EQ(std::memcmp(&got[1], &want1, sizeof want1), 0) << x1;
  }
}

TEST(FastNdtrTest, ExpTwoLanesBitIdentical) {
  for (double x = -800; x <= 0; x += 0.0123) {
    const double y = x == -800 ? -INFINITY : -x * 1e-3;
    double got[2];
    _mm_storeu_pd(got, ExpNonPositive2(_mm_set_pd(y, x)));
    const double want0 = ExpNonPositive(x), want1 = ExpNonPositive(y);
    ASSERT_EQ(std::memcmp(&got[0], &want0, sizeof want0), 0) << x;
    ASSERT_EQ(std::memcmp(&got[1], &want1, sizeof want1), 0) << y;
  }
}
#endif

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
