#include "worker/daemon/backoff.h"

#include <algorithm>
#include <cmath>

namespace peftsearch::daemon {

Backoff::Backoff(const BackoffOptions& options, uint64_t seed) : options_(options), rng_(seed) {}

std::chrono::milliseconds Backoff::Next() {
  const double cap = static_cast<double>(options_.max_delay.count());
  // Clamping the exponent keeps pow() finite after many failures.
  double base = static_cast<double>(options_.initial_delay.count()) *
                std::pow(options_.multiplier, std::min(attempt_, 60));
  base = std::min(base, cap);
  std::uniform_real_distribution<double> u(1.0 - options_.jitter, 1.0 + options_.jitter);
  double delay = std::min(base * u(rng_), cap);
  ++attempt_;
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(delay, 0.0)));
}

}  // namespace peftsearch::daemon
