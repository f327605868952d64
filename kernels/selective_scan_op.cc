#include "kernels/selective_scan_op.h"

#include <ATen/Parallel.h>

#include <algorithm>

#include "kernels/selective_scan.h"
#ifdef PEFTSEARCH_WITH_CUDA
#include "kernels/cuda/selective_scan_cuda_op.h"
#endif

namespace peftsearch {
namespace kernels {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void CheckCommon(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                 const Tensor& C, const Tensor& D, const Tensor& z,
                 const Tensor& delta_bias) {
  TORCH_CHECK(u.defined() && u.dim() == 3, "selective_scan: u must be [batch, dim, L]");
  TORCH_CHECK(u.device().is_cpu(), "selective_scan: u is on ", u.device(),
              "; the fused kernel here takes CPU tensors");
  TORCH_CHECK(u.scalar_type() == torch::kFloat || u.scalar_type() == torch::kDouble,
              "selective_scan: u must be float32 or float64, got ", u.scalar_type());
  const auto st = u.scalar_type();
  const int64_t batch = u.size(0), dim = u.size(1), L = u.size(2);
  auto check = [&](const Tensor& t, const char* name, std::vector<int64_t> shape) {
    TORCH_CHECK(t.defined(), "selective_scan: ", name, " is required");
    TORCH_CHECK(t.device().is_cpu(), "selective_scan: ", name, " must be on CPU");
    TORCH_CHECK(t.scalar_type() == st, "selective_scan: ", name, " has dtype ",
                t.scalar_type(), ", expected ", st);
    TORCH_CHECK(t.sizes() == c10::IntArrayRef(shape), "selective_scan: ", name,
                " has shape ", t.sizes(), ", expected ", c10::IntArrayRef(shape));
  };
  check(delta, "delta", {batch, dim, L});
  TORCH_CHECK(A.defined() && A.dim() == 2, "selective_scan: A must be [dim, N]");
  const int64_t N = A.size(1);
  check(A, "A", {dim, N});
  check(B, "B", {batch, N, L});
  check(C, "C", {batch, N, L});
  if (D.defined()) check(D, "D", {dim});
  if (z.defined()) check(z, "z", {batch, dim, L});
  if (delta_bias.defined()) check(delta_bias, "delta_bias", {dim});
}

// [batch, N, L] -> [batch, L, N] with state stride 1: no copy for slices of
// x_proj's [batch, L, r + 2N] output, whose time stride is r + 2N.
Tensor TimeMajor(const Tensor& bc) {
  Tensor t = bc.transpose(1, 2);
  return t.stride(2) == 1 ? t : t.contiguous();
}

void FillForward(SelectiveScanParams* p, const Tensor& u, const Tensor& delta,
                 const Tensor& A, const Tensor& Bt, const Tensor& Ct, const Tensor& D,
                 const Tensor& z, const Tensor& delta_bias, bool softplus) {
  p->batch = u.size(0);
  p->dim = u.size(1);
  p->seqlen = u.size(2);
  p->dstate = A.size(1);
  p->delta_softplus = softplus;
  p->u_batch_stride = u.stride(0);
  p->u_dim_stride = u.stride(1);
  p->delta_batch_stride = delta.stride(0);
  p->delta_dim_stride = delta.stride(1);
  p->A_dim_stride = A.stride(0);
  p->B_batch_stride = Bt.stride(0);
  p->B_time_stride = Bt.stride(1);
  p->C_batch_stride = Ct.stride(0);
  p->C_time_stride = Ct.stride(1);
  p->u_ptr = u.data_ptr();
  p->delta_ptr = delta.data_ptr();
  p->A_ptr = A.data_ptr();
  p->B_ptr = Bt.data_ptr();
  p->C_ptr = Ct.data_ptr();
  p->D_ptr = D.defined() ? D.data_ptr() : nullptr;
  p->delta_bias_ptr = delta_bias.defined() ? delta_bias.data_ptr() : nullptr;
  if (z.defined()) {
    p->z_batch_stride = z.stride(0);
    p->z_dim_stride = z.stride(1);
    p->z_ptr = z.data_ptr();
  }
}

// LibTorch 1.13's autograd Function cannot take undefined tensors as inputs
// (VariableInfo needs a device), so optional inputs travel as empty tensors
// and become undefined again here.
Tensor Present(const Tensor& t) { return t.numel() > 0 ? t.contiguous() : Tensor(); }
Tensor Placeholder(const Tensor& t, const Tensor& like) {
  return t.defined() ? t : torch::empty({0}, like.options());
}

class SelectiveScanFunction : public torch::autograd::Function<SelectiveScanFunction> {
 public:
  static Tensor forward(AutogradContext* ctx, Tensor u, Tensor delta, Tensor A, Tensor B,
                        Tensor C, Tensor D, Tensor z, Tensor delta_bias, bool softplus) {
    u = u.contiguous();
    delta = delta.contiguous();
    A = A.contiguous();
    Tensor Bt = TimeMajor(B), Ct = TimeMajor(C);
    D = Present(D);
    z = Present(z);
    delta_bias = Present(delta_bias);
    Tensor out = torch::empty_like(u);
    SelectiveScanParams p;
    FillForward(&p, u, delta, A, Bt, Ct, D, z, delta_bias, softplus);
    p.out_batch_stride = out.stride(0);
    p.out_dim_stride = out.stride(1);
    p.out_ptr = out.data_ptr();
    AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "selective_scan_fwd",
                               [&] { SelectiveScanFwdCpu<scalar_t>(p); });
    ctx->save_for_backward({u, delta, A, Bt, Ct, Placeholder(D, u), Placeholder(z, u),
                            Placeholder(delta_bias, u)});
    ctx->saved_data["softplus"] = softplus;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const Tensor &u = saved[0], &delta = saved[1], &A = saved[2], &Bt = saved[3],
                 &Ct = saved[4];
    const Tensor D = Present(saved[5]), z = Present(saved[6]), delta_bias = Present(saved[7]);
    const bool softplus = ctx->saved_data["softplus"].toBool();
    Tensor dout = grads[0].contiguous();
    const int64_t batch = u.size(0), dim = u.size(1), L = u.size(2), N = A.size(1);

    // Enough channel blocks to keep every thread busy with a few tasks each,
    // few enough that the partial dB/dC buffers stay small.
    const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
    const int64_t want = std::max<int64_t>(1, (4 * threads + batch - 1) / batch);
    const int64_t nblk = std::min(dim, want);
    const int64_t bsize = (dim + nblk - 1) / nblk;
    const int64_t nblk_used = (dim + bsize - 1) / bsize;

    auto opts = u.options();
    Tensor du = torch::empty_like(u), ddelta = torch::empty_like(u);
    Tensor dz = z.defined() ? torch::empty_like(u) : Tensor();
    Tensor dA_part = torch::empty({batch, dim, N}, opts);
    Tensor dB_part = torch::empty({batch, nblk_used, L, N}, opts);
    Tensor dC_part = torch::empty({batch, nblk_used, L, N}, opts);
    Tensor dD_part = torch::zeros({batch, dim}, opts);
    Tensor dbias_part = torch::zeros({batch, dim}, opts);

    SelectiveScanBwdParams p;
    FillForward(&p, u, delta, A, Bt, Ct, D, z, delta_bias, softplus);
    p.dout_batch_stride = dout.stride(0);
    p.dout_dim_stride = dout.stride(1);
    p.dout_ptr = dout.data_ptr();
    p.dim_block_size = bsize;
    p.n_dim_blocks = nblk_used;
    p.du_ptr = du.data_ptr();
    p.ddelta_ptr = ddelta.data_ptr();
    p.dz_ptr = dz.defined() ? dz.data_ptr() : nullptr;
    p.dA_part_ptr = dA_part.data_ptr();
    p.dB_part_ptr = dB_part.data_ptr();
    p.dC_part_ptr = dC_part.data_ptr();
    p.dD_part_ptr = dD_part.data_ptr();
    p.ddelta_bias_part_ptr = dbias_part.data_ptr();
    AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "selective_scan_bwd",
                               [&] { SelectiveScanBwdCpu<scalar_t>(p); });

    Tensor dA = dA_part.sum(0);
    // [batch, L, N] -> caller's [batch, N, L] (a view; autograd accepts strides).
    Tensor dB = dB_part.sum(1).transpose(1, 2);
    Tensor dC = dC_part.sum(1).transpose(1, 2);
    Tensor dD = D.defined() ? dD_part.sum(0) : Tensor();
    Tensor dbias = delta_bias.defined() ? dbias_part.sum(0) : Tensor();
    return {du, ddelta, dA, dB, dC, dD, dz, dbias, Tensor()};
  }
};

}  // namespace

Tensor SelectiveScan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                     const Tensor& C, const Tensor& D, const Tensor& z,
                     const Tensor& delta_bias, bool delta_softplus) {
  if (u.defined() && u.is_cuda()) {
#ifdef PEFTSEARCH_WITH_CUDA
    return SelectiveScanCuda({u, delta, A, B, C, D, z, delta_bias}, delta_softplus);
#else
    TORCH_CHECK(false,
                "selective_scan: u is a CUDA tensor but this build has no CUDA kernels "
                "(build with bazel --config=cuda, or tools/gpu_check)");
#endif
  }
  CheckCommon(u, delta, A, B, C, D, z, delta_bias);
  return SelectiveScanFunction::apply(u, delta, A, B, C, Placeholder(D, u), Placeholder(z, u),
                                      Placeholder(delta_bias, u), delta_softplus);
}

}  // namespace kernels
}  // namespace peftsearch
