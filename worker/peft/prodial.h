// ProDiaL (Ham et al., CVPR 2025, arXiv 2411.15224): projector-targeted
// diagonal-centric linear transformation on in_proj and out_proj,
//   W' = diag(s) · W · D_b + ε,
// where D_b (d_in × d_in) is block-diagonal with `blocks` blocks of size
// d_in / blocks, s scales the output rows and ε = scaling · B A is a plain
// LoRA branch (alpha / r, A Kaiming-uniform, B zero, dropout 0.1 as the
// released scripts). One transform per projector per layer: Vim's two scan
// directions share in_proj and out_proj.
//
// D_b from the zero-initialised block tensor M (research/peft_beyond.md §1.1):
//   faithful        D_b = M ∘ (1 − I) + I − relu(diag(M))   (the released code;
//                   relu'(0) = 0, so the diagonal never trains, §1.2)
//   diag_learnable  D_b = I + M                              (OUR deviation: the
//                   paper's "diagonal-centric" reading with a free diagonal)
// Both are the identity at initialisation (M = 0, s = 1, B = 0): W' = W.
// Thread safety: see method_extension.h.
#ifndef PEFTSEARCH_WORKER_PEFT_PRODIAL_H_
#define PEFTSEARCH_WORKER_PEFT_PRODIAL_H_

#include <string>
#include <vector>

#include "worker/peft/method_extension.h"

namespace peftsearch {
namespace peft {

struct ProDiaLOptions {
  int64_t blocks_in = 16;   // r_b1: blocks of D_b on in_proj (d_in = D)
  int64_t blocks_out = 16;  // r_b2: blocks of D_b on out_proj (d_in = E)
  int64_t rank = 8;         // ε rank
  double alpha = 8;         // ε scaling = alpha / rank (peft 0.12 default alpha)
  bool diag_learnable = false;
};

class ProDiaLExtension : public MethodExtension {
 public:
  // Throws c10::Error "prodial.blocks_in: ..." when embed_dim (or d_inner for
  // blocks_out) is not divisible by the block count.
  ProDiaLExtension(const ProDiaLOptions& options, const BackboneInfo& backbone);

  torch::Tensor Param(const std::string& name, const torch::Tensor& base) override;
  torch::Tensor InProjDelta(int64_t layer, const torch::Tensor& h) override;
  torch::Tensor OutProjDelta(int64_t layer, const torch::Tensor& y) override;

  // D_b's blocks [blocks, b, b] from the block tensor M (exposed for tests).
  static torch::Tensor Blocks(const torch::Tensor& m, bool diag_learnable);

  static constexpr double kDropout = 0.1;  // lora_dropout of the released scripts

 private:
  struct Projector {
    torch::Tensor blocks;  // M: [r_b, b, b], zero
    torch::Tensor s;       // [d_out], one
    torch::Tensor lora_a;  // [r, d_in]
    torch::Tensor lora_b;  // [d_out, r], zero
  };
  Projector Make(const std::string& prefix, int64_t d_in, int64_t d_out, int64_t blocks);
  torch::Tensor Transform(const Projector& p, const torch::Tensor& w) const;
  torch::Tensor Epsilon(const Projector& p, const torch::Tensor& x);

  ProDiaLOptions options_;
  double scaling_;
  torch::TensorOptions tensor_options_;
  std::vector<Projector> in_, out_;
  std::vector<std::string> in_keys_, out_keys_;
};

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_PRODIAL_H_
