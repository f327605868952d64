// The low-rank family (research note §4-5.2): LoRA on embed, x_proj, dt_proj,
// out_proj, in_proj; partial LoRA LoRA_p(d), (B), (C) on row blocks of
// x_proj and (X), (Z) on the halves of in_proj's output; and ParallelAdapter.
// All use the official Adapter(in, out, r): down = Linear(in, r) with
// PyTorch's default init, up = Linear(r, out) initialised at ZERO, scale s
// (no alpha/r). So every one of them is the identity at initialisation.
//   activation form (dropout 0.1, as the official Adapter.forward):
//     in_proj, X, Z, out_proj:  s * up(dropout(down(x)))
//     ParallelAdapter:          s * up(dropout(relu(down(y))))  beside out_proj
//     embed (Conv2dAdapter):    s * up1x1(dropout(conv_patch(images)))
//   weight-merge form (no dropout: forward_mamba_peft adds s * up @ down to
//   the frozen weight), one adapter per scan direction (x_proj and x_proj_b):
//     x_proj, dt_proj, and d / B / C (zero-padded to the x_proj row block)
// Thread safety: see method_extension.h.
#ifndef PEFTSEARCH_WORKER_PEFT_LOW_RANK_H_
#define PEFTSEARCH_WORKER_PEFT_LOW_RANK_H_

#include <map>
#include <string>
#include <vector>

#include "worker/peft/method_extension.h"

namespace peftsearch {
namespace peft {

class LowRankExtension : public MethodExtension {
 public:
  // method: parallel_adapter | lora_embed | lora_x_proj | lora_dt_proj |
  // lora_out_proj | lora_in_proj | lora_p_d | lora_p_b | lora_p_c | lora_p_x |
  // lora_p_z. REQUIRES: rank >= 1.
  LowRankExtension(const std::string& method, int64_t rank, double scale,
                   const BackboneInfo& backbone);

  torch::Tensor Param(const std::string& name, const torch::Tensor& base) override;
  torch::Tensor PatchEmbedDelta(const torch::Tensor& images) override;
  torch::Tensor InProjDelta(int64_t layer, const torch::Tensor& h) override;
  torch::Tensor OutProjDelta(int64_t layer, const torch::Tensor& y) override;

  static constexpr double kDropout = 0.1;  // official Adapter / Conv2dAdapter

 private:
  struct Adapter {
    torch::Tensor down;  // [r, in] (conv: [r, C, p, p])
    torch::Tensor up;    // [out, r] (conv: [D, r, 1, 1]), zero-initialised
  };
  // A weight-merge target: rows [row_begin, row_begin + up.size(0)) of the
  // official tensor `key` get s * up @ down.
  struct Merge {
    Adapter adapter;
    int64_t row_begin = 0;
    int64_t rows_total = 0;
  };
  Adapter MakeAdapter(const std::string& name, int64_t in, int64_t out);
  torch::Tensor Activation(const Adapter& a, const torch::Tensor& x, bool relu);

  int64_t rank_;
  double scale_;
  int64_t d_inner_ = 0;
  int64_t stride_ = 0;
  torch::TensorOptions options_;
  std::vector<Adapter> per_layer_;      // in_proj / X / Z / out_proj / adaptf
  std::map<std::string, Merge> merges_;  // official key -> merge
  Adapter embed_;
};

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_LOW_RANK_H_
