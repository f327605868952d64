#include "tpe/random.h"

namespace peftsearch {
namespace tpe {
namespace {

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Rng::Rng(uint64_t seed, uint64_t trial, uint64_t stream) {
  uint64_t key = Mix64(Mix64(Mix64(seed) ^ trial) ^ (stream * 0x632be59bd9b4e019ULL));
  for (uint64_t& s : s_) {
    key += 0x9e3779b97f4a7c15ULL;
    s = Mix64(key);
  }
}

uint64_t Rng::NextU64() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Rng::Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

double Rng::UniformOpen() {
  return (static_cast<double>(NextU64() >> 11) + 0.5) * 0x1.0p-53;
}

uint64_t Rng::UniformInt(uint64_t n) {
  // Reject the top partial block so every residue is equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = NextU64();
  } while (x >= limit);
  return x % n;
}

}  // namespace tpe
}  // namespace peftsearch
