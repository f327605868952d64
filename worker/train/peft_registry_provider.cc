#include "worker/train/peft_registry_provider.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "worker/peft/peft.h"

namespace peftsearch::train {
namespace {

// Errors from the registry name method.field; the trial field is "peft".
absl::Status InPeft(const absl::Status& s) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat("peft.", s.message()));
}

class PeftRegistryProvider final : public PeftProvider {
 public:
  absl::Status Validate(const nlohmann::json& combination) const override {
    return InPeft(peft::ValidateCombination(combination));
  }

  absl::StatusOr<bool> TrainsBackbone(const nlohmann::json& combination) const override {
    absl::StatusOr<nlohmann::json> resolved =
        peft::ResolveCombination(combination, peft::PeftDefaults{});
    if (!resolved.ok()) return InPeft(resolved.status());
    return resolved->contains("full");
  }

  absl::StatusOr<TaskPeft> Create(const nlohmann::json& combination,
                                  const model::VisionMamba& backbone, double lr,
                                  double weight_decay) const override {
    peft::PeftDefaults defaults;
    defaults.lr = lr;
    defaults.weight_decay = weight_decay;
    absl::StatusOr<peft::PeftInstance> instance = peft::CreatePeft(combination, backbone, defaults);
    if (!instance.ok()) return InPeft(instance.status());
    auto shared = std::make_shared<peft::PeftInstance>(*std::move(instance));
    TaskPeft p;
    p.extension = shared->extension;
    for (const peft::ParamGroup& g : shared->groups) {
      p.groups.push_back(OptimizerGroup{g.method, g.params, g.lr, g.weight_decay});
    }
    p.trainable_by_method = shared->trainable_by_method;
    p.trainable = shared->trainable_total;
    p.save = [shared](const torch::nn::Linear& head, const std::string& path) {
      return peft::SaveTrainable(*shared, &head, path);
    };
    return p;
  }
};

}  // namespace

std::unique_ptr<PeftProvider> NewPeftRegistryProvider() {
  return std::make_unique<PeftRegistryProvider>();
}

}  // namespace peftsearch::train
