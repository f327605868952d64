// CUDA depthwise causal conv1d (+SiLU), forward and backward, the math of
// kernels/causal_conv1d.h. One block per (channel, batch) row; its threads
// stride over time, so reads of x and writes of out are coalesced. The
// backward recomputes the pre-activation at the K time steps each dx needs
// (K <= 8, so K^2 multiply-adds per step) instead of storing it, and reduces
// dw and dbias over the row in shared memory (one partial per batch row).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/scan_device.cuh"
#include "kernels/cuda/selective_scan_cuda.h"

namespace peftsearch {
namespace kernels {
namespace cuda {
namespace {

constexpr int kConvThreads = 128;

template <typename in_t>
struct ConvRow {
  const in_t* x;
  const float* w;
  float bias;
  int64_t L;
  int K;

  // bias + sum_k w[k] x[t - (K-1) + k], x[<0] = 0.
  __device__ float Pre(int64_t t) const {
    float acc = bias;
    for (int k = 0; k < K; ++k) {
      const int64_t src = t - (K - 1) + k;
      if (src >= 0) acc += w[k] * ToFloat(x[src]);
    }
    return acc;
  }
};

template <typename in_t>
__device__ ConvRow<in_t> MakeConvRow(const CausalConv1dParams& p, int64_t b, int64_t c) {
  ConvRow<in_t> r;
  r.x = static_cast<const in_t*>(p.x_ptr) + b * p.x_batch_stride + c * p.x_channel_stride;
  r.w = static_cast<const float*>(p.w_ptr) + c * p.width;
  r.bias = p.bias_ptr == nullptr ? 0.f : static_cast<const float*>(p.bias_ptr)[c];
  r.L = p.seqlen;
  r.K = static_cast<int>(p.width);
  return r;
}

template <typename in_t>
__global__ void __launch_bounds__(kConvThreads) ConvFwdKernel(CausalConv1dParams p) {
  const int64_t c = blockIdx.x, b = blockIdx.y;
  const ConvRow<in_t> r = MakeConvRow<in_t>(p, b, c);
  in_t* out = static_cast<in_t*>(p.out_ptr) + b * p.out_batch_stride + c * p.out_channel_stride;
  for (int64_t t = threadIdx.x; t < r.L; t += kConvThreads) {
    const float pre = r.Pre(t);
    out[t] = FromFloat<in_t>(p.silu ? pre * Sigmoid(pre) : pre);
  }
}

template <typename in_t>
__global__ void __launch_bounds__(kConvThreads) ConvBwdKernel(CausalConv1dBwdParams p) {
  __shared__ float partial[kConvMaxWidth + 1][kConvThreads / 32];
  const int64_t c = blockIdx.x, b = blockIdx.y, C = p.channels;
  const ConvRow<in_t> r = MakeConvRow<in_t>(p, b, c);
  const in_t* dout = static_cast<const in_t*>(p.dout_ptr) + b * p.dout_batch_stride +
                     c * p.dout_channel_stride;
  in_t* dx = static_cast<in_t*>(p.dx_ptr) + (b * C + c) * r.L;
  // g(t) = dLoss/dpre(t); silu'(p) = s (1 + p (1 - s)), s = sigmoid(p).
  auto grad_pre = [&](int64_t t) {
    const float go = ToFloat(dout[t]);
    if (!p.silu) return go;
    const float pre = r.Pre(t);
    const float s = Sigmoid(pre);
    return go * s * (1.f + pre * (1.f - s));
  };
  float dw[kConvMaxWidth], dbias = 0.f;
#pragma unroll
  for (int k = 0; k < kConvMaxWidth; ++k) dw[k] = 0.f;
  for (int64_t t = threadIdx.x; t < r.L; t += kConvThreads) {
    // dx[t] = sum_k w[k] g[t + (K-1-k)]; dw[k] += g[t] x[t - (K-1-k)].
    float acc = 0.f;
    const float gt = grad_pre(t);
#pragma unroll
    for (int k = 0; k < kConvMaxWidth; ++k) {
      if (k >= r.K) continue;
      const int64_t shift = r.K - 1 - k;
      if (t + shift < r.L) acc += r.w[k] * (shift == 0 ? gt : grad_pre(t + shift));
      if (t - shift >= 0) dw[k] += gt * ToFloat(r.x[t - shift]);
    }
    dx[t] = FromFloat<in_t>(acc);
    dbias += gt;
  }
  // Block reduction of dw[0..K) and dbias: warp shuffles, then one value per warp.
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int k = 0; k <= kConvMaxWidth; ++k) {
    float v = k < kConvMaxWidth ? dw[k] : dbias;
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (lane == 0) partial[k][warp] = v;
  }
  __syncthreads();
  if (threadIdx.x <= kConvMaxWidth) {
    const int k = threadIdx.x;
    float v = 0.f;
    for (int w = 0; w < kConvThreads / 32; ++w) v += partial[k][w];
    if (k < r.K) {
      static_cast<float*>(p.dw_part_ptr)[(b * C + c) * r.K + k] = v;
    } else if (k == kConvMaxWidth && p.bias_ptr != nullptr) {
      static_cast<float*>(p.dbias_part_ptr)[b * C + c] = v;
    }
  }
}

bool ValidConvSizes(const CausalConv1dParams& p) {
  return p.batch >= 1 && p.batch <= 65535 && p.channels >= 1 && p.seqlen >= 1 && p.width >= 1 &&
         p.width <= kConvMaxWidth;
}

}  // namespace

cudaError_t CausalConv1dFwdCuda(const CausalConv1dParams& p, ScanDtype dtype,
                                cudaStream_t stream) {
  if (!ValidConvSizes(p)) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(p.channels), static_cast<unsigned>(p.batch));
  if (dtype == ScanDtype::kBFloat16) {
    ConvFwdKernel<__nv_bfloat16><<<grid, kConvThreads, 0, stream>>>(p);
  } else {
    ConvFwdKernel<float><<<grid, kConvThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

cudaError_t CausalConv1dBwdCuda(const CausalConv1dBwdParams& p, ScanDtype dtype,
                                cudaStream_t stream) {
  if (!ValidConvSizes(p)) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(p.channels), static_cast<unsigned>(p.batch));
  if (dtype == ScanDtype::kBFloat16) {
    ConvBwdKernel<__nv_bfloat16><<<grid, kConvThreads, 0, stream>>>(p);
  } else {
    ConvBwdKernel<float><<<grid, kConvThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace kernels
}  // namespace peftsearch
