// LibTorch entry point of the selective scan: a custom autograd function whose
// forward and backward run the fused CPU kernels of selective_scan.h.
// Shapes follow mamba_ssm's selective_scan_fn:
//   u, delta, z: [batch, dim, L];  A: [dim, N];  B, C: [batch, N, L];
//   D, delta_bias: [dim].  Returns out: [batch, dim, L].
// D, z and delta_bias may be undefined tensors (feature off). B and C are read
// in [batch, L, N] order, so passing x_proj_out[..., r:r+N].transpose(1, 2)
// costs no copy. Float32 and float64 on CPU; other dtypes/devices fail a
// TORCH_CHECK naming the argument. CUDA tensors go to the CUDA kernels
// (kernels/cuda/selective_scan_cuda_op.h: float32/bfloat16) in a build with
// PEFTSEARCH_WITH_CUDA, and fail a TORCH_CHECK naming the build flag otherwise.
//
// Thread safety: reentrant; uses the ATen intra-op thread pool.
#ifndef PEFTSEARCH_KERNELS_SELECTIVE_SCAN_OP_H_
#define PEFTSEARCH_KERNELS_SELECTIVE_SCAN_OP_H_

#include <torch/torch.h>

namespace peftsearch {
namespace kernels {

torch::Tensor SelectiveScan(const torch::Tensor& u, const torch::Tensor& delta,
                            const torch::Tensor& A, const torch::Tensor& B,
                            const torch::Tensor& C, const torch::Tensor& D,
                            const torch::Tensor& z, const torch::Tensor& delta_bias,
                            bool delta_softplus);

}  // namespace kernels
}  // namespace peftsearch

#endif  // PEFTSEARCH_KERNELS_SELECTIVE_SCAN_OP_H_
