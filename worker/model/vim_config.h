// Vision Mamba (Vim) and Mamba LM configurations with the official presets.
// Facts: hustvl/Vim@dd0358a vim/models_mamba.py (register_model functions)
// and state-spaces/mamba MambaConfig (mamba-130m); see
// shared/research/vim_mambapeft.md §1.1. Value types; thread-compatible.
#ifndef PEFTSEARCH_WORKER_MODEL_VIM_CONFIG_H_
#define PEFTSEARCH_WORKER_MODEL_VIM_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace peftsearch {
namespace model {

struct VimConfig {
  int64_t img_size = 224;   // square input; H and W must equal it (Vim asserts this)
  int64_t patch_size = 16;
  int64_t stride = 16;      // 8 for the "+" (*_stride8_*) checkpoints
  int64_t in_chans = 3;
  int64_t embed_dim = 192;  // D
  int64_t depth = 24;
  int64_t d_state = 16;     // N
  int64_t d_conv = 4;
  int64_t expand = 2;
  int64_t num_classes = 1000;  // 0: no `head` parameters
  double drop_path_rate = 0.1;  // VisionMamba constructor default; MambaPEFT keeps it
  double norm_eps = 1e-5;

  int64_t d_inner() const { return expand * embed_dim; }
  // dt_rank="auto" = ceil(D / 16) (mamba_simple.py).
  int64_t dt_rank() const { return (embed_dim + 15) / 16; }
  int64_t grid() const { return (img_size - patch_size) / stride + 1; }
  int64_t num_patches() const { return grid() * grid(); }
  int64_t seq_len() const { return num_patches() + 1; }
  // use_middle_cls_token: token_position = M // 2.
  int64_t cls_position() const { return num_patches() / 2; }
  // Stochastic depth of block i: inter_dpr = [0] + linspace(0, rate, depth).
  double BlockDropPath(int64_t i) const;
};

// "vim_tiny" | "vim_small" | "vim_base" (stride 16, 224², 1000 classes).
// NOT_FOUND names the unknown preset and lists the known ones.
absl::StatusOr<VimConfig> VimPreset(const std::string& name);
std::vector<std::string> VimPresetNames();

// INVALID_ARGUMENT naming the first bad field.
absl::Status ValidateVimConfig(const VimConfig& config);

struct MambaLMConfig {
  int64_t d_model = 768;
  int64_t n_layer = 24;
  int64_t vocab_size = 50277;
  int64_t pad_vocab_size_multiple = 8;
  int64_t d_state = 16;
  int64_t d_conv = 4;
  int64_t expand = 2;
  double norm_eps = 1e-5;

  int64_t padded_vocab() const {
    return (vocab_size + pad_vocab_size_multiple - 1) / pad_vocab_size_multiple *
           pad_vocab_size_multiple;
  }
  int64_t d_inner() const { return expand * d_model; }
  int64_t dt_rank() const { return (d_model + 15) / 16; }
};

// "mamba_130m" (state-spaces/mamba-130m: d_model 768, 24 layers, vocab 50277 -> 50280).
absl::StatusOr<MambaLMConfig> MambaLMPreset(const std::string& name);
absl::Status ValidateMambaLMConfig(const MambaLMConfig& config);

}  // namespace model
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_MODEL_VIM_CONFIG_H_
