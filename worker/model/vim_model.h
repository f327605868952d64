// VisionMamba (Vim) in LibTorch, parameter names as in hustvl/Vim's
// VisionMamba.state_dict() (research note §2.2): cls_token, pos_embed,
// patch_embed.proj.{weight,bias}, head.{weight,bias}, layers.{i}.mixer.*,
// layers.{i}.norm.weight, norm_f.weight.
// Forward order (models_mamba.py forward_features): patch embed -> middle
// CLS token -> + pos_embed -> blocks (Add -> RMSNorm -> bidirectional v2
// mixer, residual in fp32, drop path) -> final add + norm_f -> CLS feature ->
// head. Extension hooks: vim_extension.h.
// Thread safety: Forward reads parameters only; concurrent calls with
// different extensions are safe.
#ifndef PEFTSEARCH_WORKER_MODEL_VIM_MODEL_H_
#define PEFTSEARCH_WORKER_MODEL_VIM_MODEL_H_

#include <torch/torch.h>

#include <string>

#include "worker/model/mamba_layers.h"
#include "worker/model/vim_config.h"
#include "worker/model/vim_extension.h"

namespace peftsearch {
namespace model {

class VisionMambaImpl : public torch::nn::Module {
 public:
  // REQUIRES: ValidateVimConfig(config).ok(). Parameters are uninitialised;
  // load a checkpoint (state_dict.h) or call InitVimWeights (vim_init.h).
  explicit VisionMambaImpl(const VimConfig& config);

  // images [B, in_chans, img_size, img_size] float32 -> CLS features [B, D].
  torch::Tensor ForwardFeatures(const torch::Tensor& images, VimExtension* extension = nullptr);
  // -> logits [B, num_classes] through `head`. REQUIRES: num_classes > 0.
  torch::Tensor forward(const torch::Tensor& images, VimExtension* extension = nullptr);

  const VimConfig& config() const { return config_; }

  torch::Tensor cls_token, pos_embed;
  Weights patch_embed_proj{nullptr};  // "patch_embed.proj"
  Weights head{nullptr};
  torch::nn::ModuleList layers{nullptr};
  Weights norm_f{nullptr};

 private:
  VimConfig config_;
};
TORCH_MODULE(VisionMamba);

}  // namespace model
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_MODEL_VIM_MODEL_H_
