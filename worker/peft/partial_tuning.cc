#include "worker/peft/partial_tuning.h"

namespace peftsearch {
namespace peft {

PartialTuningExtension::PartialTuningExtension(const std::string& method,
                                               const BackboneInfo& backbone)
    : MethodExtension(method) {
  // Parameter names as in vim_peft_all.py set_peft (learnable_*); one delta
  // per direction of the bidirectional mixer, as the official code adds them.
  if (method == "cls_token") {
    AddDelta(backbone, "cls_token", "learnable_cls_token");
    return;
  }
  if (method == "pos_embed") {
    AddDelta(backbone, "pos_embed", "learnable_pos_embed");
    return;
  }
  struct Pair {
    const char* fwd_key;
    const char* fwd_name;
    const char* bwd_key;
    const char* bwd_name;
  };
  Pair p;
  if (method == "bias") {
    p = {"dt_proj.bias", "learnable_bias", "dt_proj_b.bias", "learnable_bias_b"};
  } else if (method == "d") {
    p = {"D", "learnable_D", "D_b", "learnable_D_b"};
  } else if (method == "a") {
    p = {"A_log", "learnable_A_log", "A_b_log", "learnable_A_b_log"};
  } else if (method == "conv1d") {
    // The conv bias is not tuned (only learnable_conv1d_weight[_b] exist).
    p = {"conv1d.weight", "learnable_conv1d_weight", "conv1d_b.weight",
         "learnable_conv1d_weight_b"};
  } else {
    TORCH_CHECK(false, "not a partial-tuning method: ", method);
  }
  for (int64_t i = 0; i < backbone.config.depth; ++i) {
    const std::string prefix = MixerPrefix(i);
    AddDelta(backbone, prefix + p.fwd_key, prefix + p.fwd_name);
    AddDelta(backbone, prefix + p.bwd_key, prefix + p.bwd_name);
  }
}

void PartialTuningExtension::AddDelta(const BackboneInfo& backbone, const std::string& key,
                                      const std::string& name) {
  const torch::Tensor& base = backbone.Get(key);
  delta_by_key_[key] = Register(name, torch::zeros(base.sizes(), backbone.options));
}

torch::Tensor PartialTuningExtension::Param(const std::string& name, const torch::Tensor& base) {
  auto it = delta_by_key_.find(name);
  if (it == delta_by_key_.end()) return base;
  // The delta is defined on the pre-trained shape; a method that enlarges
  // the tensor (additional_scan) must run after this one (peft.cc orders it).
  TORCH_CHECK(base.sizes() == it->second.sizes(), method(), ": ", name, " has shape ",
              base.sizes(), ", the delta ", it->second.sizes());
  return base + it->second;
}

}  // namespace peft
}  // namespace peftsearch
