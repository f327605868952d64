// Mamba language model (mamba_ssm MambaLMHeadModel) with the official
// state-spaces/mamba-130m key names: backbone.embedding.weight,
// backbone.layers.{i}.mixer.{A_log, D, in_proj.weight, conv1d.{weight,bias},
// x_proj.weight, dt_proj.{weight,bias}, out_proj.weight},
// backbone.layers.{i}.norm.weight, backbone.norm_f.weight. The LM head is
// tied to the embedding, so "lm_head.weight" is not a separate parameter;
// checkpoints that store it load with kMambaLMIgnoredKeys.
// Thread safety: as VisionMamba.
#ifndef PEFTSEARCH_WORKER_MODEL_MAMBA_LM_H_
#define PEFTSEARCH_WORKER_MODEL_MAMBA_LM_H_

#include <torch/torch.h>

#include <set>
#include <string>

#include "worker/model/mamba_layers.h"
#include "worker/model/vim_config.h"

namespace peftsearch {
namespace model {

// "lm_head.weight": the tied copy some checkpoints carry.
extern const std::set<std::string> kMambaLMIgnoredKeys;

class MambaLMImpl : public torch::nn::Module {
 public:
  // REQUIRES: ValidateMambaLMConfig(config).ok().
  explicit MambaLMImpl(const MambaLMConfig& config);

  // input_ids [B, L] int64 in [0, padded_vocab) -> logits [B, L, padded_vocab].
  torch::Tensor forward(const torch::Tensor& input_ids);

  const MambaLMConfig& config() const { return config_; }

  Weights embedding{nullptr};
  torch::nn::ModuleList layers{nullptr};
  Weights norm_f{nullptr};

 private:
  MambaLMConfig config_;
};
TORCH_MODULE(MambaLM);

}  // namespace model
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_MODEL_MAMBA_LM_H_
