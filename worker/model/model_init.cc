#include "worker/model/model_init.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace peftsearch {
namespace model {
namespace {

using torch::Tensor;

// Normal resampled into [-2 std, 2 std] (timm trunc_normal_ with a = -2std, b = 2std).
void TruncNormal(Tensor t, double std, at::Generator& gen) {
  Tensor n = torch::empty_like(t).normal_(0.0, std, gen);
  for (int i = 0; i < 8; ++i) {
    Tensor out = n.abs() > 2 * std;
    if (!out.any().item<bool>()) break;
    n = torch::where(out, torch::empty_like(n).normal_(0.0, std, gen), n);
  }
  t.copy_(n.clamp(-2 * std, 2 * std));
}

// nn.Linear / nn.Conv default: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)).
void DefaultUniform(Tensor t, int64_t fan_in, at::Generator& gen, double scale = 1.0) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  t.uniform_(-bound, bound, gen).mul_(scale);
}

void InitMixer(MambaMixerImpl* m, double out_scale, bool zero_backward_dt_bias,
               at::Generator& gen) {
  const MixerOptions& o = m->options();
  const int64_t d = o.expand * o.d_model, N = o.d_state, r = o.dt_rank;
  Tensor a_log = torch::log(torch::arange(1, N + 1, torch::kFloat)).unsqueeze(0).expand({d, N});
  auto init_branch = [&](Tensor A_log, Tensor D, Weights& conv, Weights& xp, Weights& dtp,
                         bool zero_bias) {
    A_log.copy_(a_log);
    D.fill_(1.0);
    DefaultUniform(conv->weight, o.d_conv, gen);  // fan_in = in/groups * k = d_conv
    DefaultUniform(conv->bias, o.d_conv, gen);
    DefaultUniform(xp->weight, d, gen);
    const double std = std::pow(static_cast<double>(r), -0.5);
    dtp->weight.uniform_(-std, std, gen);
    if (zero_bias) {
      dtp->bias.zero_();
    } else {
      // dt = exp(U * (log 0.1 - log 1e-3) + log 1e-3) >= 1e-4; bias = dt + log(-expm1(-dt)).
      Tensor dt = torch::exp(torch::empty({d}).uniform_(0, 1, gen) *
                                 (std::log(0.1) - std::log(1e-3)) +
                             std::log(1e-3))
                      .clamp_min(1e-4);
      dtp->bias.copy_(dt + torch::log(-torch::expm1(-dt)));
    }
  };
  init_branch(m->A_log, m->D, m->conv1d, m->x_proj, m->dt_proj, false);
  if (o.bidirectional) {
    init_branch(m->A_b_log, m->D_b, m->conv1d_b, m->x_proj_b, m->dt_proj_b,
                zero_backward_dt_bias);
  }
  DefaultUniform(m->in_proj->weight, o.d_model, gen);
  DefaultUniform(m->out_proj->weight, d, gen, out_scale);
}

}  // namespace

void InitVim(VisionMambaImpl* model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const VimConfig& c = model->config();
  TruncNormal(model->cls_token, 0.02, gen);
  TruncNormal(model->pos_embed, 0.02, gen);
  const int64_t fan_in = c.in_chans * c.patch_size * c.patch_size;
  TruncNormal(model->patch_embed_proj->weight, std::sqrt(1.0 / fan_in), gen);  // lecun normal
  model->patch_embed_proj->bias.zero_();
  if (!model->head.is_empty()) {
    TruncNormal(model->head->weight, 0.02, gen);
    model->head->bias.zero_();
  }
  const double out_scale = 1.0 / std::sqrt(static_cast<double>(c.depth));
  for (const auto& layer : *model->layers) {
    auto* block = layer->as<MambaBlockImpl>();
    InitMixer(block->mixer.get(), out_scale, /*zero_backward_dt_bias=*/true, gen);
    block->norm->weight.fill_(1.0);
  }
  model->norm_f->weight.fill_(1.0);
}

void InitMambaLM(MambaLMImpl* model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const MambaLMConfig& c = model->config();
  model->embedding->weight.normal_(0.0, 0.02, gen);
  const double out_scale = 1.0 / std::sqrt(static_cast<double>(c.n_layer));
  for (const auto& layer : *model->layers) {
    auto* block = layer->as<MambaBlockImpl>();
    InitMixer(block->mixer.get(), out_scale, false, gen);
    block->norm->weight.fill_(1.0);
  }
  model->norm_f->weight.fill_(1.0);
}

}  // namespace model
}  // namespace peftsearch
