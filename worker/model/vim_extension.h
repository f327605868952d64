// VimExtension: the generic extension points of the Vim forward pass. The
// model knows no PEFT method (DESIGN.md); worker/peft implements PEFT methods
// as VimExtensions, and one frozen Vim backbone serves several extensions
// (one per task, see vim_multitask.h) because the backbone keeps no per-task
// state: an extension is passed to every Forward call.
//
// Every hook defaults to "no change", so an empty VimExtension reproduces the
// plain model exactly. Shapes below use B batch, M patches, L tokens (after
// CLS and any prompts), D = embed_dim, d = d_inner = 2D, r = dt_rank,
// N = d_state (16), and "i" the layer index 0..depth-1.
//
// Order of calls in one VisionMamba forward (vim_model.cc):
//   BeginForward(images, training)
//   x = PatchEmbed(images) [B,M,D]            Param("patch_embed.proj.weight"/".bias")
//   x += PatchEmbedDelta(images)              (if defined)
//   insert Param("cls_token") at M/2; x += Param("pos_embed"); cls_index = M/2
//   OnTokens(&x, &cls_index)
//   per layer i (prefix "layers.i."):
//     residual += drop_path(hidden); h = RMSNorm(residual, Param("layers.i.norm.weight"))
//     xz = h Param("...mixer.in_proj.weight")^T  [B,L,2d];  xz += InProjDelta(i, h)
//     affix = Affix(i, xz)
//     forward branch on  [affix.forward_prefix ; xz ; affix.forward_suffix]
//     backward branch on [affix.backward_prefix ; flip_L(xz) ; affix.backward_suffix]
//       each: conv1d(Param(conv1d.weight), Param(conv1d.bias)) -> silu -> u
//             x_dbl = u Param(x_proj.weight)^T; N' = Param(A_log).size(1)
//             dt, B, C = split(x_dbl, [r, N', N'])
//             delta = dt Param(dt_proj.weight)^T
//             scan(u, delta, -exp(Param(A_log)), B, C, Param(D), z,
//                  delta_bias = Param(dt_proj.bias), softplus)
//       (backward branch uses the *_b names: conv1d_b, x_proj_b, dt_proj_b, A_b_log, D_b)
//     affix positions are dropped from both outputs, then
//     y = (out_f + flip_L(out_b)) / 2          [B,L,d]
//     out = y Param("...mixer.out_proj.weight")^T + OutProjDelta(i, y)   [B,L,D]
//   residual += drop_path(hidden); features = RMSNorm(residual, Param("norm_f.weight"))[:, cls_index]
//   EndForward()
//
// How the 20 MambaPEFT methods map onto the hooks (research note §4-5):
//   CLS-token tuning      Param("cls_token") -> base + delta
//   Pos-embed tuning      Param("pos_embed") -> base + delta
//   A tuning              Param("layers.i.mixer.A_log" / "A_b_log") -> base + delta
//   D tuning              Param("layers.i.mixer.D" / "D_b") -> base + delta
//   Bias tuning (dt bias) Param("layers.i.mixer.dt_proj.bias" / "dt_proj_b.bias") -> base + delta
//   Conv1d tuning         Param("layers.i.mixer.conv1d.weight" / "conv1d_b.weight") -> base + delta
//   Prompt tuning         OnTokens: insert P tokens (prefix/suffix/prefix_suffix), move cls_index
//   Affix tuning          BeginForward evaluates the prefix encoder once; Affix(i, xz) returns the
//                         layer's [B,T,2d] tokens as forward_prefix / backward_prefix (inner dual)
//   Additional-scan       Param(A_log) -> cat([A_log_addi, A_log], 1) [d, N+k];
//                         Param(x_proj.weight) -> rows [dt; B_addi; B; C_addi; C] [r+2(N+k), d];
//                         the mixer takes N' = Param(A_log).size(1) and the kernel any d_state
//   ParallelAdapter       OutProjDelta(i, y) = s * up(dropout(relu(down(y))))
//   LoRA(embed)           PatchEmbedDelta(images) = s * up(dropout(conv_down(images))) as tokens
//   LoRA(x_proj)          Param(x_proj.weight / x_proj_b.weight) -> W + s * U Dn (merge, no dropout)
//   LoRA(dt_proj)         Param(dt_proj.weight / dt_proj_b.weight) -> W + s * U Dn
//   LoRA(out_proj)        OutProjDelta(i, y) = s * up(dropout(down(y)))
//   LoRA(in_proj)         InProjDelta(i, h) = s * up(dropout(down(h)))        [B,L,2d]
//   LoRA_p(d / B / C)     Param(x_proj[_b].weight) -> W + zero-padded s*U Dn on rows
//                         [0:r] / [r:r+N] / [r+N:r+2N]
//   LoRA_p(X) / LoRA_p(Z) InProjDelta(i, h) = cat([s*lora_X(h), 0]) / cat([0, s*lora_Z(h)])
//   Classification head   the task's own Linear on the features (vim_multitask.h)
// A hybrid combination is one CompositeVimExtension of several of these.
//
// Thread safety: the model calls hooks from the thread that runs Forward; an
// extension used by one task at a time needs no locking.
#ifndef PEFTSEARCH_WORKER_MODEL_VIM_EXTENSION_H_
#define PEFTSEARCH_WORKER_MODEL_VIM_EXTENSION_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace peftsearch {
namespace model {

// Extra tokens around xz (the in_proj output, [B,L,2d] with x = [..., :d] and
// z = [..., d:]). Each is [B,T,2d] or undefined. "backward_*" are in the
// backward branch's own scan order: backward_prefix is scanned first by the
// backward branch (it sits before flip_L(xz)). The outputs at affix positions
// are discarded after the scan, so L is unchanged for the rest of the block.
struct XzAffix {
  torch::Tensor forward_prefix;
  torch::Tensor forward_suffix;
  torch::Tensor backward_prefix;
  torch::Tensor backward_suffix;
};

class VimExtension {
 public:
  VimExtension() = default;
  VimExtension(const VimExtension&) = delete;
  VimExtension& operator=(const VimExtension&) = delete;
  virtual ~VimExtension() = default;

  // First call of each forward; `training` is the backbone's mode (dropout
  // in adapters should follow it).
  virtual void BeginForward(const torch::Tensor& images, bool training) {}
  // Last call of each forward (drop per-forward caches here).
  virtual void EndForward() {}

  // The tensor the forward uses for the parameter with official key `name`
  // (e.g. "layers.3.mixer.x_proj.weight"); `base` is the backbone's frozen
  // tensor. Return `base`, a function of it (base + delta, a LoRA merge), or
  // for A_log/A_b_log and x_proj/x_proj_b.weight an enlarged tensor with
  // d_state N' > N (both of one branch must agree). Any other shape change
  // fails a TORCH_CHECK naming the key.
  virtual torch::Tensor Param(const std::string& name, const torch::Tensor& base) {
    return base;
  }

  // Added to the patch tokens [B,M,D] (before CLS insertion); undefined = none.
  virtual torch::Tensor PatchEmbedDelta(const torch::Tensor& images) { return {}; }

  // After CLS insertion and pos-embed, before layer 0: may replace *tokens
  // ([B,L,D] -> [B,L',D]) and must then update *cls_index (the feature token).
  virtual void OnTokens(torch::Tensor* tokens, int64_t* cls_index) {}

  // Added to xz = in_proj(h); h is the normed block input [B,L,D]; returns
  // [B,L,2d] or undefined.
  virtual torch::Tensor InProjDelta(int64_t layer, const torch::Tensor& h) { return {}; }

  // Affix tokens for layer `layer`; xz is [B,L,2d] after InProjDelta.
  virtual XzAffix Affix(int64_t layer, const torch::Tensor& xz) { return {}; }

  // Added to out_proj(y); y = (out_f + flip(out_b)) / 2 is [B,L,d]; returns
  // [B,L,D] or undefined.
  virtual torch::Tensor OutProjDelta(int64_t layer, const torch::Tensor& y) { return {}; }
};

// Several extensions as one (a hybrid PEFT combination). Param chains the
// children in order (each child sees the previous child's result as `base`,
// so e.g. LoRA_p(B) must come before Additional-scan, which re-lays the x_proj
// rows); deltas are summed; OnTokens runs in order; affixes are concatenated
// in order (the first child's prefix is scanned first). Children are shared,
// not owned exclusively.
class CompositeVimExtension : public VimExtension {
 public:
  explicit CompositeVimExtension(std::vector<std::shared_ptr<VimExtension>> children);

  void BeginForward(const torch::Tensor& images, bool training) override;
  void EndForward() override;
  torch::Tensor Param(const std::string& name, const torch::Tensor& base) override;
  torch::Tensor PatchEmbedDelta(const torch::Tensor& images) override;
  void OnTokens(torch::Tensor* tokens, int64_t* cls_index) override;
  torch::Tensor InProjDelta(int64_t layer, const torch::Tensor& h) override;
  XzAffix Affix(int64_t layer, const torch::Tensor& xz) override;
  torch::Tensor OutProjDelta(int64_t layer, const torch::Tensor& y) override;

  const std::vector<std::shared_ptr<VimExtension>>& children() const { return children_; }

 private:
  std::vector<std::shared_ptr<VimExtension>> children_;
};

// Returns extension->Param(name, base), or base when extension is null.
inline torch::Tensor EffectiveParam(VimExtension* extension, const std::string& name,
                                    const torch::Tensor& base) {
  return extension == nullptr ? base : extension->Param(name, base);
}

}  // namespace model
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_MODEL_VIM_EXTENSION_H_
