#include "worker/model/mamba_layers.h"

#include "kernels/causal_conv1d_op.h"
#include "kernels/selective_scan_op.h"

namespace peftsearch {
namespace model {

using torch::Tensor;

Tensor RmsNorm(const Tensor& x, const Tensor& weight, double eps) {
  Tensor xf = x.to(torch::kFloat);
  Tensor y = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight;
  return y.to(x.scalar_type());
}

Tensor DropPath(const Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  const double keep = 1.0 - p;
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  Tensor mask = torch::empty(shape, x.options()).bernoulli_(keep).div_(keep);
  return x * mask;
}

WeightsImpl::WeightsImpl(std::vector<int64_t> weight_shape, std::vector<int64_t> bias_shape) {
  weight = register_parameter("weight", torch::empty(weight_shape));
  if (!bias_shape.empty()) bias = register_parameter("bias", torch::empty(bias_shape));
}

MambaMixerImpl::MambaMixerImpl(const MixerOptions& o) : options_(o) {
  TORCH_CHECK(o.d_model > 0 && o.dt_rank > 0, "MixerOptions: d_model and dt_rank must be > 0");
  const int64_t d = o.expand * o.d_model, N = o.d_state, r = o.dt_rank, K = o.d_conv;
  // Registration order = official state_dict order: own tensors, then children.
  A_log = register_parameter("A_log", torch::empty({d, N}));
  D = register_parameter("D", torch::empty({d}));
  if (o.bidirectional) {
    A_b_log = register_parameter("A_b_log", torch::empty({d, N}));
    D_b = register_parameter("D_b", torch::empty({d}));
  }
  in_proj = register_module("in_proj", Weights(std::vector<int64_t>{2 * d, o.d_model},
                                               std::vector<int64_t>{}));
  conv1d = register_module("conv1d", Weights(std::vector<int64_t>{d, 1, K},
                                             std::vector<int64_t>{d}));
  x_proj = register_module("x_proj", Weights(std::vector<int64_t>{r + 2 * N, d},
                                             std::vector<int64_t>{}));
  dt_proj = register_module("dt_proj", Weights(std::vector<int64_t>{d, r},
                                               std::vector<int64_t>{d}));
  if (o.bidirectional) {
    conv1d_b = register_module("conv1d_b", Weights(std::vector<int64_t>{d, 1, K},
                                                   std::vector<int64_t>{d}));
    x_proj_b = register_module("x_proj_b", Weights(std::vector<int64_t>{r + 2 * N, d},
                                                   std::vector<int64_t>{}));
    dt_proj_b = register_module("dt_proj_b", Weights(std::vector<int64_t>{d, r},
                                                     std::vector<int64_t>{d}));
  }
  out_proj = register_module("out_proj", Weights(std::vector<int64_t>{o.d_model, d},
                                                  std::vector<int64_t>{}));
  const std::string& p = o.key_prefix;
  fwd_names_ = {p + "conv1d.weight",  p + "conv1d.bias", p + "x_proj.weight",
                p + "dt_proj.weight", p + "dt_proj.bias", p + "A_log", p + "D"};
  bwd_names_ = {p + "conv1d_b.weight",  p + "conv1d_b.bias", p + "x_proj_b.weight",
                p + "dt_proj_b.weight", p + "dt_proj_b.bias", p + "A_b_log", p + "D_b"};
  in_proj_name_ = p + "in_proj.weight";
  out_proj_name_ = p + "out_proj.weight";
}

// x [B, Cin, L] -> W x: [B, Cout, L]. On CPU a 1x1 conv1d, which LibTorch
// runs on oneDNN: Debian's LibTorch links the reference (netlib) BLAS, whose
// sgemm made matmul/linear 16x slower in CPU time than oneDNN here (in_proj of
// Vim-T, batch 8: 206 vs 13 CPU-ms fwd+bwd; docs/BENCHMARKS.md (model)). Elsewhere
// (CUDA) a matmul.
namespace {
Tensor ProjectChannels(const Tensor& x, const Tensor& w) {
  if (x.device().is_cpu() && x.scalar_type() == torch::kFloat) {
    return torch::conv1d(x, w.unsqueeze(-1));
  }
  return torch::matmul(w, x);
}
}  // namespace

// mamba_inner_fn_no_out_proj for one direction: xz [B, 2d, L] -> [B, d, L]
// (already gated by silu(z) and including the D skip).
Tensor MambaMixerImpl::RunBranch(const Tensor& xz, bool backward, VimExtension* ext) {
  const BranchNames& n = backward ? bwd_names_ : fwd_names_;
  Weights& conv = backward ? conv1d_b : conv1d;
  Weights& xp = backward ? x_proj_b : x_proj;
  Weights& dtp = backward ? dt_proj_b : dt_proj;
  const Tensor& a_log = backward ? A_b_log : A_log;
  const Tensor& skip = backward ? D_b : D;

  const int64_t d = xz.size(1) / 2, L = xz.size(2), r = options_.dt_rank;
  Tensor conv_w = EffectiveParam(ext, n.conv_w, conv->weight);
  Tensor conv_b = EffectiveParam(ext, n.conv_b, conv->bias);
  Tensor x_proj_w = EffectiveParam(ext, n.x_proj_w, xp->weight);
  Tensor dt_w = EffectiveParam(ext, n.dt_proj_w, dtp->weight);
  Tensor dt_b = EffectiveParam(ext, n.dt_proj_b, dtp->bias);
  Tensor A_log_eff = EffectiveParam(ext, n.A_log, a_log);
  Tensor D_eff = EffectiveParam(ext, n.D, skip);

  const int64_t N = A_log_eff.size(1);  // N + k under Additional-scan
  TORCH_CHECK(A_log_eff.dim() == 2 && A_log_eff.size(0) == d, n.A_log, " has shape ",
              A_log_eff.sizes(), ", expected [", d, ", N']");
  TORCH_CHECK(x_proj_w.dim() == 2 && x_proj_w.size(0) == r + 2 * N && x_proj_w.size(1) == d,
              n.x_proj_w, " has shape ", x_proj_w.sizes(), ", expected [", r + 2 * N, ", ", d,
              "] for d_state ", N, " (from ", n.A_log, ")");
  TORCH_CHECK(conv_w.sizes() == conv->weight.sizes(), n.conv_w, " has shape ", conv_w.sizes(),
              ", expected ", conv->weight.sizes());
  TORCH_CHECK(dt_w.sizes() == dtp->weight.sizes(), n.dt_proj_w, " has shape ", dt_w.sizes(),
              ", expected ", dtp->weight.sizes());

  Tensor x = xz.narrow(1, 0, d);
  Tensor z = xz.narrow(1, d, d);
  // silu(causal depthwise conv) = silu(Conv1d(padding=K-1)(x)[..., :L]); the
  // fused CPU kernel (no padded copy, SiLU in place) took a Vim-T batch-8
  // fwd+bwd step from 1.89 to 1.77 CPU-s and 1467 to 1237 MB peak RSS.
  Tensor u = xz.device().is_cpu()
                 ? kernels::CausalConv1d(x, conv_w, conv_b, /*silu=*/true)
                 : torch::silu(torch::conv1d(x, conv_w, conv_b, 1, conv_w.size(-1) - 1, 1, d)
                                   .narrow(2, 0, L));
  Tensor x_dbl = ProjectChannels(u, x_proj_w);  // [B, r + 2N, L]
  Tensor Bm = x_dbl.narrow(1, r, N);            // [B, N, L]
  Tensor Cm = x_dbl.narrow(1, r + N, N);        // [B, N, L]
  // The dt_proj bias goes to the scan as delta_bias, not into this product.
  Tensor delta = ProjectChannels(x_dbl.narrow(1, 0, r), dt_w);  // [B, d, L]
  Tensor A = -torch::exp(A_log_eff.to(torch::kFloat));
  return kernels::SelectiveScan(u, delta, A, Bm, Cm, D_eff.to(torch::kFloat), z,
                                dt_b.to(torch::kFloat), /*delta_softplus=*/true);
}

namespace {

// Concatenates [B, T, C] affix tokens around xz [B, C, L] along L.
Tensor CatTokens(const Tensor& prefix, const Tensor& xz, const Tensor& suffix) {
  std::vector<Tensor> parts;
  if (prefix.defined()) parts.push_back(prefix.transpose(1, 2));
  parts.push_back(xz);
  if (suffix.defined()) parts.push_back(suffix.transpose(1, 2));
  return parts.size() == 1 ? xz : torch::cat(parts, 2);
}

int64_t Tokens(const Tensor& t) { return t.defined() ? t.size(1) : 0; }

}  // namespace

Tensor MambaMixerImpl::forward(const Tensor& h, VimExtension* ext) {
  const int64_t L = h.size(1);
  // Channel-major inside the mixer ([B, C, L]), the layout of the conv and the scan.
  Tensor xz = ProjectChannels(h.transpose(1, 2), EffectiveParam(ext, in_proj_name_, in_proj->weight));
  XzAffix affix;
  if (ext != nullptr) {
    Tensor delta = ext->InProjDelta(options_.layer, h);
    if (delta.defined()) xz = xz + delta.transpose(1, 2);
    affix = ext->Affix(options_.layer, xz.transpose(1, 2));
  }
  Tensor xz_f = CatTokens(affix.forward_prefix, xz, affix.forward_suffix);
  Tensor y = RunBranch(xz_f, false, ext).narrow(2, Tokens(affix.forward_prefix), L);
  if (options_.bidirectional) {
    Tensor xz_b = CatTokens(affix.backward_prefix, xz.flip(2), affix.backward_suffix);
    Tensor y_b = RunBranch(xz_b, true, ext).narrow(2, Tokens(affix.backward_prefix), L);
    y = y + y_b.flip(2);
    if (options_.divide_out) y = y / 2;
  }
  // y: [B, d, L]
  Tensor out = ProjectChannels(y, EffectiveParam(ext, out_proj_name_, out_proj->weight))
                   .transpose(1, 2);  // [B, L, D]
  if (ext != nullptr) {
    Tensor delta = ext->OutProjDelta(options_.layer, y.transpose(1, 2));
    if (delta.defined()) out = out + delta;
  }
  return out;
}

MambaBlockImpl::MambaBlockImpl(MixerOptions mixer_options, double norm_eps, double drop_path,
                               const std::string& key_prefix)
    : norm_eps_(norm_eps), drop_path_(drop_path), norm_name_(key_prefix + "norm.weight") {
  mixer_options.key_prefix = key_prefix + "mixer.";
  // Registration order of mamba_ssm's Block: mixer, then norm.
  mixer = register_module("mixer", MambaMixer(mixer_options));
  norm = register_module("norm", Weights(std::vector<int64_t>{mixer_options.d_model},
                                         std::vector<int64_t>{}));
}

std::pair<Tensor, Tensor> MambaBlockImpl::forward(const Tensor& hidden, const Tensor& residual,
                                                  VimExtension* ext) {
  // residual_in_fp32: the residual stream is kept in float32.
  Tensor res = residual.defined() ? residual + DropPath(hidden, drop_path_, is_training())
                                  : hidden.to(torch::kFloat);
  Tensor h = RmsNorm(res, EffectiveParam(ext, norm_name_, norm->weight), norm_eps_);
  return {mixer->forward(h, ext), res};
}

}  // namespace model
}  // namespace peftsearch
