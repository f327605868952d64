// Capped exponential backoff with jitter, for retrying RPCs while the
// controller is away. Delay n (0-based) is
//   min(max_delay, initial_delay * multiplier^n) * U(1 - jitter, 1 + jitter)
// capped again at max_delay; the jitter spreads out a fleet of workers that
// all lost the controller at the same moment.
//
// Thread safety: none; one Backoff per retry loop.
#ifndef PEFTSEARCH_WORKER_DAEMON_BACKOFF_H_
#define PEFTSEARCH_WORKER_DAEMON_BACKOFF_H_

#include <chrono>
#include <cstdint>
#include <random>

namespace peftsearch::daemon {

struct BackoffOptions {
  std::chrono::milliseconds initial_delay{200};
  std::chrono::milliseconds max_delay{10000};
  double multiplier = 2.0;
  double jitter = 0.2;  // in [0, 1)
};

class Backoff {
 public:
  Backoff(const BackoffOptions& options, uint64_t seed);

  // Returns the delay before the next retry and advances the attempt count.
  std::chrono::milliseconds Next();
  // After a success: the next failure starts again at initial_delay.
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 rng_;
  int attempt_ = 0;
};

}  // namespace peftsearch::daemon

#endif  // PEFTSEARCH_WORKER_DAEMON_BACKOFF_H_
