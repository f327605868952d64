// A small, portable PRNG for tpe/. The standard library's distributions are
// implementation-defined, so "same seed and history -> same suggestion on any
// machine" needs our own generator and our own uniform/integer draws.
// xoshiro256** seeded through SplitMix64 (Blackman & Vigna, 2018).
// Thread safety: an Rng is not shared; each Suggest builds its own.
#ifndef PEFTSEARCH_TPE_RANDOM_H_
#define PEFTSEARCH_TPE_RANDOM_H_

#include <cstdint>

namespace peftsearch {
namespace tpe {

class Rng {
 public:
  // Streams for (seed, trial number, purpose) are independent: the key is
  // hashed, so neighbouring seeds or trials do not give correlated streams.
  Rng(uint64_t seed, uint64_t trial, uint64_t stream = 0);

  uint64_t NextU64();
  // Uniform in [0, 1), 53 random bits.
  double Uniform();
  // Uniform in (0, 1): for inverse-CDF sampling, where 0 would map to -inf.
  double UniformOpen();
  // Uniform integer in [0, n), unbiased (rejection). REQUIRES: n > 0.
  uint64_t UniformInt(uint64_t n);

 private:
  uint64_t s_[4];
};

// SplitMix64 finaliser; also used to derive per-trial seeds.
uint64_t Mix64(uint64_t x);

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_RANDOM_H_
