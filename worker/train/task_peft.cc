#include "worker/train/task_peft.h"

#include "worker/model/safetensors.h"

namespace peftsearch::train {
namespace {

class LinearProbeProvider final : public PeftProvider {
 public:
  absl::Status Validate(const nlohmann::json& combination) const override {
    if (!combination.is_object()) {
      return absl::InvalidArgumentError("peft: expected an object {method: {hyperparameters}}");
    }
    if (!combination.empty()) {
      return absl::NotFoundError("peft." + combination.begin().key() +
                                 ": unknown PEFT method (this trainer was built with linear "
                                 "probing only)");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> TrainsBackbone(const nlohmann::json& combination) const override {
    if (absl::Status s = Validate(combination); !s.ok()) return s;
    return false;
  }

  absl::StatusOr<TaskPeft> Create(const nlohmann::json& combination,
                                  const model::VisionMamba& /*backbone*/, double /*lr*/,
                                  double /*weight_decay*/) const override {
    if (absl::Status s = Validate(combination); !s.ok()) return s;
    TaskPeft p;
    p.save = SaveHeadOnly;
    return p;
  }
};

}  // namespace

std::unique_ptr<PeftProvider> NewLinearProbeProvider() {
  return std::make_unique<LinearProbeProvider>();
}

absl::Status SaveHeadOnly(const torch::nn::Linear& head, const std::string& path) {
  model::TensorMap tensors;
  tensors["head.weight"] = head->weight.detach();
  tensors["head.bias"] = head->bias.detach();
  return model::WriteSafetensors(path, tensors, {{"format", "peftsearch-peft-v1"}});
}

}  // namespace peftsearch::train
