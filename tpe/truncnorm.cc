#include "tpe/truncnorm.h"

#include <cmath>
#include <limits>

#include "tpe/fast_ndtr.h"

namespace peftsearch {
namespace tpe {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kHalfLog2Pi = 0.91893853320467274178;  // 0.5 * ln(2 pi)

// Phi(x) through erfc, accurate in the left tail down to x ~ -37.
double Ndtr(double x) { return 0.5 * std::erfc(-x / kSqrt2); }

// log(exp(a) - exp(b)) for a >= b.
double LogDiff(double a, double b) {
  if (b == -kInf) return a;
  return a + std::log(-std::expm1(b - a));
}

double LogAddExp(double a, double b) {
  if (a == -kInf) return b;
  if (b == -kInf) return a;
  double m = a > b ? a : b;
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

// Phi^{-1}(p) for 0 < p <= 0.5: Acklam's rational approximation (relative
// error 1.15e-9) polished by one Halley step against erfc, which brings it to
// full double precision.
double NdtriLower(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                             -2.759285104469687e+02, 1.383577518672690e+02,
                             -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                             -1.556989798598866e+02, 6.680131188771972e+01,
                             -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                             -2.400758277161838e+00, -2.549732539343734e+00,
                             4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                             2.445134137142996e+00, 3.754408661907416e+00};
  double x;
  if (p < 0.02425) {
    double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    double q = p - 0.5;
    double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  double e = Ndtr(x) - p;
  double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

// 1/2 - Phi(x) for x <= 0, given p = Phi(x) (0 where x <= -8.3). Near 0,
// where 0.5 - p would cancel, from the series of the integral of phi over
// [x, 0]: -x/sqrt(2 pi) * sum_n (-x^2/2)^n / (n! (2n+1)); for |x| <= 1/2
// twelve terms leave < 1e-19 relative.
double HalfMinusNdtr(double x, double p) {
  if (x < -0.5) return 0.5 - p;  // p < 0.31: no cancellation
  const double y = -0.5 * x * x;
  double s = 0;
  double term = 1;  // y^n / n!
  for (int n = 0; n < 12; ++n) {
    s += term / (2 * n + 1);
    term *= y / (n + 1);
  }
  return -x * 0.39894228040143267794 * s;  // 1/sqrt(2 pi)
}

}  // namespace

double LogNdtr(double x) {
  if (x > 6) return std::log1p(-Ndtr(-x));  // Phi(x) ~ 1: keep the tiny complement
  if (x > -20) return std::log(Ndtr(x));
  // Asymptotic series: Phi(x) = phi(x)/(-x) * (1 - 1/x^2 + 3/x^4 - 15/x^6 + ...).
  double log_lhs = -0.5 * x * x - std::log(-x) - kHalfLog2Pi;
  double inv_x2 = 1 / (x * x);
  double term = 1, sum = 1;
  for (int k = 1; k < 12; ++k) {
    term *= -(2 * k - 1) * inv_x2;
    sum += term;
  }
  return log_lhs + std::log(sum);
}

double LogGaussMass(double a, double b) {
  if (!(a < b)) return -kInf;
  if (b <= 0) return LogDiff(LogNdtr(b), LogNdtr(a));      // left tail
  if (a > 0) return LogDiff(LogNdtr(-a), LogNdtr(-b));     // right tail, by symmetry
  // Central: both tails small. Beyond 8.3 sigma a tail is < 5.2e-17, below
  // the resolution of log1p(-t) near 0, so its erfc is skipped.
  const double ta = a > -8.3 ? Ndtr(a) : 0.0;
  const double tb = b < 8.3 ? Ndtr(-b) : 0.0;
  // Both skipped (most kernels of a large estimator lie well inside the
  // domain): log1p(-0 - 0) is -0, without the call.
  if (ta == 0.0 && tb == 0.0) return -0.0;
  return std::log1p(-ta - tb);
}

double LogGaussMassFast(double a, double b) {
  if (!(a < b)) return -kInf;
  if (a > 0) {  // right tail: mirror so both CDFs are small numbers
    const double t = a;
    a = -b;
    b = -t;
  }
  if (b < 0) {
    if (a < kNdtrFastMin) return LogGaussMass(a, b);
    const double pb = NdtrNonPositive(b), pa = NdtrNonPositive(a);
    const double d = pb - pa;
    if (d > 1e-3 * pb) return std::log(d);  // cancellation < 1e-12 relative
    return LogGaussMass(a, b);
  }
  // Central (an end at 0 included), as LogGaussMass (the same 8.3 sigma
  // cut-off), with the fast tails.
  const double ta = a > -8.3 ? NdtrNonPositive(a) : 0.0;
  const double tb = b < 8.3 ? NdtrNonPositive(-b) : 0.0;
  if (ta == 0.0 && tb == 0.0) return -0.0;
  const double t = ta + tb;
  if (t <= 0.5) return std::log1p(-t);
  // A narrow interval around or at 0 (a grid cell holding the kernel's
  // mean): 1 - ta - tb would cancel, so the mass is summed from its halves.
  return std::log(HalfMinusNdtr(a, ta) + HalfMinusNdtr(-b, tb));
}

namespace internal {
double GaussMassNarrowCentral(double a, double b, double ta, double tb) {
  return HalfMinusNdtr(a, ta) + HalfMinusNdtr(-b, tb);
}
}  // namespace internal

double NdtriExp(double y) {
  if (y >= 0) return kInf;
  if (y == -kInf) return -kInf;
  if (y > -0.6931471805599453) return -NdtriLower(-std::expm1(y));  // p > 1/2: use 1 - p
  if (y > -700) return NdtriLower(std::exp(y));
  // Beyond exp's range: start from the tail asymptote, then Newton on LogNdtr.
  double x = -std::sqrt(-2 * y);
  for (int i = 0; i < 3; ++i) x = -std::sqrt(-2 * y - 2 * std::log(-x) - 2 * kHalfLog2Pi);
  for (int i = 0; i < 8; ++i) {
    double f = LogNdtr(x);
    double dlog = std::exp(-0.5 * x * x - kHalfLog2Pi - f);  // phi/Phi
    double step = (f - y) / dlog;
    x -= step;
    if (std::fabs(step) <= 1e-14 * std::fabs(x)) break;
  }
  return x;
}

double TruncNormPpf(double q, double a, double b) {
  if (q <= 0) return a;
  if (q >= 1) return b;
  const double log_mass = LogGaussMass(a, b);
  double x;
  // Work from the tail nearest the interval so that log Phi keeps its digits.
  if (a < 0) {
    x = NdtriExp(LogAddExp(LogNdtr(a), std::log(q) + log_mass));
  } else {
    x = -NdtriExp(LogAddExp(LogNdtr(-b), std::log1p(-q) + log_mass));
  }
  if (x < a) x = a;
  if (x > b) x = b;
  return x;
}

double TruncNormLogPdf(double x, double a, double b) {
  if (x < a || x > b) return -kInf;
  return -0.5 * x * x - kHalfLog2Pi - LogGaussMass(a, b);
}

}  // namespace tpe
}  // namespace peftsearch
