#include "worker/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace peftsearch::train {

double ScheduledLr(double base_lr, int epoch, int64_t iter, int64_t iters_per_epoch,
                   const ScheduleOptions& o) {
  if (epoch < o.warmup_epochs) {
    // mmengine LinearLR: factor goes from start_factor to 1 over total_iters
    // steps, total_iters = end - begin - 1, and stays 1 afterwards.
    const int64_t step = static_cast<int64_t>(epoch) * iters_per_epoch + iter;
    const int64_t total = static_cast<int64_t>(o.warmup_epochs) * iters_per_epoch - 1;
    const double t = total <= 0 ? 1.0 : std::min(1.0, static_cast<double>(step) / total);
    return base_lr * (o.warmup_start_factor + (1.0 - o.warmup_start_factor) * t);
  }
  const int t_max = o.epochs - o.warmup_epochs;
  if (t_max <= 0) return base_lr;
  const double progress = static_cast<double>(epoch - o.warmup_epochs) / t_max;
  return o.min_lr + (base_lr - o.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace peftsearch::train
