// bf16 autocast on CUDA for the calling thread (autocast state is
// thread-local), across the LibTorch versions this project builds against:
// Debian's 1.13 (set_enabled / set_autocast_gpu_dtype) and the CUDA LibTorch
// of a PyTorch 2.x install (per-device set_autocast_enabled /
// set_autocast_dtype; the old spellings are deprecated there).
// Only for builds with PEFTSEARCH_WITH_CUDA (trainer.cc, gpu_step_bench.cc).
#ifndef PEFTSEARCH_WORKER_TRAIN_AUTOCAST_SCOPE_H_
#define PEFTSEARCH_WORKER_TRAIN_AUTOCAST_SCOPE_H_

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace peftsearch::train {

class AutocastScope {
 public:
  explicit AutocastScope(bool on) : on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR >= 2 && (TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
  }
  ~AutocastScope() {
    if (!on_) return;
#if TORCH_VERSION_MAJOR >= 2 && (TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  const bool on_;
};

}  // namespace peftsearch::train

#endif  // PEFTSEARCH_WORKER_TRAIN_AUTOCAST_SCOPE_H_
