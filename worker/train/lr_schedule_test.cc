#include "worker/train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace peftsearch::train {
namespace {

// MambaPEFT VTAB: 32 iterations per epoch (1000 images, batch 32), 10 warm-up
// epochs from 1e-3 x lr, cosine to 1e-5 over the remaining 90 (§6.2).
const ScheduleOptions kPaper{100, 10, 1e-3, 1e-5};

TEST(ScheduledLrTest, WarmupIsLinearPerIterationFromStartFactor) {
  EXPECT_DOUBLE_EQ(ScheduledLr(1e-3, 0, 0, 32, kPaper), 1e-6);
  // total_iters = 320 - 1: the ramp reaches the peak at the last warm-up iteration.
  EXPECT_DOUBLE_EQ(ScheduledLr(1e-3, 9, 31, 32, kPaper), 1e-3);
  const double mid = 1e-3 * (1e-3 + (1 - 1e-3) * 160.0 / 319.0);
  EXPECT_DOUBLE_EQ(ScheduledLr(1e-3, 5, 0, 32, kPaper), mid);
}

TEST(ScheduledLrTest, CosinePerEpochToAbsoluteMinimum) {
  EXPECT_DOUBLE_EQ(ScheduledLr(1e-3, 10, 0, 32, kPaper), 1e-3);
  EXPECT_DOUBLE_EQ(ScheduledLr(1e-3, 10, 31, 32, kPaper), 1e-3);  // constant within an epoch
  EXPECT_NEAR(ScheduledLr(1e-3, 55, 7, 32, kPaper), 1e-5 + (1e-3 - 1e-5) * 0.5, 1e-15);
  const double last = 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + std::cos(M_PI * 89.0 / 90.0));
  EXPECT_DOUBLE_EQ(ScheduledLr(1e-3, 99, 0, 32, kPaper), last);
  // eta_min is absolute: a group with another peak meets the same floor.
  EXPECT_NEAR(ScheduledLr(5e-3, 55, 0, 32, kPaper), 1e-5 + (5e-3 - 1e-5) * 0.5, 1e-15);
}

TEST(ScheduledLrTest, NoWarmupAndAllWarmup) {
  const ScheduleOptions none{2, 0, 1e-3, 1e-5};
  EXPECT_DOUBLE_EQ(ScheduledLr(1e-3, 0, 3, 4, none), 1e-3);
  EXPECT_DOUBLE_EQ(ScheduledLr(1e-3, 1, 0, 4, none), 1e-5 + (1e-3 - 1e-5) * 0.5);
  const ScheduleOptions all{2, 2, 0.5, 0};
  EXPECT_DOUBLE_EQ(ScheduledLr(1.0, 0, 0, 1, all), 0.5);
  EXPECT_DOUBLE_EQ(ScheduledLr(1.0, 1, 0, 1, all), 1.0);
  const ScheduleOptions one_iter{3, 1, 0.1, 0};  // total_iters 0: straight to the peak
  EXPECT_DOUBLE_EQ(ScheduledLr(1.0, 0, 0, 1, one_iter), 1.0);
}

}  // namespace
}  // namespace peftsearch::train
