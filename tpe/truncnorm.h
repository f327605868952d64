// Numerics of the (truncated) standard normal, SciPy-free as Optuna's
// _truncnorm.py: log CDF, log mass of an interval, inverse of the log CDF,
// and the truncated-normal ppf / log pdf that TPE's kernels are built on.
// All in log space so tails far beyond 8 sigma keep their precision.
// Thread safety: pure functions.
#ifndef PEFTSEARCH_TPE_TRUNCNORM_H_
#define PEFTSEARCH_TPE_TRUNCNORM_H_

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
