// Memba (Lee et al., arXiv 2506.18184): a Leaky Integrate Membrane (LIM) on
// the gate branch plus LoRA on in_proj and out_proj. The authors' code could
// not be obtained (research/peft_beyond.md §3); every choice below that the
// paper notes leave open is OURS and listed in docs/PEFT.md.
//
// Per layer, with z = the Z half of in_proj's output (frozen weight as the
// forward uses it, plus this method's in_proj LoRA), [B, L, E]:
//   c = floor(L / T) tokens per chunk; chunk i = tokens [i·c, (i+1)·c)
//   u_0 = ū of the previous layer (cross-layer transfer) or 0
//   v_i = τ·u_{i-1} + z_i ;  u_i = v_i where v_i <= V_th, else 0 (hard reset)
//   the gate input of chunk i becomes u_i ; ū = mean_i u_i goes to the next layer
// so token j of chunk i integrates token j of chunks < i ([B, c, E] state).
// Choices: u replaces z before the mixer's SiLU (both scan directions are
// gated by SiLU(u_t), §3.3); the L − T·c remainder tokens keep z unchanged;
// gradients flow through the kept entries and through ū (no detach); the
// reset adds no parameters (τ, V_th, T are hyperparameters).
// In a combination, other methods' additions to the Z half (LoRA(in_proj),
// LoRA_p(Z), ProDiaL's ε) are added after the LIM and bypass it.
// Not the identity at initialisation (the LIM changes the gate); it is with
// T = 1, no transfer and V_th above every |z|.
// Thread safety: see method_extension.h; the membrane is per forward.
#ifndef PEFTSEARCH_WORKER_PEFT_MEMBA_H_
#define PEFTSEARCH_WORKER_PEFT_MEMBA_H_

#include <string>
#include <utility>
#include <vector>

#include "worker/peft/method_extension.h"

namespace peftsearch {
namespace peft {

struct MembaOptions {
  int64_t rank = 8;         // LoRA rank on in_proj and on out_proj
  double scale = 0.1;       // MambaPEFT Adapter scale s
  double tau = 0.5;         // leak τ ∈ (0, 1] (ours)
  double v_th = 1.0;        // reset threshold (ours)
  int64_t chunks = 4;       // T (ours)
  bool transfer = true;     // cross-layer membrane transfer (paper: on)
};

class MembaExtension : public MethodExtension {
 public:
  MembaExtension(const MembaOptions& options, const BackboneInfo& backbone);

  void BeginForward(const torch::Tensor& images, bool training) override;
  void EndForward() override;
  torch::Tensor Param(const std::string& name, const torch::Tensor& base) override;
  torch::Tensor InProjDelta(int64_t layer, const torch::Tensor& h) override;
  torch::Tensor OutProjDelta(int64_t layer, const torch::Tensor& y) override;

  // The LIM on z [B, L, E] from membrane u0 ([B, c, E] or undefined = 0):
  // returns (gate input [B, L, E], mean membrane ū [B, c, E]). Pure; exposed
  // for tests. If L < T the chunk size is 1 over min(L, T) chunks.
  static std::pair<torch::Tensor, torch::Tensor> LeakyIntegrate(const torch::Tensor& z,
                                                                const torch::Tensor& u0,
                                                                double tau, double v_th,
                                                                int64_t chunks);

  static constexpr double kDropout = 0.1;  // MambaPEFT Adapter dropout

 private:
  torch::Tensor Lora(const std::pair<torch::Tensor, torch::Tensor>& a, const torch::Tensor& x);

  MembaOptions options_;
  int64_t d_inner_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> in_, out_;  // (down, up)
  std::vector<std::string> in_keys_;
  std::vector<torch::Tensor> in_weight_;  // in_proj weight this forward uses, per layer
  torch::Tensor membrane_;                // ū of the last layer run in this forward
};

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_MEMBA_H_
