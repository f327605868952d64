// LibTorch entry point of the depthwise causal conv1d (+SiLU): a custom
// autograd function over the CPU kernels of causal_conv1d.h.
//   x: [batch, channels, L] (any strides; copied if time stride != 1),
//   weight: [channels, 1, K] (nn.Conv1d layout) or [channels, K],
//   bias: [channels] or undefined. Returns [batch, channels, L].
// CausalConv1dRef is the same function in LibTorch ops (the oracle).
// Float32/float64 on CPU; anything else fails a TORCH_CHECK naming the argument.
// CUDA tensors go to kernels/cuda (float32/bfloat16) in a build with
// PEFTSEARCH_WITH_CUDA and fail a TORCH_CHECK naming the build flag otherwise.
#ifndef PEFTSEARCH_KERNELS_CAUSAL_CONV1D_OP_H_
#define PEFTSEARCH_KERNELS_CAUSAL_CONV1D_OP_H_

#include <torch/torch.h>

namespace peftsearch {
namespace kernels {

torch::Tensor CausalConv1d(const torch::Tensor& x, const torch::Tensor& weight,
                           const torch::Tensor& bias, bool silu);

torch::Tensor CausalConv1dRef(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, bool silu);

}  // namespace kernels
}  // namespace peftsearch

#endif  // PEFTSEARCH_KERNELS_CAUSAL_CONV1D_OP_H_
