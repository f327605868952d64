// The work behind the `peftsearch-model` binary (main.cc parses flags only):
//   info     parameters per module and total
//   init     random weights with official names -> safetensors
//   forward  images (or input_ids) safetensors -> logits safetensors
// Model specs: a preset (vim_tiny, vim_small, vim_base, mamba_130m) or
// "vim_custom", each optionally overridden field by field. `init` records the
// Vim configuration in the file's metadata ("peftsearch.vim_config", JSON),
// which the Python reference (tests/reference/vim_ref.py) reads.
#ifndef PEFTSEARCH_WORKER_MODEL_MODEL_CLI_H_
#define PEFTSEARCH_WORKER_MODEL_MODEL_CLI_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/model/vim_config.h"

namespace peftsearch {
namespace model {

struct ModelSpec {
  std::string model = "vim_small";
  // Overrides of the preset (vim_* only); unset = preset value.
  // For mamba_* models embed_dim, depth, d_state and vocab_size override
  // d_model, n_layer, d_state and vocab_size.
  std::optional<int64_t> img_size, patch_size, stride, embed_dim, depth, d_state, num_classes;
  std::optional<int64_t> vocab_size;
  std::optional<double> drop_path_rate;
  int threads = 0;  // 0: LibTorch default
};

// Resolves a vim_* spec to a validated config. NOT_FOUND for an unknown model,
// INVALID_ARGUMENT naming a bad field.
absl::StatusOr<VimConfig> ResolveVimConfig(const ModelSpec& spec);
bool IsMambaLM(const std::string& model);
absl::StatusOr<MambaLMConfig> ResolveMambaLMConfig(const ModelSpec& spec);

std::string VimConfigToJson(const VimConfig& c);

absl::Status RunInfo(const ModelSpec& spec, std::ostream& out);
absl::Status RunInit(const ModelSpec& spec, uint64_t seed, const std::string& output);
// Input tensor "images" [B,C,H,W] float32 (Vim) or "input_ids" [B,L] int64
// (Mamba LM); output tensor "logits".
absl::Status RunForward(const ModelSpec& spec, const std::string& weights,
                        const std::string& input, const std::string& output);

}  // namespace model
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_MODEL_MODEL_CLI_H_
