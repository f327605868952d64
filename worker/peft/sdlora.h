// SDLoRA / SDT (Galim et al., ICML 2025, arXiv 2410.09016; furiosa-ai/ssm-peft
// sd_lora.py): sparse dimension tuning of the SSM plus LoRA on out_proj, with
// the two-run channel selection done inside one trial.
//
// Per layer and scan direction (A_log with x_proj, A_b_log with x_proj_b;
// research/peft_beyond.md §2.4 runs the selection per direction):
//   warm-up    the first `warmup_steps` training forwards use A_log + ΔA with a
//              dense ΔA [E, N] that this extension trains itself (Adam at the
//              method's lr, its own step at the start of the next training
//              forward: the trainer's optimizer never sees ΔA, so ΔA is not a
//              trainable parameter of the trial). LoRA on out_proj trains with
//              the trial's optimizer.
//   selection  at the next training forward: channels ranked by Σ_n ΔA[d,n]²,
//              the top n_c = max(1, round(channel_fraction·E)) are trainable;
//              within each, the top n_s = max(1, round(state_fraction·N))
//              states by ΔA[d,n]². ΔA is dropped and the out_proj LoRA is
//              re-initialised (the released code reloads the model and starts a
//              fresh LoRA; here the head, the optimizer state and the schedule
//              carry on: the two runs are two phases of one trial).
//   training   A_log' = A_log + scatter(δ_A)       δ_A: n_c·n_s values
//              W_B'   = W_B + scatter(δ_B)         δ_B: N·n_c (the B rows of x_proj,
//              W_C'   = W_C + scatter(δ_C)         δ_C: N·n_c  selected columns)
//              all zero at selection, so the switch keeps the backbone's SSM.
// Frozen: in_proj, conv1d, dt_proj, x_proj's dt rows, D, norms.
// Before selection δ_A/δ_B/δ_C get no gradient and do not move.
// Identity at initialisation: ΔA = 0, LoRA up = 0.
// Limitation: the selected indices are not saved with SaveTrainable.
// Thread safety: see method_extension.h.
#ifndef PEFTSEARCH_WORKER_PEFT_SDLORA_H_
#define PEFTSEARCH_WORKER_PEFT_SDLORA_H_

#include <map>
#include <string>
#include <vector>

#include "worker/peft/method_extension.h"

namespace peftsearch {
namespace peft {

struct SdLoraOptions {
  int64_t rank = 8;               // out_proj LoRA rank (released configs: 8)
  double scale = 1.0;             // lora_alpha = r in the released code: scaling 1
  double channel_fraction = 0.01; // 1 - β; released: β = 0.99
  double state_fraction = 0.1;    // 1 - α; released: α ∈ {0.75, 0.9, 0.95}
  int64_t warmup_steps = 10;      // released: 250 iterations (ours: mini budgets)
  double lr = 1e-3;               // ΔA's Adam lr during warm-up
};

class SdLoraExtension : public MethodExtension {
 public:
  SdLoraExtension(const SdLoraOptions& options, const BackboneInfo& backbone);

  void BeginForward(const torch::Tensor& images, bool training) override;
  torch::Tensor Param(const std::string& name, const torch::Tensor& base) override;
  torch::Tensor OutProjDelta(int64_t layer, const torch::Tensor& y) override;

  bool selected() const { return selected_; }
  int64_t channels() const { return n_c_; }
  int64_t states() const { return n_s_; }
  // The selected channels of A_log key `a_log_key` (empty before selection).
  std::vector<int64_t> SelectedChannels(const std::string& a_log_key) const;

  static constexpr double kDropout = 0.1;  // sd_lora.py LoRA dropout

 private:
  struct Direction {
    std::string a_log_key, x_proj_key;
    torch::Tensor warm;       // ΔA [E, N], private, requires grad during warm-up
    torch::Tensor adam_m, adam_v;
    torch::Tensor delta_a, delta_bc;  // registered: [n_c·n_s], [2·N·n_c]
    torch::Tensor a_index, bc_index;  // flat positions in A_log / x_proj.weight
    std::vector<int64_t> channels;
  };
  void WarmupAdamStep(Direction* d);
  void Select(Direction* d);
  void ResetLora();

  SdLoraOptions options_;
  int64_t E_, N_, R_;
  int64_t n_c_, n_s_;
  int64_t steps_ = 0;  // training forwards seen
  bool selected_ = false;
  torch::TensorOptions tensor_options_;
  std::vector<Direction> directions_;
  std::map<std::string, size_t> by_key_;  // A_log or x_proj key -> direction
  std::vector<std::pair<torch::Tensor, torch::Tensor>> lora_;  // per layer (down, up)
};

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_SDLORA_H_
