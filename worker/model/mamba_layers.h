// Building blocks shared by Vim and the Mamba LM, with the parameter names of
// mamba_ssm (hustvl/Vim@dd0358a mamba-1p1p1/mamba_ssm/modules/mamba_simple.py):
//   MambaMixer: in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj and, for
//   bimamba "v2", conv1d_b, x_proj_b, dt_proj_b, A_b_log, D_b.
//   MambaBlock: "Add -> Norm -> Mixer" with `mixer` and `norm` (RMSNorm).
// Thread safety: forward reads parameters only; concurrent forwards on one
// module are safe (drop path draws from the global generator, which locks).
#ifndef PEFTSEARCH_WORKER_MODEL_MAMBA_LAYERS_H_
#define PEFTSEARCH_WORKER_MODEL_MAMBA_LAYERS_H_

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "worker/model/vim_extension.h"

namespace peftsearch {
namespace model {

// y = x * rsqrt(mean(x^2, -1) + eps) * weight (no bias), in fp32
// (mamba_ssm rms_norm_ref; MambaPEFT CustomRMSNorm).
torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// timm DropPath: per-sample Bernoulli(1 - p) mask scaled by 1 / (1 - p), in
// training only.
torch::Tensor DropPath(const torch::Tensor& x, double p, bool training);

// A module holding `weight` (and optionally `bias`) under those names, so that
// "in_proj.weight" etc. come out of named_parameters() as in PyTorch.
class WeightsImpl : public torch::nn::Module {
 public:
  WeightsImpl(std::vector<int64_t> weight_shape, std::vector<int64_t> bias_shape);
  torch::Tensor weight;
  torch::Tensor bias;  // undefined when bias_shape is empty
};
TORCH_MODULE(Weights);

struct MixerOptions {
  int64_t d_model = 0;
  int64_t d_state = 16;
  int64_t d_conv = 4;
  int64_t expand = 2;
  int64_t dt_rank = 0;
  bool bidirectional = true;  // bimamba_type "v2"; false: plain Mamba (LM)
  bool divide_out = true;     // if_divide_out: (fwd + flip(bwd)) / 2
  int64_t layer = 0;          // index passed to extension hooks
  std::string key_prefix;     // official key prefix, e.g. "layers.3.mixer."
};

class MambaMixerImpl : public torch::nn::Module {
 public:
  explicit MambaMixerImpl(const MixerOptions& options);

  // h: [B, L, d_model] -> [B, L, d_model]. `extension` may be null.
  torch::Tensor forward(const torch::Tensor& h, VimExtension* extension = nullptr);

  const MixerOptions& options() const { return options_; }

  torch::Tensor A_log, D, A_b_log, D_b;
  Weights in_proj{nullptr}, conv1d{nullptr}, x_proj{nullptr}, dt_proj{nullptr};
  Weights conv1d_b{nullptr}, x_proj_b{nullptr}, dt_proj_b{nullptr}, out_proj{nullptr};

 private:
  // Official keys of one direction's tensors, resolved through the extension.
  struct BranchNames {
    std::string conv_w, conv_b, x_proj_w, dt_proj_w, dt_proj_b, A_log, D;
  };
  torch::Tensor RunBranch(const torch::Tensor& xz, bool backward, VimExtension* extension);

  MixerOptions options_;
  BranchNames fwd_names_, bwd_names_;
  std::string in_proj_name_, out_proj_name_;
};
TORCH_MODULE(MambaMixer);

class MambaBlockImpl : public torch::nn::Module {
 public:
  // key_prefix: e.g. "layers.3." (the mixer gets "layers.3.mixer.").
  MambaBlockImpl(MixerOptions mixer_options, double norm_eps, double drop_path,
                 const std::string& key_prefix);

  // Returns (hidden, residual). `residual` undefined for the first block, as
  // in Vim's Block: residual = hidden there, else residual + drop_path(hidden).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& hidden,
                                                  const torch::Tensor& residual,
                                                  VimExtension* extension = nullptr);

  MambaMixer mixer{nullptr};
  Weights norm{nullptr};

 private:
  double norm_eps_;
  double drop_path_;
  std::string norm_name_;
};
TORCH_MODULE(MambaBlock);

}  // namespace model
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_MODEL_MAMBA_LAYERS_H_
