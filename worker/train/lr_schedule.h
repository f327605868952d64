// The MambaPEFT VTAB learning-rate schedule (research/vim_mambapeft.md §6.2):
// mmengine LinearLR(start_factor, convert_to_iter_based) over the warm-up
// epochs, per iteration, with total_iters = warmup iterations - 1; then
// CosineAnnealingLR(eta_min = min_lr, T_max = epochs - warmup), per epoch.
// eta_min is absolute, so groups with different base rates meet at min_lr.
//
// Thread safety: pure function.
#ifndef PEFTSEARCH_WORKER_TRAIN_LR_SCHEDULE_H_
#define PEFTSEARCH_WORKER_TRAIN_LR_SCHEDULE_H_

#include <cstdint>

namespace peftsearch::train {

struct ScheduleOptions {
  int epochs = 100;
  int warmup_epochs = 10;
  double warmup_start_factor = 1e-3;
  double min_lr = 1e-5;
};

// The rate of a group with peak `base_lr` for iteration `iter` (0-based) of
// epoch `epoch` (0-based). REQUIRES: iters_per_epoch >= 1.
double ScheduledLr(double base_lr, int epoch, int64_t iter, int64_t iters_per_epoch,
                   const ScheduleOptions& options);

}  // namespace peftsearch::train

#endif  // PEFTSEARCH_WORKER_TRAIN_LR_SCHEDULE_H_
