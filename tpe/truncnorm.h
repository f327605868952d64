// Numerics of the (truncated) standard normal, SciPy-free as Optuna's
// _truncnorm.py: log CDF, log mass of an interval, inverse of the log CDF,
// and the truncated-normal ppf / log pdf that TPE's kernels are built on.
// All in log space so tails far beyond 8 sigma keep their precision.
// Thread safety: pure functions.
#ifndef PEFTSEARCH_TPE_TRUNCNORM_H_
#define PEFTSEARCH_TPE_TRUNCNORM_H_

#include <cmath>

#include "tpe/fast_ndtr.h"

namespace peftsearch {
namespace tpe {

// log Phi(x), accurate for x -> -inf (asymptotic series) and x -> +inf.
double LogNdtr(double x);
// log(Phi(b) - Phi(a)) for a <= b; -inf when a == b.
double LogGaussMass(double a, double b);
// LogGaussMass with Phi from NdtrNonPositive (fast_ndtr.h) wherever its
// arguments allow, and through one difference of CDFs where that loses no
// more than ~1e-12 relative precision: what the mixture density uses for
// every kernel's domain and cell masses. Agrees with LogGaussMass to within
// a few ulp of Phi (glibc's erfc route of LogGaussMass is itself off by up
// to ~90 ulp of Phi at x = -8, from rounding x / sqrt(2)).
double LogGaussMassFast(double a, double b);
namespace internal {
// GaussMassCentral when Phi(a) + Phi(-b) = ta + tb > 1/2 (the interval is
// narrow): the mass summed from its two halves, 1 - ta - tb would cancel.
double GaussMassNarrowCentral(double a, double b, double ta, double tb);
}  // namespace internal

// Phi(b) - Phi(a) for a <= 0 <= b (a kernel's mass over a domain that holds
// its mean), to a few ulp; tails beyond 8.3 sigma count as 0, as in
// LogGaussMass. Inline: the density calls it for every kernel and
// dimension. REQUIRES: a <= 0 <= b.
inline double GaussMassCentral(double a, double b) {
  const double ta = a > -8.3 ? NdtrNonPositive(a) : 0.0;
  const double tb = b < 8.3 ? NdtrNonPositive(-b) : 0.0;
  const double t = ta + tb;
  if (t <= 0.5) return 1.0 - t;
  return internal::GaussMassNarrowCentral(a, b, ta, tb);
}
#if defined(__SSE2__) && defined(__x86_64__)
// GaussMassCentral of two lanes (NdtrNonPositive2), bit-identical to it.
// REQUIRES: a <= 0 <= b in both lanes.
inline __m128d GaussMassCentral2(__m128d a, __m128d b) {
  const __m128d use_a = _mm_cmpgt_pd(a, _mm_set1_pd(-8.3));
  const __m128d use_b = _mm_cmplt_pd(b, _mm_set1_pd(8.3));
  const __m128d neg_b = _mm_xor_pd(b, _mm_set1_pd(-0.0));
  // A lane beyond the cut-off evaluates Phi(0) and is masked to 0 after.
  const __m128d ta = _mm_and_pd(use_a, NdtrNonPositive2(_mm_and_pd(use_a, a)));
  const __m128d tb = _mm_and_pd(use_b, NdtrNonPositive2(_mm_and_pd(use_b, neg_b)));
  const __m128d t = _mm_add_pd(ta, tb);
  if (_mm_movemask_pd(_mm_cmpgt_pd(t, _mm_set1_pd(0.5))) == 0) {
    return _mm_sub_pd(_mm_set1_pd(1.0), t);
  }
  double av[2], bv[2];
  _mm_storeu_pd(av, a);
  _mm_storeu_pd(bv, b);
  return _mm_set_pd(GaussMassCentral(av[1], bv[1]), GaussMassCentral(av[0], bv[0]));
}

// LogGaussMassFast of two lanes into out[0..1], bit-identical to it: the
// common case (both lanes in one tail, within NdtrNonPositive's range, the
// difference of CDFs safe) with NdtrNonPositive2, anything else by the
// scalar function.
inline void LogGaussMassFast2(__m128d a, __m128d b, double out[2]) {
  const __m128d zero = _mm_setzero_pd(), sign = _mm_set1_pd(-0.0);
  const __m128d mirror = _mm_cmpgt_pd(a, zero);  // right tail: (a, b) -> (-b, -a)
  const __m128d ma = _mm_or_pd(_mm_and_pd(mirror, _mm_xor_pd(b, sign)), _mm_andnot_pd(mirror, a));
  const __m128d mb = _mm_or_pd(_mm_and_pd(mirror, _mm_xor_pd(a, sign)), _mm_andnot_pd(mirror, b));
  const __m128d ok = _mm_and_pd(_mm_and_pd(_mm_cmplt_pd(a, b), _mm_cmplt_pd(mb, zero)),
                                _mm_cmpge_pd(ma, _mm_set1_pd(kNdtrFastMin)));
  if (_mm_movemask_pd(ok) == 3) {
    const __m128d pb = NdtrNonPositive2(mb), pa = NdtrNonPositive2(ma);
    const __m128d d = _mm_sub_pd(pb, pa);
    if (_mm_movemask_pd(_mm_cmpgt_pd(d, _mm_mul_pd(_mm_set1_pd(1e-3), pb))) == 3) {
      double dv[2];
      _mm_storeu_pd(dv, d);
      out[0] = std::log(dv[0]);
      out[1] = std::log(dv[1]);
      return;
    }
  }
  double av[2], bv[2];
  _mm_storeu_pd(av, a);
  _mm_storeu_pd(bv, b);
  out[0] = LogGaussMassFast(av[0], bv[0]);
  out[1] = LogGaussMassFast(av[1], bv[1]);
}
#endif

// x with log Phi(x) = y, for y <= 0 (y = 0 gives +inf, -inf gives -inf).
double NdtriExp(double y);
// q-quantile of the standard normal truncated to [a, b], q in [0, 1].
// REQUIRES: a < b.
double TruncNormPpf(double q, double a, double b);
// log density at x of the standard normal truncated to [a, b]; -inf outside.
double TruncNormLogPdf(double x, double a, double b);

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_TRUNCNORM_H_
