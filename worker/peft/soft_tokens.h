// Soft-token methods (research note §5.3-5.4): Prompt-tuning and Affix-tuning,
// both built on the official PrefixEncoder (after HF peft's prefix tuning):
//   with projection:    Embedding(n, T) -> Linear(T, H) -> Tanh -> Linear(H, layers*per_layer*T)
//   without projection: Embedding(n, layers*per_layer*T)
// nn.Embedding draws N(0, 1) and the Linears PyTorch's default, so neither
// method is the identity at initialisation: the tokens change the scan.
//
// Prompt-tuning: n tokens of width D (H = D, one "layer") inserted after the
// CLS token and the position embedding, before block 0 (so prompts get no
// position embedding); prefix / suffix / prefix_suffix (ceil(n/2) in front),
// the CLS index moving with the tokens in front.
// Affix-tuning ("prefix_tuning" with prefix_type "inner_dual_prefix" in the
// released code): n tokens of width 2d (x and z) per layer and per scan
// direction, placed first in each direction's scan after in_proj; the outputs
// at affix positions are dropped after the scan. H = 2d.
// Thread safety: see method_extension.h.
#ifndef PEFTSEARCH_WORKER_PEFT_SOFT_TOKENS_H_
#define PEFTSEARCH_WORKER_PEFT_SOFT_TOKENS_H_

#include <string>

#include "worker/peft/method_extension.h"

namespace peftsearch {
namespace peft {

// PrefixEncoder's tensors, registered on `owner` under `prefix`.
class PrefixEncoder {
 public:
  PrefixEncoder() = default;
  // out_width = layers * per_layer * token_dim.
  void Init(MethodExtension* owner, const std::string& prefix, bool projection, int64_t tokens,
            int64_t token_dim, int64_t hidden, int64_t out_width,
            const torch::TensorOptions& options);
  // [tokens, out_width], batch independent.
  torch::Tensor Forward() const;

 private:
  bool projection_ = false;
  torch::Tensor embedding_, w0_, b0_, w2_, b2_;
};

class PromptExtension : public MethodExtension {
 public:
  // position: prefix | suffix | prefix_suffix.
  PromptExtension(int64_t tokens, bool projection, const std::string& position,
                  const BackboneInfo& backbone);
  void OnTokens(torch::Tensor* tokens, int64_t* cls_index) override;
  // The prompt tokens [n, D] the next forward inserts (tests).
  torch::Tensor Prompts() const { return encoder_.Forward(); }

 private:
  int64_t tokens_;
  std::string position_;
  PrefixEncoder encoder_;
};

class AffixExtension : public MethodExtension {
 public:
  AffixExtension(int64_t tokens, bool projection, const BackboneInfo& backbone);
  void BeginForward(const torch::Tensor& images, bool training) override;
  void EndForward() override;
  model::XzAffix Affix(int64_t layer, const torch::Tensor& xz) override;
  // The encoder output [n, depth * 2 * 2d] (tests).
  torch::Tensor Encoded() const { return encoder_.Forward(); }

 private:
  int64_t tokens_;
  int64_t width_;  // 2d
  PrefixEncoder encoder_;
  torch::Tensor cache_;  // this forward's encoder output
};

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_SOFT_TOKENS_H_
