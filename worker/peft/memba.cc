#include "worker/peft/memba.h"

#include <algorithm>

namespace peftsearch {
namespace peft {

MembaExtension::MembaExtension(const MembaOptions& options, const BackboneInfo& backbone)
    : MethodExtension("memba"), options_(options) {
  const model::VimConfig& c = backbone.config;
  const int64_t D = c.embed_dim, E = c.d_inner();
  d_inner_ = E;
  TORCH_CHECK(options.rank >= 1, "memba.r: must be >= 1");
  TORCH_CHECK(options.chunks >= 1, "memba.chunks: must be >= 1");
  auto make = [&](const std::string& name, int64_t in, int64_t out) {
    torch::Tensor down =
        Register(name + "adapter_down.weight", DefaultUniform({options.rank, in}, in, backbone.options));
    torch::Tensor up = Register(name + "adapter_up.weight", torch::zeros({out, options.rank}, backbone.options));
    return std::make_pair(down, up);
  };
  for (int64_t i = 0; i < c.depth; ++i) {
    const std::string prefix = MixerPrefix(i);
    in_.push_back(make(prefix + "memba_in_proj.", D, 2 * E));
    out_.push_back(make(prefix + "memba_out_proj.", E, D));
    in_keys_.push_back(prefix + "in_proj.weight");
  }
  in_weight_.resize(c.depth);
}

void MembaExtension::BeginForward(const torch::Tensor& images, bool training) {
  MethodExtension::BeginForward(images, training);
  membrane_ = torch::Tensor();
}

void MembaExtension::EndForward() {
  membrane_ = torch::Tensor();
  for (torch::Tensor& w : in_weight_) w = torch::Tensor();
}

torch::Tensor MembaExtension::Param(const std::string& name, const torch::Tensor& base) {
  // Remember the in_proj weight the mixer multiplies by (after any method
  // applied before this one), to recompute z in InProjDelta.
  for (size_t i = 0; i < in_keys_.size(); ++i) {
    if (name == in_keys_[i]) in_weight_[i] = base;
  }
  return base;
}

torch::Tensor MembaExtension::Lora(const std::pair<torch::Tensor, torch::Tensor>& a,
                                   const torch::Tensor& x) {
  torch::Tensor t = torch::dropout(torch::matmul(x, a.first.t()), kDropout, training());
  return options_.scale * torch::matmul(t, a.second.t());
}

std::pair<torch::Tensor, torch::Tensor> MembaExtension::LeakyIntegrate(const torch::Tensor& z,
                                                                       const torch::Tensor& u0,
                                                                       double tau, double v_th,
                                                                       int64_t chunks) {
  const int64_t B = z.size(0), L = z.size(1), E = z.size(2);
  const int64_t T = std::min(chunks, L), c = L / T;
  torch::Tensor u = u0.defined() ? u0 : torch::zeros({B, c, E}, z.options());
  TORCH_CHECK(u.size(1) == c, "memba: membrane has ", u.size(1), " tokens, chunk size is ", c);
  std::vector<torch::Tensor> gates;
  torch::Tensor sum = torch::zeros_like(u);
  for (int64_t i = 0; i < T; ++i) {
    const torch::Tensor v = tau * u + z.narrow(1, i * c, c);
    u = torch::where(v > v_th, torch::zeros_like(v), v);
    gates.push_back(u);
    sum = sum + u;
  }
  if (T * c < L) gates.push_back(z.narrow(1, T * c, L - T * c));
  return {torch::cat(gates, 1), sum / static_cast<double>(T)};
}

torch::Tensor MembaExtension::InProjDelta(int64_t layer, const torch::Tensor& h) {
  const torch::Tensor& w = in_weight_.at(layer);
  TORCH_CHECK(w.defined(), "memba: in_proj weight of layer ", layer, " was not seen this forward");
  const torch::Tensor lora = Lora(in_.at(layer), h);  // [B, L, 2E]
  const torch::Tensor z_model = torch::matmul(h, w.narrow(0, d_inner_, d_inner_).t());
  const torch::Tensor z = z_model + lora.narrow(2, d_inner_, d_inner_);
  torch::Tensor u0 = options_.transfer ? membrane_ : torch::Tensor();
  if (u0.defined() && u0.size(0) != z.size(0)) u0 = torch::Tensor();
  auto [gate, mean] = LeakyIntegrate(z, u0, options_.tau, options_.v_th, options_.chunks);
  membrane_ = mean;
  // The mixer adds this to xz = [x | z_model]: x gets the LoRA, z becomes the gate.
  return torch::cat({lora.narrow(2, 0, d_inner_), gate - z_model}, 2);
}

torch::Tensor MembaExtension::OutProjDelta(int64_t layer, const torch::Tensor& y) {
  return Lora(out_.at(layer), y);
}

}  // namespace peft
}  // namespace peftsearch
