// exp(x) for x <= 0 without libm: the inner loop of every mixture density
// (log-sum-exp over thousands of kernels per candidate). glibc's exp is
// accurate but slow on deep negatives (its underflow path); here terms below
// e^-708 are negligible next to the largest term, which is e^0.
// Method: x = (64 m + j) ln2/64 + r, |r| <= ln2/128; exp(x) = 2^m 2^(j/64)
// e^r, e^r by a degree-5 Taylor polynomial (error < r^6/720 ~ 4e-17).
// Relative error ~1e-16. Plain IEEE arithmetic and a fixed table, so the
// results are the same on every machine.
// Thread safety: pure.
#ifndef PEFTSEARCH_TPE_FAST_EXP_H_
#define PEFTSEARCH_TPE_FAST_EXP_H_

#include <cstdint>
#include <cstring>

#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace peftsearch {
namespace tpe {

namespace internal {
// 2^(j/64), j = 0..63, correctly rounded.
extern const double kExp2Table[64];
}  // namespace internal

inline double ExpNonPositive(double x) {
  if (!(x > -708.0)) x = -708.0;  // also maps -inf and NaN to ~3e-308
  // k = round(x * 64 / ln2) by the 1.5 * 2^52 trick; r = x - k ln2/64 (Cody-Waite).
  constexpr double kShift = 6755399441055744.0;
  const double t = x * 92.33248261689366 + kShift;  // 64 / ln2
  const double kd = t - kShift;
  // ln2/64 split so that kd * hi is exact (hi has 29 significant bits).
  const double r = (x - kd * 0.010830424667801708) - kd * 2.8447437476627285e-11;
  int64_t ti;
  std::memcpy(&ti, &t, sizeof t);
  constexpr int64_t kShiftBits = 0x4338000000000000LL;  // bits of kShift
  const int64_t k = ti - kShiftBits;                     // in [-65408, 0]
  const int64_t j = k & 63;
  const int64_t m = (k - j) / 64;
  const double p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120)))));
  const int64_t bits = (m + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof bits);
  return p * internal::kExp2Table[j] * scale;
}

#if defined(__SSE2__) && defined(__x86_64__)
// ExpNonPositive of two lanes with SSE2 (part of every x86-64 target): the
// same IEEE operations as the scalar version, lane by lane, so the results
// are bit-identical to it (fast_exp_test.cc checks).
inline __m128d ExpNonPositive2(__m128d x) {
  const __m128d limit = _mm_set1_pd(-708.0);
  const __m128d above = _mm_cmpgt_pd(x, limit);  // false for NaN, as !(x > -708)
  x = _mm_or_pd(_mm_and_pd(above, x), _mm_andnot_pd(above, limit));
  const __m128d shift = _mm_set1_pd(6755399441055744.0);
  const __m128d t = _mm_add_pd(_mm_mul_pd(x, _mm_set1_pd(92.33248261689366)), shift);
  const __m128d kd = _mm_sub_pd(t, shift);
  const __m128d r = _mm_sub_pd(_mm_sub_pd(x, _mm_mul_pd(kd, _mm_set1_pd(0.010830424667801708))),
                               _mm_mul_pd(kd, _mm_set1_pd(2.8447437476627285e-11)));
  const __m128i k = _mm_sub_epi64(_mm_castpd_si128(t), _mm_set1_epi64x(0x4338000000000000LL));
  const __m128i j = _mm_and_si128(k, _mm_set1_epi64x(63));
  // (m + 1023) << 52 with m = (k - j) / 64, i.e. ((k - j) << 46) + (1023 << 52).
  const __m128i bits = _mm_add_epi64(_mm_slli_epi64(_mm_sub_epi64(k, j), 46),
                                     _mm_set1_epi64x(1023LL << 52));
  const int64_t j0 = _mm_cvtsi128_si64(j), j1 = _mm_cvtsi128_si64(_mm_unpackhi_epi64(j, j));
  const __m128d table = _mm_set_pd(internal::kExp2Table[j1], internal::kExp2Table[j0]);
  __m128d p = _mm_add_pd(_mm_set1_pd(1.0 / 24), _mm_mul_pd(r, _mm_set1_pd(1.0 / 120)));
  p = _mm_add_pd(_mm_set1_pd(1.0 / 6), _mm_mul_pd(r, p));
  p = _mm_add_pd(_mm_set1_pd(0.5), _mm_mul_pd(r, p));
  p = _mm_add_pd(_mm_set1_pd(1.0), _mm_mul_pd(r, p));
  p = _mm_add_pd(_mm_set1_pd(1.0), _mm_mul_pd(r, p));
  return _mm_mul_pd(_mm_mul_pd(p, table), _mm_castsi128_pd(bits));
}
#endif

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_FAST_EXP_H_
