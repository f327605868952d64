#include "worker/daemon/backoff.h"

#include "gtest/gtest.h"

namespace peftsearch::daemon {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, GrowsExponentiallyWithinJitterAndCaps) {
  BackoffOptions o;
  o.initial_delay = milliseconds(100);
  o.max_delay = milliseconds(1000);
  o.multiplier = 2;
  o.jitter = 0.2;
  Backoff b(o, /*seed=*/42);
  const double expected[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (double e : expected) {
    int64_t d = b.Next().count();
    EXPECT_GE(d, static_cast<int64_t>(e * 0.8) - 1);
    EXPECT_LE(d, static_cast<int64_t>(std::min(e * 1.2, 1000.0)));
  }
  EXPECT_EQ(b.attempt(), 7);
  for (int i = 0; i < 200; ++i) EXPECT_LE(b.Next().count(), 1000);
  b.Reset();
  EXPECT_LE(b.Next().count(), 120);
}

TEST(BackoffTest, JitterSpreadsWorkersAndIsSeeded) {
  BackoffOptions o;
  Backoff a(o, 1), b(o, 2), a2(o, 1);
  bool any_differ = false;
  for (int i = 0; i < 5; ++i) {
    milliseconds x = a.Next(), y = b.Next(), z = a2.Next();
    EXPECT_EQ(x, z);
    any_differ |= x != y;
  }
  EXPECT_TRUE(any_differ);
}

TEST(BackoffTest, NoJitterIsExact) {
  BackoffOptions o;
  o.initial_delay = milliseconds(10);
  o.max_delay = milliseconds(50);
  o.jitter = 0;
  Backoff b(o, 7);
  EXPECT_EQ(b.Next(), milliseconds(10));
  EXPECT_EQ(b.Next(), milliseconds(20));
  EXPECT_EQ(b.Next(), milliseconds(40));
  EXPECT_EQ(b.Next(), milliseconds(50));
}

}  // namespace
}  // namespace peftsearch::daemon
