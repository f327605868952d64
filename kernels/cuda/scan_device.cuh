// Device helpers shared by the CUDA scan and conv kernels: dtype conversion,
// the softplus/sigmoid of the scan's math, the per-row pointer set, and a warp
// reduction of a register array. Included by .cu files only.
#ifndef PEFTSEARCH_KERNELS_CUDA_SCAN_DEVICE_CUH_
#define PEFTSEARCH_KERNELS_CUDA_SCAN_DEVICE_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/selective_scan_cuda.h"

namespace peftsearch {
namespace kernels {
namespace cuda {

__device__ __forceinline__ float ToFloat(float x) { return x; }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T FromFloat(float x);
template <>
__device__ __forceinline__ float FromFloat<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float x) {
  return __float2bfloat16(x);
}

// Threshold of Mamba's kernel and torch's softplus: x > 20 ? x : log1p(exp(x)).
__device__ __forceinline__ float Softplus(float x) { return x <= 20.f ? log1pf(expf(x)) : x; }
__device__ __forceinline__ float Sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

// The d_state bin a launch compiles for.
inline int StateBin(int64_t n) { return n <= 16 ? 16 : n <= 32 ? 32 : 64; }

// Sizes the scan kernels take: d_state 1..kScanMaxDState, batch within the
// grid's y limit, both directions of the same sizes (selective_scan_fwd.cu).
bool ValidScanSizes(int ndirections, const SelectiveScanParams* dirs);

// Sums v[0..kN) over the 32 lanes of a warp in kN - 1 + log2(32 / kN)
// shuffles (instead of 5 kN) by recursive halving: at each step a lane keeps
// one half of its array and sends the other half to its partner, so the array
// shrinks while the reduction proceeds. Afterwards lane `lane` holds the sums
// of entries first_index .. first_index + count - 1; `owner` is false for lanes
// that hold a duplicate of another lane's result. All 32 lanes must call it.
template <int kN>
struct WarpSums {
  static constexpr int kCount = kN >= 32 ? kN / 32 : 1;
  float sum[kCount];
  int first_index;
  bool owner;
};

template <int kN>
__device__ __forceinline__ WarpSums<kN> WarpReduce(float (&v)[kN]) {
  const unsigned lane = threadIdx.x & 31u;
  int first = 0;
  bool owner = true;
#pragma unroll
  for (int step = 0; step < 5; ++step) {
    const int offset = 16 >> step;
    const int count = (kN >> step) > 0 ? (kN >> step) : 1;  // constant after unrolling
    if (count > 1) {
      const int half = count / 2;
      const bool upper = (lane & offset) != 0;
#pragma unroll
      for (int i = 0; i < half; ++i) {
        const float send = upper ? v[i] : v[i + half];
        const float keep = upper ? v[i + half] : v[i];
        v[i] = keep + __shfl_xor_sync(0xffffffffu, send, offset);
      }
      if (upper) first += half;
    } else {
      v[0] += __shfl_xor_sync(0xffffffffu, v[0], offset);
      if ((lane & offset) != 0) owner = false;
    }
  }
  WarpSums<kN> out;
#pragma unroll
  for (int i = 0; i < WarpSums<kN>::kCount; ++i) out.sum[i] = v[i];
  out.first_index = first;
  out.owner = owner;
  return out;
}

}  // namespace cuda
}  // namespace kernels
}  // namespace peftsearch

#endif  // PEFTSEARCH_KERNELS_CUDA_SCAN_DEVICE_CUH_
