// Depthwise causal conv1d + optional SiLU (the conv of the Mamba mixer),
// kernel interface: sizes, strides, raw pointers (as selective_scan.h).
//   out[b,c,t] = act(bias[c] + sum_k w[c,k] * x[b,c,t-(K-1)+k]),  x[<0] = 0
// which equals silu(Conv1d(C, C, K, groups=C, padding=K-1)(x)[..., :L])
// (causal_conv1d_ref in hustvl/Vim@dd0358a causal-conv1d).
// Thread safety: reentrant.
#ifndef PEFTSEARCH_KERNELS_CAUSAL_CONV1D_H_
#define PEFTSEARCH_KERNELS_CAUSAL_CONV1D_H_

#include <cstdint>

namespace peftsearch {
namespace kernels {

// x, out, dout, dx: [batch, channels, L] with time stride 1; w: [channels, K]
// contiguous; bias: [channels] (nullptr: none).
struct CausalConv1dParams {
  int64_t batch = 0, channels = 0, seqlen = 0, width = 0;
  bool silu = true;
  int64_t x_batch_stride = 0, x_channel_stride = 0;
  int64_t out_batch_stride = 0, out_channel_stride = 0;
  const void* x_ptr = nullptr;
  const void* w_ptr = nullptr;
  const void* bias_ptr = nullptr;
  void* out_ptr = nullptr;
};

// Backward: dx [batch, channels, L] contiguous; the weight and bias
// gradients are per-batch partial sums the glue adds up:
// dw_part [batch, channels, K], dbias_part [batch, channels].
struct CausalConv1dBwdParams : CausalConv1dParams {
  int64_t dout_batch_stride = 0, dout_channel_stride = 0;
  const void* dout_ptr = nullptr;
  void* dx_ptr = nullptr;
  void* dw_part_ptr = nullptr;
  void* dbias_part_ptr = nullptr;  // ignored when bias_ptr is nullptr
};

template <typename T>
void CausalConv1dFwdCpu(const CausalConv1dParams& params);
template <typename T>
void CausalConv1dBwdCpu(const CausalConv1dBwdParams& params);

}  // namespace kernels
}  // namespace peftsearch

#endif  // PEFTSEARCH_KERNELS_CAUSAL_CONV1D_H_
