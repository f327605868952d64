// CPU depthwise causal conv1d (+SiLU): one task per (batch, channel) row,
// loops over time that vectorise; the backward recomputes the pre-activation.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/causal_conv1d.h"

namespace peftsearch {
namespace kernels {
namespace {

// pre[t] = bias + sum_k w[k] x[t - (K-1) + k] for one row.
template <typename T>
inline void PreActivation(const T* __restrict x, const T* __restrict w, T bias, int64_t L,
                          int64_t K, T* __restrict pre) {
#pragma omp simd
  for (int64_t t = 0; t < L; ++t) pre[t] = bias;
  for (int64_t k = 0; k < K; ++k) {
    const int64_t shift = K - 1 - k;  // pre[t] += w[k] * x[t - shift]
    const T wk = w[k];
#pragma omp simd
    for (int64_t t = shift; t < L; ++t) pre[t] += wk * x[t - shift];
  }
}

}  // namespace

template <typename T>
void CausalConv1dFwdCpu(const CausalConv1dParams& p) {
  const int64_t L = p.seqlen, K = p.width, C = p.channels;
  at::parallel_for(0, p.batch * C, 1, [&](int64_t begin, int64_t end) {
    for (int64_t idx = begin; idx < end; ++idx) {
      const int64_t b = idx / C, c = idx % C;
      const T* x = static_cast<const T*>(p.x_ptr) + b * p.x_batch_stride + c * p.x_channel_stride;
      T* __restrict out =
          static_cast<T*>(p.out_ptr) + b * p.out_batch_stride + c * p.out_channel_stride;
      const T bias = p.bias_ptr == nullptr ? T(0) : static_cast<const T*>(p.bias_ptr)[c];
      PreActivation(x, static_cast<const T*>(p.w_ptr) + c * K, bias, L, K, out);
      if (p.silu) {
#pragma omp simd
        for (int64_t t = 0; t < L; ++t) out[t] = out[t] / (T(1) + std::exp(-out[t]));
      }
    }
  });
}

template <typename T>
void CausalConv1dBwdCpu(const CausalConv1dBwdParams& p) {
  const int64_t L = p.seqlen, K = p.width, C = p.channels;
  at::parallel_for(0, p.batch * C, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> g(L);
    for (int64_t idx = begin; idx < end; ++idx) {
      const int64_t b = idx / C, c = idx % C;
      const T* __restrict x =
          static_cast<const T*>(p.x_ptr) + b * p.x_batch_stride + c * p.x_channel_stride;
      const T* __restrict dout = static_cast<const T*>(p.dout_ptr) + b * p.dout_batch_stride +
                                 c * p.dout_channel_stride;
      const T* __restrict w = static_cast<const T*>(p.w_ptr) + c * K;
      T* __restrict dx = static_cast<T*>(p.dx_ptr) + (b * C + c) * L;
      T* __restrict gp = g.data();
      const T bias = p.bias_ptr == nullptr ? T(0) : static_cast<const T*>(p.bias_ptr)[c];
      // g = dLoss/dpre: silu'(p) = s (1 + p (1 - s)), s = sigmoid(p).
      PreActivation(x, w, bias, L, K, gp);
      if (p.silu) {
#pragma omp simd
        for (int64_t t = 0; t < L; ++t) {
          const T s = T(1) / (T(1) + std::exp(-gp[t]));
          gp[t] = dout[t] * s * (T(1) + gp[t] * (T(1) - s));
        }
      } else {
#pragma omp simd
        for (int64_t t = 0; t < L; ++t) gp[t] = dout[t];
      }
      // dx[t] = sum_k w[k] g[t + shift_k]; dw[k] = sum_t g[t] x[t - shift_k].
#pragma omp simd
      for (int64_t t = 0; t < L; ++t) dx[t] = 0;
      T* dw = static_cast<T*>(p.dw_part_ptr) + (b * C + c) * K;
      for (int64_t k = 0; k < K; ++k) {
        const int64_t shift = K - 1 - k;
        const T wk = w[k];
        T acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t t = shift; t < L; ++t) {
          dx[t - shift] += wk * gp[t];
          acc += gp[t] * x[t - shift];
        }
        dw[k] = acc;
      }
      if (p.bias_ptr != nullptr) {
        T acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t t = 0; t < L; ++t) acc += gp[t];
        static_cast<T*>(p.dbias_part_ptr)[b * C + c] = acc;
      }
    }
  });
}

template void CausalConv1dFwdCpu<float>(const CausalConv1dParams&);
template void CausalConv1dFwdCpu<double>(const CausalConv1dParams&);
template void CausalConv1dBwdCpu<float>(const CausalConv1dBwdParams&);
template void CausalConv1dBwdCpu<double>(const CausalConv1dBwdParams&);

}  // namespace kernels
}  // namespace peftsearch
