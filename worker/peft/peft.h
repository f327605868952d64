// The 20 PEFT methods of MambaPEFT (Yoshimura et al., ICLR 2025, Table 1) as
// one registry. A trial's combination is plain data: a JSON object
//   {"lora_p_x": {"r": 8, "s": 0.1}, "a": {"wd": 1e-3}, "affix": {}}
// mapping a method name (MethodNames(), or a baseline "linear_probing" /
// "full") to its hyperparameters; anything left out takes the Table 9 step-1
// default (method_table.h). A method's value may also be `true` (all
// defaults) or `false` (the method is off), which is how step 1's boolean
// search reads.
//
// CreatePeft wraps a frozen, shared backbone without touching it: every method
// is a model::VimExtension (worker/model/vim_extension.h) and a combination is
// one CompositeVimExtension of them. The model knows no PEFT (DESIGN.md).
//
// Errors: INVALID_ARGUMENT naming method and field, e.g.
//   "lora_p_x.r: must be an integer in [1, 1024], got 0".
// Thread safety: free functions are reentrant; a PeftInstance's extension is
// used by one task (one thread) at a time (vim_multitask.h).
#ifndef PEFTSEARCH_WORKER_PEFT_PEFT_H_
#define PEFTSEARCH_WORKER_PEFT_PEFT_H_

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/model/vim_extension.h"
#include "worker/model/vim_model.h"

namespace peftsearch {
namespace peft {

// One optimizer parameter group. A method usually gives one group; a method
// may give more than one (additional_scan's new A columns are never decayed,
// as the official code marks them `_no_weight_decay`).
struct ParamGroup {
  std::string method;
  std::vector<torch::Tensor> params;
  double lr = 0;
  double weight_decay = 0;
};

struct PeftInstance {
  // The combination as one extension; null for linear_probing, full and {}.
  std::shared_ptr<model::VimExtension> extension;
  // Trainable tensors by method with the method's lr / wd (head NOT included).
  std::vector<ParamGroup> groups;
  // Stable names (MambaPEFT's, without the "backbone.module." prefix, e.g.
  // "layers.3.mixer.lora_X.adapter_up.weight"), for SaveTrainable/LoadTrainable.
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters;
  std::map<std::string, int64_t> trainable_by_method;
  int64_t trainable_total = 0;  // excluding the head
  // True for `full`: the caller must give this task its own backbone copy.
  bool trains_backbone = false;
  // The combination with every default filled in (what actually runs).
  nlohmann::json resolved = nlohmann::json::object();
};

// Trial-recipe values used where a method's `lr` / `wd` is not given
// (partial tuning's wd default is 1e-3 instead: Table 9 step 1).
struct PeftDefaults {
  double lr = 1e-3;            // MambaPEFT recipe: AdamW lr 1e-3
  double weight_decay = 1e-4;  // MambaPEFT recipe: wd 1e-4
};

// Validates the combination (JSON object method -> hyperparameter object)
// without building anything. OK, or INVALID_ARGUMENT naming method.field.
absl::Status ValidateCombination(const nlohmann::json& combination);

// Returns the combination with every hyperparameter present (defaults filled
// in, `true` expanded, `false` dropped); INVALID_ARGUMENT as above.
absl::StatusOr<nlohmann::json> ResolveCombination(const nlohmann::json& combination,
                                                  const PeftDefaults& defaults);

// Builds the combination for `backbone` (frozen and shared: never modified),
// parameters initialised as the official code does (deterministic from torch's
// current RNG seed), on the backbone's device and dtype.
// For `full`, `backbone` must be the task's own copy: its parameters (head
// excluded) are returned as the "full" group and set to require grad.
absl::StatusOr<PeftInstance> CreatePeft(const nlohmann::json& combination,
                                        const model::VisionMamba& backbone,
                                        const PeftDefaults& defaults);

// The names of the 20 methods, in Table 1 order; and the two baselines.
const std::vector<std::string>& MethodNames();
const std::vector<std::string>& BaselineNames();
// The methods beyond MambaPEFT (prodial, sdlora, memba, dora), in the order
// CreatePeft applies them (after the 20, before additional_scan).
const std::vector<std::string>& ExtendedMethodNames();

// Saves the trainable parameters (and, if `head` is not null, "head.weight"
// and "head.bias") as safetensors, with the resolved combination in the
// metadata. UNAVAILABLE if the file cannot be written.
absl::Status SaveTrainable(const PeftInstance& peft, const torch::nn::Linear* head,
                           const std::string& path);
// Loads what SaveTrainable wrote into `peft` (and `head` if not null; head
// tensors in the file are ignored when it is null). Strict: a missing,
// unexpected or mis-shaped tensor is INVALID_ARGUMENT naming it; NOT_FOUND /
// DATA_LOSS from the reader pass through.
absl::Status LoadTrainable(PeftInstance* peft, torch::nn::Linear* head, const std::string& path);

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_PEFT_H_
