#include "kernels/causal_conv1d_op.h"

#include "kernels/causal_conv1d.h"
#ifdef PEFTSEARCH_WITH_CUDA
#include "kernels/cuda/selective_scan_cuda_op.h"
#endif

namespace peftsearch {
namespace kernels {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

Tensor TimeContiguous(const Tensor& x) { return x.stride(2) == 1 ? x : x.contiguous(); }

void Fill(CausalConv1dParams* p, const Tensor& x, const Tensor& w, const Tensor& bias,
          bool silu) {
  p->batch = x.size(0);
  p->channels = x.size(1);
  p->seqlen = x.size(2);
  p->width = w.size(1);
  p->silu = silu;
  p->x_batch_stride = x.stride(0);
  p->x_channel_stride = x.stride(1);
  p->x_ptr = x.data_ptr();
  p->w_ptr = w.data_ptr();
  p->bias_ptr = bias.numel() > 0 ? bias.data_ptr() : nullptr;
}

class CausalConv1dFunction : public torch::autograd::Function<CausalConv1dFunction> {
 public:
  // bias: an empty tensor stands for "no bias" (LibTorch 1.13's autograd
  // Function cannot take undefined tensors).
  static Tensor forward(AutogradContext* ctx, Tensor x, Tensor w2d, Tensor bias, bool silu) {
    x = TimeContiguous(x);
    w2d = w2d.contiguous();
    bias = bias.contiguous();
    Tensor out = torch::empty(x.sizes(), x.options());
    CausalConv1dParams p;
    Fill(&p, x, w2d, bias, silu);
    p.out_batch_stride = out.stride(0);
    p.out_channel_stride = out.stride(1);
    p.out_ptr = out.data_ptr();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "causal_conv1d_fwd",
                               [&] { CausalConv1dFwdCpu<scalar_t>(p); });
    ctx->save_for_backward({x, w2d, bias});
    ctx->saved_data["silu"] = silu;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const Tensor &x = saved[0], &w2d = saved[1], &bias = saved[2];
    Tensor dout = TimeContiguous(grads[0]);
    const int64_t B = x.size(0), C = x.size(1), K = w2d.size(1);
    Tensor dx = torch::empty({B, C, x.size(2)}, x.options());
    Tensor dw_part = torch::empty({B, C, K}, x.options());
    Tensor dbias_part = torch::empty({B, C}, x.options());
    CausalConv1dBwdParams p;
    Fill(&p, x, w2d, bias, ctx->saved_data["silu"].toBool());
    p.dout_batch_stride = dout.stride(0);
    p.dout_channel_stride = dout.stride(1);
    p.dout_ptr = dout.data_ptr();
    p.dx_ptr = dx.data_ptr();
    p.dw_part_ptr = dw_part.data_ptr();
    p.dbias_part_ptr = dbias_part.data_ptr();
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "causal_conv1d_bwd",
                               [&] { CausalConv1dBwdCpu<scalar_t>(p); });
    Tensor dbias = bias.numel() > 0 ? dbias_part.sum(0) : Tensor();
    return {dx, dw_part.sum(0), dbias, Tensor()};
  }
};

}  // namespace

Tensor CausalConv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu) {
  TORCH_CHECK(x.defined() && x.dim() == 3, "causal_conv1d: x must be [batch, channels, L]");
  if (x.is_cuda()) {
#ifdef PEFTSEARCH_WITH_CUDA
    return CausalConv1dCuda(x, weight, bias, silu);
#else
    TORCH_CHECK(false,
                "causal_conv1d: x is a CUDA tensor but this build has no CUDA kernels "
                "(build with bazel --config=cuda, or tools/gpu_check)");
#endif
  }
  TORCH_CHECK(x.device().is_cpu(), "causal_conv1d: x is on ", x.device(),
              "; the fused kernel here takes CPU tensors");
  TORCH_CHECK(x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble,
              "causal_conv1d: x must be float32 or float64, got ", x.scalar_type());
  const int64_t C = x.size(1);
  TORCH_CHECK(weight.defined() && weight.scalar_type() == x.scalar_type() &&
                  ((weight.dim() == 3 && weight.size(0) == C && weight.size(1) == 1) ||
                   (weight.dim() == 2 && weight.size(0) == C)),
              "causal_conv1d: weight has shape ", weight.sizes(), " and dtype ",
              weight.scalar_type(), ", expected [", C, ", 1, K] or [", C, ", K] of ",
              x.scalar_type());
  Tensor w2d = weight.dim() == 3 ? weight.squeeze(1) : weight;
  Tensor b = bias;
  if (b.defined()) {
    TORCH_CHECK(b.scalar_type() == x.scalar_type() && b.dim() == 1 && b.size(0) == C,
                "causal_conv1d: bias has shape ", b.sizes(), ", expected [", C, "]");
  } else {
    b = torch::empty({0}, x.options());
  }
  return CausalConv1dFunction::apply(x, w2d, b, silu);
}

Tensor CausalConv1dRef(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu) {
  Tensor w3d = weight.dim() == 2 ? weight.unsqueeze(1) : weight;
  const int64_t K = w3d.size(-1), L = x.size(2);
  Tensor out = torch::conv1d(x, w3d, bias, 1, K - 1, 1, x.size(1)).narrow(2, 0, L);
  return silu ? torch::silu(out) : out;
}

}  // namespace kernels
}  // namespace peftsearch
