// What the trainer needs from a PEFT combination for one task: the extension
// the backbone calls, the optimiser groups, the parameter count and a saver.
// The trainer sees PEFT only through PeftProvider, so it is tested with
// linear probing alone; peft_registry_provider.h adapts the registry of
// worker/peft.
//
// Thread safety: a provider is called from one thread (trial set-up).
#ifndef PEFTSEARCH_WORKER_TRAIN_TASK_PEFT_H_
#define PEFTSEARCH_WORKER_TRAIN_TASK_PEFT_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/model/vim_extension.h"
#include "worker/model/vim_model.h"

namespace peftsearch::train {

struct OptimizerGroup {
  std::string name;  // PEFT method, or "head"
  std::vector<torch::Tensor> params;
  double lr = 0;
  double weight_decay = 0;
};

struct TaskPeft {
  std::shared_ptr<model::VimExtension> extension;  // null: linear probing
  std::vector<OptimizerGroup> groups;              // head group excluded
  std::map<std::string, int64_t> trainable_by_method;
  int64_t trainable = 0;  // scalars, head excluded
  // Writes the task's trainable parameters and its head as safetensors.
  std::function<absl::Status(const torch::nn::Linear& head, const std::string& path)> save;
};

class PeftProvider {
 public:
  virtual ~PeftProvider() = default;
  // INVALID_ARGUMENT / NOT_FOUND naming the bad method or hyperparameter.
  virtual absl::Status Validate(const nlohmann::json& combination) const = 0;
  // True if the combination trains the backbone itself (`full`), so each
  // task needs its own copy. Errors as Validate.
  virtual absl::StatusOr<bool> TrainsBackbone(const nlohmann::json& combination) const = 0;
  // A fresh instance for one task over `backbone` (the shared one, or the
  // task's own copy when TrainsBackbone). Uses the global torch RNG for
  // random initialisations, so call it in a fixed order after seeding.
  virtual absl::StatusOr<TaskPeft> Create(const nlohmann::json& combination,
                                          const model::VisionMamba& backbone, double lr,
                                          double weight_decay) const = 0;
};

// Linear probing only: accepts the empty combination, and names the first
// method of any other as unknown.
std::unique_ptr<PeftProvider> NewLinearProbeProvider();

// Saves "head.weight" and "head.bias" (what linear probing trains).
absl::Status SaveHeadOnly(const torch::nn::Linear& head, const std::string& path);

}  // namespace peftsearch::train

#endif  // PEFTSEARCH_WORKER_TRAIN_TASK_PEFT_H_
