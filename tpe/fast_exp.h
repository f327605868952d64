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

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_FAST_EXP_H_
