// Additional-scan (MambaPEFT §3.2, research note §5.5): n extra SSM state
// dimensions per layer and direction. New tensors per layer: A_log_scan_addi
// and A_b_log_scan_addi [d, n] (never weight-decayed: `_no_weight_decay` in
// the official code) and x_proj_scan_addi / x_proj_b_scan_addi [2n, d] (the
// new B rows, then the new C rows).
// Init as released ("copyfirst"): the new A columns copy the pre-trained A's
// first column (position "prefix") or last column ("suffix"); without copy_a
// they continue the S4D-real init, log(N+1 .. N+n). The new x_proj rows take
// nn.Linear's default (non-zero; zero_init_x_proj=False in the released
// configs), so the output changes at initialisation; with those rows zeroed
// the new states never receive input and the model equals the backbone.
// Layout (forward_mamba_peft): prefix: A' = [A_addi | A], x_proj rows
// [dt; B_addi; B; C_addi; C]; suffix: A' = [A | A_addi], [dt; B; B_addi; C; C_addi].
// Thread safety: see method_extension.h.
#ifndef PEFTSEARCH_WORKER_PEFT_ADDITIONAL_SCAN_H_
#define PEFTSEARCH_WORKER_PEFT_ADDITIONAL_SCAN_H_

#include <map>
#include <string>

#include "worker/peft/method_extension.h"

namespace peftsearch {
namespace peft {

class AdditionalScanExtension : public MethodExtension {
 public:
  // position: prefix | suffix.
  AdditionalScanExtension(int64_t n, const std::string& position, bool copy_a,
                          const BackboneInfo& backbone);
  // Must run after every method that changes A_log or x_proj on the
  // pre-trained shape (partial A-tuning, LoRA on x_proj rows): peft.cc
  // places it last in the composite, as forward_mamba_peft concatenates last.
  torch::Tensor Param(const std::string& name, const torch::Tensor& base) override;

 private:
  int64_t n_;
  bool prefix_;
  int64_t dt_rank_, d_state_;
  std::map<std::string, torch::Tensor> a_by_key_;       // "...A_log" -> A_log_scan_addi
  std::map<std::string, torch::Tensor> x_proj_by_key_;  // "...x_proj.weight" -> rows
};

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_ADDITIONAL_SCAN_H_
