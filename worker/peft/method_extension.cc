#include "worker/peft/method_extension.h"

#include <cmath>

namespace peftsearch {
namespace peft {

int64_t MethodExtension::numel() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.second.numel();
  return n;
}

torch::Tensor MethodExtension::Register(const std::string& name, torch::Tensor value, bool decay) {
  for (const auto& p : params_) {
    TORCH_CHECK(p.first != name, "PEFT parameter registered twice: ", name);
  }
  value = value.detach().contiguous();
  value.set_requires_grad(true);
  params_.emplace_back(name, value);
  if (!decay) no_decay_.push_back(name);
  return value;
}

BackboneInfo BackboneInfo::Of(const model::VisionMamba& backbone) {
  BackboneInfo info;
  info.config = backbone->config();
  info.options = backbone->cls_token.options().requires_grad(false);
  for (const auto& item : backbone->named_parameters(/*recurse=*/true)) {
    info.params.emplace(item.key(), item.value());
  }
  return info;
}

const torch::Tensor& BackboneInfo::Get(const std::string& key) const {
  auto it = params.find(key);
  TORCH_CHECK(it != params.end(), "backbone has no parameter ", key);
  return it->second;
}

std::string MixerPrefix(int64_t layer) { return "layers." + std::to_string(layer) + ".mixer."; }

torch::Tensor DefaultUniform(std::vector<int64_t> shape, int64_t fan_in,
                             const torch::TensorOptions& options) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  torch::NoGradGuard no_grad;
  return torch::empty(shape, options).uniform_(-bound, bound);
}

torch::Tensor StandardNormal(std::vector<int64_t> shape, const torch::TensorOptions& options) {
  torch::NoGradGuard no_grad;
  return torch::empty(shape, options).normal_(0.0, 1.0);
}

}  // namespace peft
}  // namespace peftsearch
