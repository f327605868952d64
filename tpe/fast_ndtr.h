// Phi(x), the standard normal CDF, for -8.5 <= x <= 0 without libm: the
// domain and cell masses of the density's kernels (tens of thousands per
// suggestion). Phi(x) = S(x) exp(-x^2/2), where S(x) = Phi(x) e^{x^2/2} is
// smooth (S' = x S + 1/sqrt(2 pi)); S comes from its degree-11 Taylor
// polynomial at the nearest multiple of 1/8, whose coefficients are in a
// table computed with mpmath at 60 digits (fast_ndtr.cc). exp(-x^2/2) takes
// x^2 exactly (x split into 26-bit halves) and ExpNonPositive. Relative
// error about 1e-16 on average, 4.7 ulp at worst (fast_ndtr_test.cc; glibc's
// erfc(-x/sqrt(2))/2 is off by up to 90 ulp, from the rounding of x/sqrt(2)).
// Plain IEEE arithmetic (no FMA: the build is -std=c++17, which keeps GCC
// from contracting) and a fixed table: the same results on every machine.
// Thread safety: pure.
#ifndef PEFTSEARCH_TPE_FAST_NDTR_H_
#define PEFTSEARCH_TPE_FAST_NDTR_H_

#include "tpe/fast_exp.h"

namespace peftsearch {
namespace tpe {

namespace internal {
constexpr int kNdtrGridPoints = 69;  // x0 = 0, -1/8, ..., -8.5
constexpr int kNdtrDegree = 11;
// Taylor coefficients of S at x0 = -j/8: kNdtrTaylor[j][n] = S^(n)(x0) / n!.
extern const double kNdtrTaylor[kNdtrGridPoints][kNdtrDegree + 1];
}  // namespace internal

// Lowest x that NdtrNonPositive accepts.
constexpr double kNdtrFastMin = -8.5;

// Phi(x). REQUIRES: kNdtrFastMin <= x <= 0.
inline double NdtrNonPositive(double x) {
  // Nearest grid point x0 = -j/8; d = x - x0 is exact (|d| <= 1/16 <= |x0|/2,
  // Sterbenz; or x0 = 0).
  const int j = static_cast<int>(-8.0 * x + 0.5);
  const double d = x + j * 0.125;
  const double* a = internal::kNdtrTaylor[j];
  // Estrin's scheme: four short chains instead of Horner's eleven dependent
  // multiply-adds (the terms fall by ~16x per degree, |d| <= 1/16).
  static_assert(internal::kNdtrDegree == 11, "Estrin below is written for degree 11");
  const double d2 = d * d, d4 = d2 * d2;
  const double p01 = a[0] + a[1] * d, p23 = a[2] + a[3] * d;
  const double p45 = a[4] + a[5] * d, p67 = a[6] + a[7] * d;
  const double p89 = a[8] + a[9] * d, p1011 = a[10] + a[11] * d;
  const double s = (p01 + p23 * d2) + d4 * ((p45 + p67 * d2) + d4 * (p89 + p1011 * d2));
  // x = hi + lo with hi of 26 significant bits, so hi * hi / 2 is exact and
  // exp(-x^2/2) = exp(-hi^2/2) exp(-u), u = hi lo + lo^2/2, |u| < 2e-6.
  const double c = 134217729.0 * x;  // 2^27 + 1 (Veltkamp split)
  const double hi = c - (c - x);
  const double lo = x - hi;
  const double u = hi * lo + 0.5 * lo * lo;
  const double e = ExpNonPositive(-0.5 * (hi * hi)) * (1.0 - u + 0.5 * (u * u));
  return s * e;
}

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_FAST_NDTR_H_
