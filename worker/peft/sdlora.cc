#include "worker/peft/sdlora.h"

#include <algorithm>
#include <cmath>

namespace peftsearch {
namespace peft {

SdLoraExtension::SdLoraExtension(const SdLoraOptions& options, const BackboneInfo& backbone)
    : MethodExtension("sdlora"), options_(options), tensor_options_(backbone.options) {
  const model::VimConfig& c = backbone.config;
  E_ = c.d_inner();
  N_ = c.d_state;
  R_ = c.dt_rank();
  TORCH_CHECK(options.rank >= 1, "sdlora.r: must be >= 1");
  TORCH_CHECK(options.warmup_steps >= 1, "sdlora.warmup_steps: must be >= 1");
  n_c_ = std::clamp<int64_t>(std::llround(options.channel_fraction * E_), 1, E_);
  n_s_ = std::clamp<int64_t>(std::llround(options.state_fraction * N_), 1, N_);
  for (int64_t i = 0; i < c.depth; ++i) {
    const std::string prefix = MixerPrefix(i);
    const std::string lora = prefix + "sdt_out_proj.";
    torch::Tensor down = Register(lora + "adapter_down.weight",
                                  DefaultUniform({options.rank, E_}, E_, tensor_options_));
    torch::Tensor up =
        Register(lora + "adapter_up.weight", torch::zeros({c.embed_dim, options.rank}, tensor_options_));
    lora_.emplace_back(down, up);
    for (int dir = 0; dir < 2; ++dir) {
      Direction d;
      d.a_log_key = prefix + (dir == 0 ? "A_log" : "A_b_log");
      d.x_proj_key = prefix + (dir == 0 ? "x_proj.weight" : "x_proj_b.weight");
      const std::string name = prefix + (dir == 0 ? "sdt." : "sdt_b.");
      d.warm = torch::zeros({E_, N_}, tensor_options_.dtype(torch::kFloat)).set_requires_grad(true);
      d.adam_m = torch::zeros_like(d.warm).set_requires_grad(false);
      d.adam_v = torch::zeros_like(d.warm).set_requires_grad(false);
      // A_log is never weight-decayed in MambaPEFT's recipe; the B/C deltas
      // follow the method's wd like every other weight delta.
      d.delta_a = Register(name + "A_log_delta", torch::zeros({n_c_ * n_s_}, tensor_options_),
                           /*decay=*/false);
      d.delta_bc = Register(name + "x_proj_BC_delta", torch::zeros({2 * N_ * n_c_}, tensor_options_));
      by_key_[d.a_log_key] = directions_.size();
      by_key_[d.x_proj_key] = directions_.size();
      directions_.push_back(std::move(d));
    }
  }
}

void SdLoraExtension::BeginForward(const torch::Tensor& images, bool training) {
  MethodExtension::BeginForward(images, training);
  if (!training || selected_) return;
  // The previous training forward's backward has filled ΔA's gradient.
  for (Direction& d : directions_) WarmupAdamStep(&d);
  if (steps_ >= options_.warmup_steps) {
    for (Direction& d : directions_) Select(&d);
    ResetLora();
    selected_ = true;
  }
  ++steps_;
}

void SdLoraExtension::WarmupAdamStep(Direction* d) {
  torch::NoGradGuard no_grad;
  if (!d->warm.grad().defined()) return;
  // Adam (β 0.9 / 0.999, eps 1e-8, no decay), bias-corrected: ΔA is the
  // accumulated update of the warm-up run (the released `sdlora_grad`).
  const double t = static_cast<double>(steps_);
  const torch::Tensor g = d->warm.grad();
  d->adam_m.mul_(0.9).add_(g, 0.1);
  d->adam_v.mul_(0.999).addcmul_(g, g, 0.001);
  const double c1 = 1 - std::pow(0.9, t), c2 = 1 - std::pow(0.999, t);
  d->warm.sub_(options_.lr * (d->adam_m / c1) / ((d->adam_v / c2).sqrt() + 1e-8));
  d->warm.mutable_grad().zero_();
}

void SdLoraExtension::Select(Direction* d) {
  torch::NoGradGuard no_grad;
  const torch::Tensor sq = d->warm.detach().square();  // [E, N]
  // Stable descending sort: ties (e.g. a warm-up that saw no gradient) keep
  // the lower index first, so the selection is deterministic.
  const torch::Tensor ch = std::get<1>(sq.sum(1).sort(/*stable=*/true, 0, /*descending=*/true))
                               .narrow(0, 0, n_c_);
  const torch::Tensor st = std::get<1>(sq.index_select(0, ch).sort(true, 1, true)).narrow(1, 0, n_s_);
  // Row-major positions: A_log [E, N] -> ch*N + st; x_proj [R+2N, E] -> row*E + ch.
  d->a_index = (ch.unsqueeze(1) * N_ + st).reshape({-1});
  const torch::Tensor rows = torch::arange(R_, R_ + 2 * N_, ch.options()).unsqueeze(1);  // [2N, 1]
  d->bc_index = (rows * E_ + ch.unsqueeze(0)).reshape({-1});                             // [2N*n_c]
  d->channels.assign(ch.data_ptr<int64_t>(), ch.data_ptr<int64_t>() + n_c_);
  d->warm = torch::Tensor();  // dropped, as the released code discards it
  d->adam_m = torch::Tensor();
  d->adam_v = torch::Tensor();
}

void SdLoraExtension::ResetLora() {
  torch::NoGradGuard no_grad;
  for (auto& [down, up] : lora_) {
    down.copy_(DefaultUniform({down.size(0), down.size(1)}, down.size(1), tensor_options_));
    up.zero_();
  }
}

torch::Tensor SdLoraExtension::Param(const std::string& name, const torch::Tensor& base) {
  auto it = by_key_.find(name);
  if (it == by_key_.end()) return base;
  const Direction& d = directions_[it->second];
  if (name == d.a_log_key) {
    TORCH_CHECK(base.dim() == 2 && base.size(0) == E_ && base.size(1) == N_, "sdlora: ", name,
                " has shape ", base.sizes(), ", expected [", E_, ", ", N_, "]");
    if (!selected_) return base + d.warm.to(base.dtype());
    return base + torch::zeros({E_ * N_}, base.options())
                      .index_add(0, d.a_index, d.delta_a.to(base.dtype()))
                      .view({E_, N_});
  }
  if (!selected_) return base;
  TORCH_CHECK(base.dim() == 2 && base.size(0) == R_ + 2 * N_ && base.size(1) == E_, "sdlora: ",
              name, " has shape ", base.sizes(), ", expected [", R_ + 2 * N_, ", ", E_, "]");
  return base + torch::zeros({(R_ + 2 * N_) * E_}, base.options())
                    .index_add(0, d.bc_index, d.delta_bc.to(base.dtype()))
                    .view({R_ + 2 * N_, E_});
}

torch::Tensor SdLoraExtension::OutProjDelta(int64_t layer, const torch::Tensor& y) {
  const auto& [down, up] = lora_.at(layer);
  torch::Tensor t = torch::dropout(torch::matmul(y, down.t()), kDropout, training());
  return options_.scale * torch::matmul(t, up.t());
}

std::vector<int64_t> SdLoraExtension::SelectedChannels(const std::string& a_log_key) const {
  auto it = by_key_.find(a_log_key);
  if (it == by_key_.end()) return {};
  return directions_[it->second].channels;
}

}  // namespace peft
}  // namespace peftsearch
