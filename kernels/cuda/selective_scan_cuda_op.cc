#include "kernels/cuda/selective_scan_cuda_op.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include <vector>

#include "kernels/cuda/selective_scan_cuda.h"

namespace peftsearch {
namespace kernels {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int kInputsPerDirection = 8;  // u, delta, A, B, C, D, z, delta_bias

cuda::ScanDtype DtypeOf(const Tensor& t) {
  return t.scalar_type() == torch::kBFloat16 ? cuda::ScanDtype::kBFloat16
                                             : cuda::ScanDtype::kFloat32;
}

void CheckCuda(cudaError_t err, const char* what) {
  TORCH_CHECK(err == cudaSuccess, what, " (CUDA): ", cudaGetErrorString(err));
}

cudaStream_t CurrentStream(const Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
}

void CheckInputs(const ScanInputs& in, const char* which) {
  const Tensor& u = in.u;
  TORCH_CHECK(u.defined() && u.dim() == 3, which, ": u must be [batch, dim, L]");
  TORCH_CHECK(u.is_cuda(), which, ": u must be a CUDA tensor");
  TORCH_CHECK(u.scalar_type() == torch::kFloat || u.scalar_type() == torch::kBFloat16, which,
              ": u must be float32 or bfloat16, got ", u.scalar_type());
  const int64_t batch = u.size(0), dim = u.size(1), L = u.size(2);
  TORCH_CHECK(in.A.defined() && in.A.dim() == 2 && in.A.size(0) == dim, which,
              ": A must be [dim, N] with dim ", dim);
  const int64_t N = in.A.size(1);
  TORCH_CHECK(N >= 1 && N <= cuda::kScanMaxDState, which, ": d_state (A.size(1)) is ", N,
              ", the CUDA kernel takes 1..", cuda::kScanMaxDState);
  auto check = [&](const Tensor& t, const char* name, std::vector<int64_t> shape) {
    TORCH_CHECK(t.defined(), which, ": ", name, " is required");
    TORCH_CHECK(t.device() == u.device(), which, ": ", name, " is on ", t.device(),
                ", u on ", u.device());
    TORCH_CHECK(t.is_floating_point(), which, ": ", name, " must be floating point");
    TORCH_CHECK(t.sizes() == c10::IntArrayRef(shape), which, ": ", name, " has shape ",
                t.sizes(), ", expected ", c10::IntArrayRef(shape));
  };
  check(in.delta, "delta", {batch, dim, L});
  check(in.A, "A", {dim, N});
  check(in.B, "B", {batch, N, L});
  check(in.C, "C", {batch, N, L});
  if (in.D.defined()) check(in.D, "D", {dim});
  if (in.z.defined()) check(in.z, "z", {batch, dim, L});
  if (in.delta_bias.defined()) check(in.delta_bias, "delta_bias", {dim});
}

// [batch, N, L] -> [batch, L, N] with state stride 1 (see selective_scan_op.cc).
Tensor TimeMajor(const Tensor& bc) {
  Tensor t = bc.transpose(1, 2);
  return t.stride(2) == 1 ? t : t.contiguous();
}

// An empty tensor stands for an absent optional input (LibTorch 1.13's
// autograd Function takes no undefined tensors).
Tensor Present(const Tensor& t) { return t.defined() && t.numel() > 0 ? t : Tensor(); }
Tensor Placeholder(const Tensor& t, const Tensor& like) {
  return t.defined() ? t : torch::empty({0}, like.options());
}

// The kernel's view of one direction: u's dtype for the streamed tensors,
// float32 for the per-channel ones, time stride 1.
ScanInputs Prepare(const ScanInputs& in) {
  const auto st = in.u.scalar_type();
  auto streamed = [&](const Tensor& t) { return t.to(st).contiguous(); };
  auto channel = [](const Tensor& t) {
    return t.defined() ? t.to(torch::kFloat).contiguous() : Tensor();
  };
  ScanInputs p;
  p.u = in.u.contiguous();
  p.delta = streamed(in.delta);
  p.A = channel(in.A);
  p.B = TimeMajor(in.B.to(st));  // [batch, L, N] from here on
  p.C = TimeMajor(in.C.to(st));
  p.D = channel(Present(in.D));
  p.z = Present(in.z).defined() ? streamed(in.z) : Tensor();
  p.delta_bias = channel(Present(in.delta_bias));
  return p;
}

void FillParams(SelectiveScanParams* p, const ScanInputs& x, bool softplus) {
  p->batch = x.u.size(0);
  p->dim = x.u.size(1);
  p->seqlen = x.u.size(2);
  p->dstate = x.A.size(1);
  p->delta_softplus = softplus;
  p->u_batch_stride = x.u.stride(0);
  p->u_dim_stride = x.u.stride(1);
  p->delta_batch_stride = x.delta.stride(0);
  p->delta_dim_stride = x.delta.stride(1);
  p->A_dim_stride = x.A.stride(0);
  p->B_batch_stride = x.B.stride(0);
  p->B_time_stride = x.B.stride(1);
  p->C_batch_stride = x.C.stride(0);
  p->C_time_stride = x.C.stride(1);
  p->u_ptr = x.u.data_ptr();
  p->delta_ptr = x.delta.data_ptr();
  p->A_ptr = x.A.data_ptr();
  p->B_ptr = x.B.data_ptr();
  p->C_ptr = x.C.data_ptr();
  p->D_ptr = x.D.defined() ? x.D.data_ptr() : nullptr;
  p->delta_bias_ptr = x.delta_bias.defined() ? x.delta_bias.data_ptr() : nullptr;
  if (x.z.defined()) {
    p->z_batch_stride = x.z.stride(0);
    p->z_dim_stride = x.z.stride(1);
    p->z_ptr = x.z.data_ptr();
  }
}

std::vector<Tensor> RunForward(const std::vector<ScanInputs>& dirs, bool softplus,
                               bool reverse_second) {
  const c10::cuda::CUDAGuard guard(dirs[0].u.device());
  cuda::ScanFwdLaunch launch;
  launch.ndirections = static_cast<int>(dirs.size());
  launch.reverse[1] = reverse_second;
  launch.dtype = DtypeOf(dirs[0].u);
  std::vector<Tensor> outs;
  for (size_t i = 0; i < dirs.size(); ++i) {
    Tensor out = torch::empty_like(dirs[i].u);
    SelectiveScanParams& p = launch.dir[i];
    FillParams(&p, dirs[i], softplus);
    p.out_batch_stride = out.stride(0);
    p.out_dim_stride = out.stride(1);
    p.out_ptr = out.data_ptr();
    outs.push_back(out);
  }
  CheckCuda(cuda::SelectiveScanFwdCuda(launch, CurrentStream(dirs[0].u)), "selective_scan fwd");
  return outs;
}

// Gradients of each direction, in the order of ScanInputs' fields (B and C
// as [batch, N, L]); undefined for absent optional inputs.
std::vector<variable_list> RunBackward(const std::vector<ScanInputs>& dirs,
                                       const std::vector<Tensor>& douts, bool softplus,
                                       bool reverse_second) {
  const c10::cuda::CUDAGuard guard(dirs[0].u.device());
  cuda::ScanBwdLaunch launch;
  launch.ndirections = static_cast<int>(dirs.size());
  launch.reverse[1] = reverse_second;
  launch.dtype = DtypeOf(dirs[0].u);
  struct Buffers {
    Tensor dout, du, ddelta, dz, dA, dB, dC, dD, dbias;
  };
  std::vector<Buffers> bufs(dirs.size());
  for (size_t i = 0; i < dirs.size(); ++i) {
    const ScanInputs& x = dirs[i];
    const int64_t batch = x.u.size(0), dim = x.u.size(1), L = x.u.size(2), N = x.A.size(1);
    const int64_t nblk = (dim + cuda::kScanDimBlock - 1) / cuda::kScanDimBlock;
    const auto f32 = x.u.options().dtype(torch::kFloat);
    Buffers& b = bufs[i];
    b.dout = douts[i].defined() ? douts[i].to(x.u.scalar_type()).contiguous()
                                : torch::zeros_like(x.u);
    b.du = torch::empty_like(x.u);
    b.ddelta = torch::empty_like(x.u);
    if (x.z.defined()) b.dz = torch::empty_like(x.u);
    b.dA = torch::empty({batch, dim, N}, f32);
    b.dB = torch::empty({batch, nblk, L, N}, f32);
    b.dC = torch::empty({batch, nblk, L, N}, f32);
    b.dD = torch::empty({batch, dim}, f32);
    b.dbias = torch::empty({batch, dim}, f32);
    SelectiveScanBwdParams& p = launch.dir[i];
    FillParams(&p, x, softplus);
    p.dout_batch_stride = b.dout.stride(0);
    p.dout_dim_stride = b.dout.stride(1);
    p.dout_ptr = b.dout.data_ptr();
    p.du_ptr = b.du.data_ptr();
    p.ddelta_ptr = b.ddelta.data_ptr();
    p.dz_ptr = b.dz.defined() ? b.dz.data_ptr() : nullptr;
    p.dA_part_ptr = b.dA.data_ptr();
    p.dB_part_ptr = b.dB.data_ptr();
    p.dC_part_ptr = b.dC.data_ptr();
    p.dD_part_ptr = b.dD.data_ptr();
    p.ddelta_bias_part_ptr = b.dbias.data_ptr();
  }
  const size_t bytes = cuda::ScanBwdWorkspaceBytes(launch);
  Tensor workspace = torch::empty({static_cast<int64_t>((bytes + 3) / 4)},
                                  dirs[0].u.options().dtype(torch::kFloat));
  launch.workspace = workspace.data_ptr();
  CheckCuda(cuda::SelectiveScanBwdCuda(launch, CurrentStream(dirs[0].u)), "selective_scan bwd");

  std::vector<variable_list> grads;
  for (size_t i = 0; i < dirs.size(); ++i) {
    const ScanInputs& x = dirs[i];
    Buffers& b = bufs[i];
    const auto st = x.u.scalar_type();
    grads.push_back({b.du, b.ddelta, b.dA.sum(0), b.dB.sum(1).transpose(1, 2).to(st),
                     b.dC.sum(1).transpose(1, 2).to(st),
                     x.D.defined() ? b.dD.sum(0) : Tensor(), b.dz,
                     x.delta_bias.defined() ? b.dbias.sum(0) : Tensor()});
  }
  return grads;
}

// Saves a direction's prepared inputs (placeholders for absent ones).
void Save(std::vector<Tensor>* saved, const ScanInputs& x) {
  for (const Tensor& t : {x.u, x.delta, x.A, x.B, x.C, Placeholder(x.D, x.u),
                          Placeholder(x.z, x.u), Placeholder(x.delta_bias, x.u)}) {
    saved->push_back(t);
  }
}
ScanInputs Restore(const variable_list& saved, size_t first) {
  ScanInputs x;
  x.u = saved[first];
  x.delta = saved[first + 1];
  x.A = saved[first + 2];
  x.B = saved[first + 3];
  x.C = saved[first + 4];
  x.D = Present(saved[first + 5]);
  x.z = Present(saved[first + 6]);
  x.delta_bias = Present(saved[first + 7]);
  return x;
}

class ScanCudaFunction : public torch::autograd::Function<ScanCudaFunction> {
 public:
  static Tensor forward(AutogradContext* ctx, Tensor u, Tensor delta, Tensor A, Tensor B,
                        Tensor C, Tensor D, Tensor z, Tensor delta_bias, bool softplus) {
    const ScanInputs x = Prepare({u, delta, A, B, C, D, z, delta_bias});
    Tensor out = RunForward({x}, softplus, false)[0];
    std::vector<Tensor> saved;
    Save(&saved, x);
    ctx->save_for_backward(saved);
    ctx->saved_data["softplus"] = softplus;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const ScanInputs x = Restore(ctx->get_saved_variables(), 0);
    variable_list g =
        RunBackward({x}, {grads[0]}, ctx->saved_data["softplus"].toBool(), false)[0];
    g.push_back(Tensor());  // softplus
    return g;
  }
};

class ScanCudaPairFunction : public torch::autograd::Function<ScanCudaPairFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, Tensor u1, Tensor delta1, Tensor A1,
                               Tensor B1, Tensor C1, Tensor D1, Tensor z1, Tensor bias1,
                               Tensor u2, Tensor delta2, Tensor A2, Tensor B2, Tensor C2,
                               Tensor D2, Tensor z2, Tensor bias2, bool softplus,
                               bool reverse_second) {
    const ScanInputs x1 = Prepare({u1, delta1, A1, B1, C1, D1, z1, bias1});
    const ScanInputs x2 = Prepare({u2, delta2, A2, B2, C2, D2, z2, bias2});
    std::vector<Tensor> outs = RunForward({x1, x2}, softplus, reverse_second);
    std::vector<Tensor> saved;
    Save(&saved, x1);
    Save(&saved, x2);
    ctx->save_for_backward(saved);
    ctx->saved_data["softplus"] = softplus;
    ctx->saved_data["reverse_second"] = reverse_second;
    return {outs[0], outs[1]};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    std::vector<variable_list> g =
        RunBackward({Restore(saved, 0), Restore(saved, kInputsPerDirection)},
                    {grads[0], grads[1]}, ctx->saved_data["softplus"].toBool(),
                    ctx->saved_data["reverse_second"].toBool());
    variable_list all = g[0];
    all.insert(all.end(), g[1].begin(), g[1].end());
    all.push_back(Tensor());  // softplus
    all.push_back(Tensor());  // reverse_second
    return all;
  }
};

class ConvCudaFunction : public torch::autograd::Function<ConvCudaFunction> {
 public:
  // bias: an empty tensor stands for "no bias".
  static Tensor forward(AutogradContext* ctx, Tensor x, Tensor w2d, Tensor bias, bool silu) {
    const c10::cuda::CUDAGuard guard(x.device());
    x = x.stride(2) == 1 ? x : x.contiguous();
    w2d = w2d.to(torch::kFloat).contiguous();
    bias = bias.to(torch::kFloat).contiguous();
    Tensor out = torch::empty(x.sizes(), x.options());
    CausalConv1dParams p;
    FillConv(&p, x, w2d, bias, silu);
    p.out_batch_stride = out.stride(0);
    p.out_channel_stride = out.stride(1);
    p.out_ptr = out.data_ptr();
    CheckCuda(cuda::CausalConv1dFwdCuda(p, DtypeOf(x), CurrentStream(x)), "causal_conv1d fwd");
    ctx->save_for_backward({x, w2d, bias});
    ctx->saved_data["silu"] = silu;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const Tensor &x = saved[0], &w2d = saved[1], &bias = saved[2];
    const c10::cuda::CUDAGuard guard(x.device());
    Tensor dout = grads[0].to(x.scalar_type()).contiguous();
    const int64_t B = x.size(0), C = x.size(1), K = w2d.size(1);
    const auto f32 = x.options().dtype(torch::kFloat);
    Tensor dx = torch::empty({B, C, x.size(2)}, x.options());
    Tensor dw_part = torch::empty({B, C, K}, f32);
    Tensor dbias_part = torch::empty({B, C}, f32);
    CausalConv1dBwdParams p;
    FillConv(&p, x, w2d, bias, ctx->saved_data["silu"].toBool());
    p.dout_batch_stride = dout.stride(0);
    p.dout_channel_stride = dout.stride(1);
    p.dout_ptr = dout.data_ptr();
    p.dx_ptr = dx.data_ptr();
    p.dw_part_ptr = dw_part.data_ptr();
    p.dbias_part_ptr = dbias_part.data_ptr();
    CheckCuda(cuda::CausalConv1dBwdCuda(p, DtypeOf(x), CurrentStream(x)), "causal_conv1d bwd");
    Tensor dbias = bias.numel() > 0 ? dbias_part.sum(0) : Tensor();
    return {dx, dw_part.sum(0), dbias, Tensor()};
  }

 private:
  static void FillConv(CausalConv1dParams* p, const Tensor& x, const Tensor& w,
                       const Tensor& bias, bool silu) {
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
};

}  // namespace

Tensor SelectiveScanCuda(const ScanInputs& in, bool delta_softplus) {
  CheckInputs(in, "selective_scan (CUDA)");
  const Tensor& u = in.u;
  return ScanCudaFunction::apply(u, in.delta, in.A, in.B, in.C, Placeholder(in.D, u),
                                 Placeholder(in.z, u), Placeholder(in.delta_bias, u),
                                 delta_softplus);
}

std::pair<Tensor, Tensor> SelectiveScanCudaPair(const ScanInputs& first, const ScanInputs& second,
                                                bool delta_softplus, bool reverse_second) {
  CheckInputs(first, "selective_scan pair (CUDA), first direction");
  CheckInputs(second, "selective_scan pair (CUDA), second direction");
  TORCH_CHECK(first.u.sizes() == second.u.sizes() && first.A.sizes() == second.A.sizes() &&
                  first.u.scalar_type() == second.u.scalar_type() &&
                  first.u.device() == second.u.device(),
              "selective_scan pair (CUDA): the directions differ in shape, dtype or device (u ",
              first.u.sizes(), " vs ", second.u.sizes(), ", A ", first.A.sizes(), " vs ",
              second.A.sizes(), ")");
  const Tensor &u1 = first.u, &u2 = second.u;
  variable_list outs = ScanCudaPairFunction::apply(
      u1, first.delta, first.A, first.B, first.C, Placeholder(first.D, u1),
      Placeholder(first.z, u1), Placeholder(first.delta_bias, u1), u2, second.delta, second.A,
      second.B, second.C, Placeholder(second.D, u2), Placeholder(second.z, u2),
      Placeholder(second.delta_bias, u2), delta_softplus, reverse_second);
  return {outs[0], outs[1]};
}

Tensor CausalConv1dCuda(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu) {
  TORCH_CHECK(x.defined() && x.dim() == 3 && x.is_cuda(),
              "causal_conv1d (CUDA): x must be a CUDA tensor [batch, channels, L]");
  TORCH_CHECK(x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kBFloat16,
              "causal_conv1d (CUDA): x must be float32 or bfloat16, got ", x.scalar_type());
  const int64_t C = x.size(1);
  TORCH_CHECK(weight.defined() && weight.device() == x.device() &&
                  ((weight.dim() == 3 && weight.size(0) == C && weight.size(1) == 1) ||
                   (weight.dim() == 2 && weight.size(0) == C)),
              "causal_conv1d (CUDA): weight has shape ", weight.sizes(), ", expected [", C,
              ", 1, K] or [", C, ", K] on ", x.device());
  Tensor w2d = weight.dim() == 3 ? weight.squeeze(1) : weight;
  TORCH_CHECK(w2d.size(1) >= 1 && w2d.size(1) <= cuda::kConvMaxWidth,
              "causal_conv1d (CUDA): width ", w2d.size(1), " outside 1..", cuda::kConvMaxWidth);
  Tensor b = bias;
  if (b.defined()) {
    TORCH_CHECK(b.dim() == 1 && b.size(0) == C && b.device() == x.device(),
                "causal_conv1d (CUDA): bias has shape ", b.sizes(), ", expected [", C, "] on ",
                x.device());
  } else {
    b = torch::empty({0}, x.options().dtype(torch::kFloat));
  }
  return ConvCudaFunction::apply(x, w2d, b, silu);
}

}  // namespace kernels
}  // namespace peftsearch
