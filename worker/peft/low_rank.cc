#include "worker/peft/low_rank.h"

namespace peftsearch {
namespace peft {

LowRankExtension::LowRankExtension(const std::string& method, int64_t rank, double scale,
                                   const BackboneInfo& backbone)
    : MethodExtension(method), rank_(rank), scale_(scale), options_(backbone.options) {
  TORCH_CHECK(rank >= 1, method, ": rank must be >= 1");
  const model::VimConfig& c = backbone.config;
  const int64_t D = c.embed_dim, d = c.d_inner(), r = c.dt_rank(), N = c.d_state;
  d_inner_ = d;
  stride_ = c.stride;

  if (method == "lora_embed") {
    // Conv2dAdapter(in_chans, D, r, kernel = stride = the patch conv's, no
    // padding, no bias); the up conv is 1x1.
    const std::string name = "patch_embed.lora_patch_embed.";
    embed_.down = Register(name + "adapter_down.weight",
                           DefaultUniform({rank, c.in_chans, c.patch_size, c.patch_size},
                                          c.in_chans * c.patch_size * c.patch_size, options_));
    embed_.up = Register(name + "adapter_up.weight", torch::zeros({D, rank, 1, 1}, options_));
    return;
  }

  // Activation-form adapters, one per layer (official attribute names).
  struct PerLayer {
    const char* method;
    const char* attr;
    int64_t in, out;
  };
  const PerLayer per_layer[] = {
      {"parallel_adapter", "adaptf", d, D}, {"lora_out_proj", "lora_out_proj", d, D},
      {"lora_in_proj", "lora_in_proj", D, 2 * d}, {"lora_p_x", "lora_X", D, d},
      {"lora_p_z", "lora_Z", D, d}};
  for (const PerLayer& p : per_layer) {
    if (method != p.method) continue;
    for (int64_t i = 0; i < c.depth; ++i) {
      per_layer_.push_back(MakeAdapter(MixerPrefix(i) + p.attr + ".", p.in, p.out));
    }
    return;
  }

  // Weight-merge adapters, one per direction (attr, attr + "_b").
  struct Merged {
    const char* method;
    const char* attr;
    const char* fwd_key;
    const char* bwd_key;
    int64_t in, out, row_begin, rows_total;
  };
  const Merged merged[] = {
      {"lora_x_proj", "lora_x_proj", "x_proj.weight", "x_proj_b.weight", d, r + 2 * N, 0,
       r + 2 * N},
      {"lora_p_d", "lora_d", "x_proj.weight", "x_proj_b.weight", d, r, 0, r + 2 * N},
      {"lora_p_b", "lora_B", "x_proj.weight", "x_proj_b.weight", d, N, r, r + 2 * N},
      {"lora_p_c", "lora_C", "x_proj.weight", "x_proj_b.weight", d, N, r + N, r + 2 * N},
      // dt_proj.weight is [d, dt_rank]: Adapter(dt_rank -> d).
      {"lora_dt_proj", "lora_dt", "dt_proj.weight", "dt_proj_b.weight", r, d, 0, d}};
  for (const Merged& m : merged) {
    if (method != m.method) continue;
    for (int64_t i = 0; i < c.depth; ++i) {
      const std::string prefix = MixerPrefix(i);
      for (int dir = 0; dir < 2; ++dir) {
        Merge merge;
        merge.adapter =
            MakeAdapter(prefix + m.attr + (dir == 0 ? "." : "_b."), m.in, m.out);
        merge.row_begin = m.row_begin;
        merge.rows_total = m.rows_total;
        merges_[prefix + (dir == 0 ? m.fwd_key : m.bwd_key)] = merge;
      }
    }
    return;
  }
  TORCH_CHECK(false, "not a low-rank method: ", method);
}

LowRankExtension::Adapter LowRankExtension::MakeAdapter(const std::string& name, int64_t in,
                                                        int64_t out) {
  Adapter a;
  a.down = Register(name + "adapter_down.weight", DefaultUniform({rank_, in}, in, options_));
  a.up = Register(name + "adapter_up.weight", torch::zeros({out, rank_}, options_));
  return a;
}

torch::Tensor LowRankExtension::Activation(const Adapter& a, const torch::Tensor& x, bool relu) {
  torch::Tensor t = torch::matmul(x, a.down.t());
  if (relu) t = torch::relu(t);
  t = torch::dropout(t, kDropout, training());
  return scale_ * torch::matmul(t, a.up.t());
}

torch::Tensor LowRankExtension::Param(const std::string& name, const torch::Tensor& base) {
  auto it = merges_.find(name);
  if (it == merges_.end()) return base;
  const Merge& m = it->second;
  // Defined on the pre-trained layout: additional_scan re-lays x_proj rows
  // afterwards (it runs last, as in forward_mamba_peft).
  TORCH_CHECK(base.dim() == 2 && base.size(0) == m.rows_total, method(), ": ", name,
              " has shape ", base.sizes(), ", expected ", m.rows_total, " rows");
  torch::Tensor delta = scale_ * torch::matmul(m.adapter.up, m.adapter.down);
  const int64_t rows = delta.size(0);
  if (rows != m.rows_total) {
    delta = torch::constant_pad_nd(delta, {0, 0, m.row_begin, m.rows_total - m.row_begin - rows});
  }
  return base + delta;
}

torch::Tensor LowRankExtension::PatchEmbedDelta(const torch::Tensor& images) {
  if (!embed_.down.defined()) return {};
  torch::Tensor t = torch::conv2d(images, embed_.down, {}, stride_);
  t = torch::dropout(t, kDropout, training());
  t = torch::conv2d(t, embed_.up);
  return scale_ * t.flatten(2).transpose(1, 2);  // [B, M, D] like the patch tokens
}

torch::Tensor LowRankExtension::InProjDelta(int64_t layer, const torch::Tensor& h) {
  if (per_layer_.empty()) return {};
  const std::string& m = method();
  if (m == "lora_in_proj") return Activation(per_layer_.at(layer), h, false);
  // LoRA_p(X) / (Z): only the x half / z half of xz = [x | z] gets the update.
  if (m == "lora_p_x") {
    return torch::constant_pad_nd(Activation(per_layer_.at(layer), h, false), {0, d_inner_});
  }
  if (m == "lora_p_z") {
    return torch::constant_pad_nd(Activation(per_layer_.at(layer), h, false), {d_inner_, 0});
  }
  return {};
}

torch::Tensor LowRankExtension::OutProjDelta(int64_t layer, const torch::Tensor& y) {
  if (per_layer_.empty()) return {};
  const std::string& m = method();
  if (m == "lora_out_proj") return Activation(per_layer_.at(layer), y, false);
  if (m == "parallel_adapter") return Activation(per_layer_.at(layer), y, true);
  return {};
}

}  // namespace peft
}  // namespace peftsearch
