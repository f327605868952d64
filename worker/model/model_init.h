// Random initialisation with the official schemes, deterministic per seed
// (a private generator; the global one is untouched). Scratch training and
// tests only: pretrained checkpoints overwrite all of it.
// Thread safety: mutates the module.
#ifndef PEFTSEARCH_WORKER_MODEL_MODEL_INIT_H_
#define PEFTSEARCH_WORKER_MODEL_MODEL_INIT_H_

#include <cstdint>

#include "worker/model/mamba_lm.h"
#include "worker/model/vim_model.h"

namespace peftsearch {
namespace model {

// hustvl/Vim models_mamba.py + mamba_simple.py (research note §1.3):
// A_log = log(1..N), D = 1, dt_proj.weight ~ U(+-r^-0.5), dt_proj.bias =
// softplus^-1(dt), dt log-uniform in [1e-3, 0.1]; Vim's _init_weights then
// zeroes the other Linear biases (so dt_proj_b.bias = 0) and rescales
// out_proj by 1/sqrt(depth); patch_embed lecun normal, pos_embed, cls_token
// and head trunc normal(0.02), norms 1.
void InitVim(VisionMambaImpl* model, uint64_t seed);

// mamba_ssm MixerModel/_init_weights: embedding N(0, 0.02), same mixer init,
// out_proj rescaled by 1/sqrt(n_layer).
void InitMambaLM(MambaLMImpl* model, uint64_t seed);

}  // namespace model
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_MODEL_MODEL_INIT_H_
