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

#if defined(__SSE2__) && defined(__x86_64__)
// NdtrNonPositive of two lanes with SSE2: the same operations, lane by
// lane, so bit-identical to the scalar version (fast_ndtr_test.cc checks).
// REQUIRES: kNdtrFastMin <= x <= 0 in both lanes.
inline __m128d NdtrNonPositive2(__m128d x) {
  const __m128i ji = _mm_cvttpd_epi32(_mm_add_pd(_mm_mul_pd(_mm_set1_pd(-8.0), x), _mm_set1_pd(0.5)));
  const __m128d d = _mm_add_pd(x, _mm_mul_pd(_mm_cvtepi32_pd(ji), _mm_set1_pd(0.125)));
  const double* a0 = internal::kNdtrTaylor[_mm_cvtsi128_si32(ji)];
  const double* a1 = internal::kNdtrTaylor[_mm_cvtsi128_si32(_mm_shuffle_epi32(ji, 1))];
  // Coefficients n and n + 1 of both lanes: (a0[n], a1[n]), (a0[n+1], a1[n+1]).
  __m128d c[internal::kNdtrDegree + 1];
  for (int n = 0; n <= internal::kNdtrDegree; n += 2) {
    const __m128d l0 = _mm_loadu_pd(a0 + n), l1 = _mm_loadu_pd(a1 + n);
    c[n] = _mm_unpacklo_pd(l0, l1);
    c[n + 1] = _mm_unpackhi_pd(l0, l1);
  }
  const __m128d d2 = _mm_mul_pd(d, d), d4 = _mm_mul_pd(d2, d2);
  auto lin = [&](int n) { return _mm_add_pd(c[n], _mm_mul_pd(c[n + 1], d)); };
  const __m128d p01 = lin(0), p23 = lin(2), p45 = lin(4), p67 = lin(6), p89 = lin(8), p1011 = lin(10);
  const __m128d s = _mm_add_pd(
      _mm_add_pd(p01, _mm_mul_pd(p23, d2)),
      _mm_mul_pd(d4, _mm_add_pd(_mm_add_pd(p45, _mm_mul_pd(p67, d2)),
                                _mm_mul_pd(d4, _mm_add_pd(p89, _mm_mul_pd(p1011, d2))))));
  const __m128d cc = _mm_mul_pd(_mm_set1_pd(134217729.0), x);
  const __m128d hi = _mm_sub_pd(cc, _mm_sub_pd(cc, x));
  const __m128d lo = _mm_sub_pd(x, hi);
  const __m128d half = _mm_set1_pd(0.5);
  const __m128d u = _mm_add_pd(_mm_mul_pd(hi, lo), _mm_mul_pd(_mm_mul_pd(half, lo), lo));
  const __m128d e = _mm_mul_pd(
      ExpNonPositive2(_mm_mul_pd(_mm_set1_pd(-0.5), _mm_mul_pd(hi, hi))),
      _mm_add_pd(_mm_sub_pd(_mm_set1_pd(1.0), u), _mm_mul_pd(half, _mm_mul_pd(u, u))));
  return _mm_mul_pd(s, e);
}
#endif

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_FAST_NDTR_H_
