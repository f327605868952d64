// CUDA selective scan forward: one thread per (direction, batch, channel) row,
// states in registers, time sequential (the recurrence). Math as in
// kernels/selective_scan.h; layout and design in selective_scan_cuda.h.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/scan_device.cuh"
#include "kernels/cuda/selective_scan_cuda.h"

namespace peftsearch {
namespace kernels {
namespace cuda {
namespace {

template <typename in_t, int kN>
__global__ void __launch_bounds__(kScanDimBlock) ScanFwdKernel(ScanFwdLaunch launch) {
  const int dir = blockIdx.z;
  const SelectiveScanParams& p = launch.dir[dir];
  const bool reverse = launch.reverse[dir];
  const int64_t b = blockIdx.y;
  const int64_t d = static_cast<int64_t>(blockIdx.x) * kScanDimBlock + threadIdx.x;
  if (d >= p.dim) return;  // no cross-lane work in the forward
  const int N = static_cast<int>(p.dstate);
  const int64_t L = p.seqlen;

  const in_t* u = static_cast<const in_t*>(p.u_ptr) + b * p.u_batch_stride + d * p.u_dim_stride;
  const in_t* delta = static_cast<const in_t*>(p.delta_ptr) + b * p.delta_batch_stride +
                      d * p.delta_dim_stride;
  const in_t* Bm = static_cast<const in_t*>(p.B_ptr) + b * p.B_batch_stride;
  const in_t* Cm = static_cast<const in_t*>(p.C_ptr) + b * p.C_batch_stride;
  const in_t* z = p.z_ptr == nullptr ? nullptr
                                     : static_cast<const in_t*>(p.z_ptr) + b * p.z_batch_stride +
                                           d * p.z_dim_stride;
  in_t* out = static_cast<in_t*>(p.out_ptr) + b * p.out_batch_stride + d * p.out_dim_stride;
  const float* A = static_cast<const float*>(p.A_ptr) + d * p.A_dim_stride;
  const float Dd = p.D_ptr == nullptr ? 0.f : static_cast<const float*>(p.D_ptr)[d];
  const float bias =
      p.delta_bias_ptr == nullptr ? 0.f : static_cast<const float*>(p.delta_bias_ptr)[d];

  float a_row[kN], h[kN];
#pragma unroll
  for (int n = 0; n < kN; ++n) {
    a_row[n] = n < N ? A[n] : 0.f;
    h[n] = 0.f;
  }
  for (int64_t s = 0; s < L; ++s) {
    const int64_t t = reverse ? L - 1 - s : s;
    const float raw = ToFloat(delta[t]) + bias;
    const float dt = p.delta_softplus ? Softplus(raw) : raw;
    const float uu = ToFloat(u[t]);
    const float dtu = dt * uu;
    const in_t* Bt = Bm + t * p.B_time_stride;
    const in_t* Ct = Cm + t * p.C_time_stride;
    float y = 0.f;
#pragma unroll
    for (int n = 0; n < kN; ++n) {
      if (n < N) {
        h[n] = expf(dt * a_row[n]) * h[n] + dtu * ToFloat(Bt[n]);
        y += h[n] * ToFloat(Ct[n]);
      }
    }
    float o = y + Dd * uu;
    if (z != nullptr) {
      const float zt = ToFloat(z[t]);
      o *= zt * Sigmoid(zt);
    }
    out[t] = FromFloat<in_t>(o);
  }
}

template <typename in_t, int kN>
cudaError_t LaunchFwd(const ScanFwdLaunch& launch, cudaStream_t stream) {
  const SelectiveScanParams& p = launch.dir[0];
  const dim3 grid(static_cast<unsigned>((p.dim + kScanDimBlock - 1) / kScanDimBlock),
                  static_cast<unsigned>(p.batch), static_cast<unsigned>(launch.ndirections));
  ScanFwdKernel<in_t, kN><<<grid, kScanDimBlock, 0, stream>>>(launch);
  return cudaGetLastError();
}

template <typename in_t>
cudaError_t DispatchFwd(const ScanFwdLaunch& launch, cudaStream_t stream) {
  switch (StateBin(launch.dir[0].dstate)) {
    case 16:
      return LaunchFwd<in_t, 16>(launch, stream);
    case 32:
      return LaunchFwd<in_t, 32>(launch, stream);
    default:
      return LaunchFwd<in_t, 64>(launch, stream);
  }
}

}  // namespace

bool ValidScanSizes(int ndirections, const SelectiveScanParams* dirs) {
  if (ndirections < 1 || ndirections > 2) return false;
  const SelectiveScanParams& p = dirs[0];
  if (p.dstate < 1 || p.dstate > kScanMaxDState || p.batch < 1 || p.dim < 1 || p.seqlen < 1 ||
      p.batch > 65535) {
    return false;
  }
  const SelectiveScanParams& q = dirs[ndirections - 1];
  return q.batch == p.batch && q.dim == p.dim && q.seqlen == p.seqlen && q.dstate == p.dstate;
}

cudaError_t SelectiveScanFwdCuda(const ScanFwdLaunch& launch, cudaStream_t stream) {
  if (!ValidScanSizes(launch.ndirections, launch.dir)) return cudaErrorInvalidValue;
  return launch.dtype == ScanDtype::kBFloat16 ? DispatchFwd<__nv_bfloat16>(launch, stream)
                                              : DispatchFwd<float>(launch, stream);
}

}  // namespace cuda
}  // namespace kernels
}  // namespace peftsearch
