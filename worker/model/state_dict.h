// Named tensors of a module (official key names) and strict loading.
// Thread safety: LoadStateDict mutates the module's parameters; do not run a
// forward on the same module concurrently.
#ifndef PEFTSEARCH_WORKER_MODEL_STATE_DICT_H_
#define PEFTSEARCH_WORKER_MODEL_STATE_DICT_H_

#include <torch/torch.h>

#include <set>
#include <string>

#include "absl/status/status.h"
#include "worker/model/safetensors.h"

namespace peftsearch {
namespace model {

// Parameters and buffers by their dotted names, detached (shared storage).
TensorMap StateDict(const torch::nn::Module& module);

struct LoadOptions {
  // Keys accepted in the file but not loaded (e.g. the Mamba LM's tied
  // "lm_head.weight", the 1000-class "head.*" when the model has another head).
  std::set<std::string> ignore_keys;
};

// Copies every tensor into the module's parameter of the same name. Floating
// tensors are cast to the parameter's dtype. On any mismatch nothing is
// copied and INVALID_ARGUMENT lists every missing key, unexpected key, shape
// mismatch and non-floating dtype, by name.
absl::Status LoadStateDict(const TensorMap& tensors, torch::nn::Module* module,
                           const LoadOptions& options = {});

// ReadSafetensors + LoadStateDict; errors carry the path.
absl::Status LoadCheckpoint(const std::string& path, torch::nn::Module* module,
                            const LoadOptions& options = {});

// Number of scalars per top-level module ("layers.0", ... grouped as
// "layers.N"), in first-seen order, and the total.
std::vector<std::pair<std::string, int64_t>> ParameterCounts(const torch::nn::Module& module,
                                                             int64_t* total);

}  // namespace model
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_MODEL_STATE_DICT_H_
