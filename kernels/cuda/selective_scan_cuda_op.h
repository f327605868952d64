// LibTorch glue of the CUDA kernels (selective_scan_cuda.h): autograd
// functions over CUDA tensors. kernels::SelectiveScan and kernels::CausalConv1d
// (selective_scan_op.h, causal_conv1d_op.h) call these for CUDA tensors in a
// build with PEFTSEARCH_WITH_CUDA (bazel --config=cuda, tools/gpu_check).
//
// Shapes as SelectiveScan: u, delta, z: [batch, dim, L]; A: [dim, N];
// B, C: [batch, N, L]; D, delta_bias: [dim]. u, delta, B, C, z are float32 or
// bfloat16 (the dtype of u; the others are converted to it), A, D and
// delta_bias are used as float32; out has u's dtype. d_state N in 1..64.
// Bad dtypes, devices, shapes fail a TORCH_CHECK naming the argument.
//
// Thread safety: reentrant; kernels run on the current CUDA stream of u's
// device (the trainer sets one stream per task).
#ifndef PEFTSEARCH_KERNELS_CUDA_SELECTIVE_SCAN_CUDA_OP_H_
#define PEFTSEARCH_KERNELS_CUDA_SELECTIVE_SCAN_CUDA_OP_H_

#include <torch/torch.h>

#include <utility>

namespace peftsearch {
namespace kernels {

// The inputs of one scan direction; D, z, delta_bias may be undefined.
struct ScanInputs {
  torch::Tensor u, delta, A, B, C, D, z, delta_bias;
};

torch::Tensor SelectiveScanCuda(const ScanInputs& in, bool delta_softplus);

// Both directions of a Vim layer in one kernel launch (same sizes). With
// reverse_second the second direction is scanned from t = L-1 down to 0, i.e.
// it returns flip(scan(flip(inputs))) for it, without the flips' copies.
std::pair<torch::Tensor, torch::Tensor> SelectiveScanCudaPair(const ScanInputs& first,
                                                              const ScanInputs& second,
                                                              bool delta_softplus,
                                                              bool reverse_second);

// Depthwise causal conv1d (+SiLU) as CausalConv1d; x float32 or bfloat16,
// weight/bias used as float32, widths 1..8.
torch::Tensor CausalConv1dCuda(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, bool silu);

}  // namespace kernels
}  // namespace peftsearch

#endif  // PEFTSEARCH_KERNELS_CUDA_SELECTIVE_SCAN_CUDA_OP_H_
