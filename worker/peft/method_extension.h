// MethodExtension: the base of every PEFT method's VimExtension. It owns the
// method's trainable tensors under stable names (MambaPEFT's parameter names,
// without the "backbone.module." prefix) and remembers the train/eval mode
// of the current forward for dropout. Also the official initialisers, so that
// each method file draws its tensors exactly as PyTorch's defaults do.
// Thread safety: one forward at a time per extension (vim_extension.h).
#ifndef PEFTSEARCH_WORKER_PEFT_METHOD_EXTENSION_H_
#define PEFTSEARCH_WORKER_PEFT_METHOD_EXTENSION_H_

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "worker/model/vim_config.h"
#include "worker/model/vim_extension.h"
#include "worker/model/vim_model.h"

namespace peftsearch {
namespace peft {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

class MethodExtension : public model::VimExtension {
 public:
  explicit MethodExtension(std::string method) : method_(std::move(method)) {}

  const std::string& method() const { return method_; }
  // Every trainable tensor, in creation order.
  const NamedTensors& named_parameters() const { return params_; }
  // The subset never weight-decayed (official `_no_weight_decay`).
  const std::vector<std::string>& no_decay() const { return no_decay_; }
  int64_t numel() const;

  // Subclasses that override this must call MethodExtension::BeginForward.
  void BeginForward(const torch::Tensor& images, bool training) override {
    training_ = training;
  }

  // Registers `value` (made a leaf that requires grad) under `name`; public
  // for helpers that build part of a method (PrefixEncoder).
  torch::Tensor Register(const std::string& name, torch::Tensor value, bool decay = true);

 protected:
  bool training() const { return training_; }

 private:
  std::string method_;
  NamedTensors params_;
  std::vector<std::string> no_decay_;
  bool training_ = false;
};

// Facts about the backbone every method needs, read once.
struct BackboneInfo {
  model::VimConfig config;
  torch::TensorOptions options;  // dtype and device of the backbone's parameters
  // Official key -> tensor (read-only; additional_scan copies A columns).
  std::map<std::string, torch::Tensor> params;

  static BackboneInfo Of(const model::VisionMamba& backbone);
  const torch::Tensor& Get(const std::string& key) const;
};

// "layers.<i>.mixer."
std::string MixerPrefix(int64_t layer);

// PyTorch defaults (torch.nn.Linear / Conv2d reset_parameters:
// kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias
// also U(+-1/sqrt(fan_in))), and nn.Embedding's N(0, 1). Drawn from torch's
// global generator, so a manual_seed before CreatePeft makes them reproducible.
torch::Tensor DefaultUniform(std::vector<int64_t> shape, int64_t fan_in,
                             const torch::TensorOptions& options);
torch::Tensor StandardNormal(std::vector<int64_t> shape, const torch::TensorOptions& options);

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_METHOD_EXTENSION_H_
