// Golden values from SciPy 1.10 / Optuna's _truncnorm.py (Debian 12).
#include "tpe/truncnorm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace peftsearch {
namespace tpe {
namespace {

// abs + rel tolerance, as in the project's numerics tests.
void ExpectClose(double got, double want, double rel = 1e-10) {
  EXPECT_NEAR(got, want, 1e-12 + rel * std::fabs(want));
}

TEST(TruncNormTest, LogNdtr) {
  ExpectClose(LogNdtr(-40), -804.6084420137539);
  ExpectClose(LogNdtr(-25), -316.63940800802027);
  ExpectClose(LogNdtr(-10), -53.23128515051248);
  ExpectClose(LogNdtr(-1), -1.841021645009264);
  ExpectClose(LogNdtr(0), -0.6931471805599453);
  ExpectClose(LogNdtr(1), -0.17275377902344985);
  ExpectClose(LogNdtr(5), -2.8665161296376305e-07);
  ExpectClose(LogNdtr(10), -7.619853024160473e-24);
}

TEST(TruncNormTest, LogGaussMass) {
  ExpectClose(LogGaussMass(-1, 1), -0.38171514630212616);
  ExpectClose(LogGaussMass(-40, -39), -765.0831565643776);
  ExpectClose(LogGaussMass(39, 40), -765.0831565643776);
  ExpectClose(LogGaussMass(2, 3), -3.8443534263342047);
  ExpectClose(LogGaussMass(-3, -2), -3.8443534263342047);
  ExpectClose(LogGaussMass(-0.5, 30), -0.3689464152886564);
  ExpectClose(LogGaussMass(-1e-3, 1e-3), -7.133546798293504, 1e-9);
  EXPECT_EQ(LogGaussMass(1, 1), -INFINITY);
}

TEST(TruncNormTest, LogGaussMassFastAgreesWithLogGaussMass) {
  const double edges[] = {-45, -39, -20, -8.4, -8.2, -3, -1, -0.01, 0, 0.01, 0.5, 2, 8.2, 8.4, 20, 39, 45};
  for (double a : edges) {
    for (double w : {1e-6, 1e-3, 0.1, 1.0, 5.0}) {
      // [0, 1e-6]: LogGaussMass's 1 - Phi(0) - Phi(-1e-6) cancels (off by
      // 2e-10 relative); the fast one sums the halves (NarrowCentral).
      if (a == 0 && w < 1e-3) continue;
      ExpectClose(LogGaussMassFast(a, a + w), LogGaussMass(a, a + w), 1e-11);
    }
  }
  EXPECT_EQ(LogGaussMassFast(2, 2), -INFINITY);
}

TEST(TruncNormTest, LogGaussMassFastNarrowCentral) {
  // log(Phi(b) - Phi(a)) from mpmath 1.2.1 (mp.dps = 50).
  const double golden[][3] = {
      {0.0, 1e-06, -14.734449091169113},
      {-1e-06, 1e-06, -14.041301910609167},
      {-0.01, 0.01, -4.830978205188375},
      {-0.0005, 0.0015, -7.133546923293478},
      {-0.3, 0.4, -1.2970638476386886},
      {-0.6, 0.1, -1.3258590484139332},
      {-2, 3, -0.024395187554887347},
      {-8.4, 0.5, -0.3689464152886564},
      {-0.001, 8.35, -0.6923496142726883},
  };
  for (const auto& [a, b, want] : golden) {
    EXPECT_NEAR(LogGaussMassFast(a, b), want, 1e-14 * std::fabs(want)) << a << " " << b;
    EXPECT_NEAR(LogGaussMassFast(-b, -a), want, 1e-14 * std::fabs(want)) << a << " " << b;
  }
}

TEST(TruncNormTest, GaussMassCentral) {
  // Phi(b) - Phi(a) from mpmath 1.2.1 (mp.dps = 50).
  EXPECT_NEAR(GaussMassCentral(-1, 1), 0.6826894921370859, 1e-16);
  EXPECT_NEAR(GaussMassCentral(0, 1e-06), 3.9894228040136615e-07, 4e-22);
  EXPECT_NEAR(GaussMassCentral(-0.6, 0.1), 0.2655747195269554, 1e-16);
  EXPECT_NEAR(GaussMassCentral(-8.4, 0.5), 0.6914624612740131, 1e-16);
  EXPECT_EQ(GaussMassCentral(-9, 9), 1.0);
  for (double a : {-8.0, -3.0, -0.7, -0.2, -1e-3, 0.0}) {
    for (double b : {0.0, 1e-3, 0.3, 1.0, 5.0, 8.2}) {
      if (a == b) continue;
      const double want = std::exp(LogGaussMassFast(a, b));
      EXPECT_NEAR(GaussMassCentral(a, b), want, 1e-15 * want) << a << " " << b;
    }
  }
}

#if defined(__SSE2__) && defined(__x86_64__)
TEST(TruncNormTest, GaussMassCentralTwoLanesBitIdentical) {
  const double as[] = {-9.0, -8.3, -8.29, -5.0, -1.0, -0.3, -1e-3, 0.0};
  const double bs[] = {0.0, 1e-3, 0.2, 1.0, 4.0, 8.29, 8.3, 9.0};
  for (double a0 : as) {
    for (double b0 : bs) {
      for (double a1 : as) {
        for (double b1 : bs) {
          double got[2];
          _mm_storeu_pd(got, GaussMassCentral2(_mm_set_pd(a1, a0), _mm_set_pd(b1, b0)));
          const double want0 = GaussMassCentral(a0, b0), want1 = GaussMassCentral(a1, b1);
          ASSERT_EQ(std::memcmp(&got[0], &want0, sizeof want0), 0) << a0 << " " << b0;
          ASSERT_EQ(std::memcmp(&got[1], &want1, sizeof want1), 0) << a1 << " " << b1;
        }
      }
    }
  }
}

TEST(TruncNormTest, LogGaussMassFastTwoLanesBitIdentical) {
  const double as[] = {-40, -9, -8.4, -3, -1, -0.01, 0, 0.01, 0.5, 2, 8.2, 39};
  const double ws[] = {0, 1e-6, 1e-3, 0.1, 1.0, 5.0};
  for (double a0 : as) {
    for (double w0 : ws) {
      for (double a1 : as) {
        for (double w1 : ws) {
          double got[2];
          LogGaussMassFast2(_mm_set_pd(a1, a0), _mm_set_pd(a1 + w1, a0 + w0), got);
          const double want0 = LogGaussMassFast(a0, a0 + w0), want1 = LogGaussMassFast(a1, a1 + w1);
          ASSERT_EQ(std::memcmp(&got[0], &want0, sizeof want0), 0) << a0 << " " << w0;
          ASSERT_EQ(std::memcmp(&got[1], &want1, sizeof want1), 0) << a1 << " " << w1;
        }
      }
    }
  }
}
#endif

TEST(TruncNormTest, NdtriExp) {
  ExpectClose(NdtriExp(-1e-10), 6.361340902411735, 1e-8);
  ExpectClose(NdtriExp(-0.1), 1.309617799458493);
  ExpectClose(NdtriExp(-0.69), 0.0039506295602800634, 1e-8);
  ExpectClose(NdtriExp(-1), -0.33747496376420244);
  ExpectClose(NdtriExp(-10), -3.913946240531893);
  ExpectClose(NdtriExp(-100), -13.888476033003888);
  ExpectClose(NdtriExp(-800), -39.88469483825668);
  ExpectClose(NdtriExp(-1e4), -141.37983987312978);
  EXPECT_EQ(NdtriExp(0), INFINITY);
}

TEST(TruncNormTest, Ppf) {
  ExpectClose(TruncNormPpf(0.3, -1, 1), -0.3492199324568822);
  ExpectClose(TruncNormPpf(0.9, 2, 3), 2.6978044494405458);
  ExpectClose(TruncNormPpf(0.5, -40, -39), -39.01775730523235);
  ExpectClose(TruncNormPpf(0.1, 39, 40), 39.00269968568995);
  ExpectClose(TruncNormPpf(0.999, -0.5, 30), 3.1981913323588014);
  ExpectClose(TruncNormPpf(1e-9, -3, 3), -2.99999977496977);
  EXPECT_EQ(TruncNormPpf(0, -3, 3), -3);
  EXPECT_EQ(TruncNormPpf(1, -3, 3), 3);
}

TEST(TruncNormTest, LogPdf) {
  ExpectClose(TruncNormLogPdf(0, -1, 1), -0.5372233869025465);
  ExpectClose(TruncNormLogPdf(2.5, 2, 3), -0.1995851068704675);
  ExpectClose(TruncNormLogPdf(-39.5, -40, -39), -15.960781968827064);
  EXPECT_EQ(TruncNormLogPdf(1.5, -1, 1), -INFINITY);
}

}  // namespace
}  // namespace tpe
}  // namespace peftsearch
