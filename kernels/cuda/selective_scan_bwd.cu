// CUDA selective scan backward: one thread per (direction, batch, channel)
// row, one warp per block. Sweep 1 runs the forward recurrence and stores the
// state at the start of every chunk of kChunk steps in the workspace; sweep 2
// takes the chunks last to first, recomputes the chunk's states into shared
// memory from its start state, and runs the reverse (adjoint) recurrence over
// them. Gradient formulas as in kernels/selective_scan_cpu.cc (BwdRow).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/scan_device.cuh"
#include "kernels/cuda/selective_scan_cuda.h"

namespace peftsearch {
namespace kernels {
namespace cuda {
namespace {

// Steps per chunk: kChunk * kN states of 32 lanes fill 32 KiB of shared memory.
constexpr int kChunkStates = 256;  // kChunk * kN

int64_t NumChunks(int64_t L, int kN) {
  const int chunk = kChunkStates / kN;
  return (L + chunk - 1) / chunk;
}

template <typename in_t, int kN>
__global__ void __launch_bounds__(kScanDimBlock) ScanBwdKernel(ScanBwdLaunch launch) {
  constexpr int kChunk = kChunkStates / kN;
  __shared__ float hs[kChunk][kN][kScanDimBlock];  // h_{t-1} per step of the chunk

  const int dir = blockIdx.z;
  const SelectiveScanBwdParams& p = launch.dir[dir];
  const bool reverse = launch.reverse[dir];
  const int lane = threadIdx.x;
  const int64_t b = blockIdx.y;
  const int64_t d_raw = static_cast<int64_t>(blockIdx.x) * kScanDimBlock + lane;
  // Lanes past the last channel run on a copy of it with dout = 0, so every
  // contribution of theirs is 0 and the warp reductions stay whole.
  const bool active = d_raw < p.dim;
  const int64_t d = active ? d_raw : p.dim - 1;
  const int N = static_cast<int>(p.dstate);
  const int64_t L = p.seqlen;
  const int64_t nchunks = (L + kChunk - 1) / kChunk;

  const in_t* u = static_cast<const in_t*>(p.u_ptr) + b * p.u_batch_stride + d * p.u_dim_stride;
  const in_t* delta = static_cast<const in_t*>(p.delta_ptr) + b * p.delta_batch_stride +
                      d * p.delta_dim_stride;
  const in_t* Bm = static_cast<const in_t*>(p.B_ptr) + b * p.B_batch_stride;
  const in_t* Cm = static_cast<const in_t*>(p.C_ptr) + b * p.C_batch_stride;
  const in_t* z = p.z_ptr == nullptr ? nullptr
                                     : static_cast<const in_t*>(p.z_ptr) + b * p.z_batch_stride +
                                           d * p.z_dim_stride;
  const in_t* dout = static_cast<const in_t*>(p.dout_ptr) + b * p.dout_batch_stride +
                     d * p.dout_dim_stride;
  const float* A = static_cast<const float*>(p.A_ptr) + d * p.A_dim_stride;
  const float Dd = p.D_ptr == nullptr ? 0.f : static_cast<const float*>(p.D_ptr)[d];
  const float bias =
      p.delta_bias_ptr == nullptr ? 0.f : static_cast<const float*>(p.delta_bias_ptr)[d];
  const int64_t row = (b * p.dim + d) * L;
  in_t* du = static_cast<in_t*>(p.du_ptr) + row;
  in_t* ddelta = static_cast<in_t*>(p.ddelta_ptr) + row;
  in_t* dz = z == nullptr ? nullptr : static_cast<in_t*>(p.dz_ptr) + row;
  const int64_t nblk = (p.dim + kScanDimBlock - 1) / kScanDimBlock;
  float* dB_part = static_cast<float*>(p.dB_part_ptr) + (b * nblk + blockIdx.x) * L * N;
  float* dC_part = static_cast<float*>(p.dC_part_ptr) + (b * nblk + blockIdx.x) * L * N;
  // Workspace [dir][batch][chunk][kN][dim]: adjacent lanes, adjacent floats.
  float* ckpt = static_cast<float*>(launch.workspace) +
                (static_cast<int64_t>(dir) * p.batch + b) * nchunks * kN * p.dim + d;

  float a_row[kN], h[kN];
#pragma unroll
  for (int n = 0; n < kN; ++n) {
    a_row[n] = n < N ? A[n] : 0.f;
    h[n] = 0.f;
  }
  auto time_of = [&](int64_t s) { return reverse ? L - 1 - s : s; };
  auto delta_at = [&](int64_t t) {
    const float raw = ToFloat(delta[t]) + bias;
    return p.delta_softplus ? Softplus(raw) : raw;
  };

  // Sweep 1: chunk-start states.
  for (int64_t c = 0; c < nchunks; ++c) {
    if (active) {
#pragma unroll
      for (int n = 0; n < kN; ++n) ckpt[(c * kN + n) * p.dim] = h[n];
    }
    const int64_t s1 = (c + 1) * kChunk < L ? (c + 1) * kChunk : L;
    for (int64_t s = c * kChunk; s < s1; ++s) {
      const int64_t t = time_of(s);
      const float dt = delta_at(t);
      const float dtu = dt * ToFloat(u[t]);
      const in_t* Bt = Bm + t * p.B_time_stride;
#pragma unroll
      for (int n = 0; n < kN; ++n) {
        if (n < N) h[n] = expf(dt * a_row[n]) * h[n] + dtu * ToFloat(Bt[n]);
      }
    }
  }
  // ckpt was written by this thread alone: program order makes it visible.

  // Sweep 2: chunks last to first; dh carries dLoss/dh_t backwards.
  float dh[kN], dA[kN];
#pragma unroll
  for (int n = 0; n < kN; ++n) dh[n] = dA[n] = 0.f;
  float dD = 0.f, dbias = 0.f;
  for (int64_t c = nchunks - 1; c >= 0; --c) {
    const int64_t s0 = c * kChunk;
    const int len = static_cast<int>(L - s0 < kChunk ? L - s0 : kChunk);
    // Inactive lanes wrote no checkpoint: they restart from 0 (their
    // contributions are 0 anyway, but uninitialised memory could be NaN).
#pragma unroll
    for (int n = 0; n < kN; ++n) h[n] = active ? ckpt[(c * kN + n) * p.dim] : 0.f;
    for (int j = 0; j < len; ++j) {
      const int64_t t = time_of(s0 + j);
      const float dt = delta_at(t);
      const float dtu = dt * ToFloat(u[t]);
      const in_t* Bt = Bm + t * p.B_time_stride;
#pragma unroll
      for (int n = 0; n < kN; ++n) {
        hs[j][n][lane] = h[n];
        if (n < N) h[n] = expf(dt * a_row[n]) * h[n] + dtu * ToFloat(Bt[n]);
      }
    }
    for (int j = len - 1; j >= 0; --j) {
      const int64_t t = time_of(s0 + j);
      const float raw = ToFloat(delta[t]) + bias;
      const float dt = p.delta_softplus ? Softplus(raw) : raw;
      const float uu = ToFloat(u[t]);
      const float dtu = dt * uu;
      const in_t* Bt = Bm + t * p.B_time_stride;
      const in_t* Ct = Cm + t * p.C_time_stride;
      float Bv[kN], Cv[kN], a[kN], hprev[kN];
#pragma unroll
      for (int n = 0; n < kN; ++n) {
        Bv[n] = n < N ? ToFloat(Bt[n]) : 0.f;
        Cv[n] = n < N ? ToFloat(Ct[n]) : 0.f;
        hprev[n] = hs[j][n][lane];
        a[n] = expf(dt * a_row[n]);
      }
      float dy = active ? ToFloat(dout[t]) : 0.f;
      if (z != nullptr) {
        float y = 0.f;
#pragma unroll
        for (int n = 0; n < kN; ++n) y += (a[n] * hprev[n] + dtu * Bv[n]) * Cv[n];
        const float o = y + Dd * uu;
        const float zt = ToFloat(z[t]);
        const float sz = Sigmoid(zt);
        if (active) dz[t] = FromFloat<in_t>(dy * o * sz * (1.f + zt * (1.f - sz)));
        dy *= zt * sz;
      }
      dD += dy * uu;
      float dut = dy * Dd;
      float ddt = 0.f;
      float dBv[kN], dCv[kN];
#pragma unroll
      for (int n = 0; n < kN; ++n) {
        const float ah = a[n] * hprev[n];
        const float g = dh[n] + dy * Cv[n];
        dCv[n] = dy * (ah + dtu * Bv[n]);
        ddt += g * (a_row[n] * ah + Bv[n] * uu);
        dA[n] += g * dt * ah;
        dBv[n] = g * dtu;
        dut += g * dt * Bv[n];
        dh[n] = g * a[n];
      }
      if (p.delta_softplus && raw <= 20.f) ddt *= Sigmoid(raw);
      dbias += ddt;
      if (active) {
        ddelta[t] = FromFloat<in_t>(ddt);
        du[t] = FromFloat<in_t>(dut);
      }
      const WarpSums<kN> sb = WarpReduce<kN>(dBv);
      const WarpSums<kN> sc = WarpReduce<kN>(dCv);
      if (sb.owner) {
#pragma unroll
        for (int i = 0; i < WarpSums<kN>::kCount; ++i) {
          const int n = sb.first_index + i;
          if (n < N) {
            dB_part[t * N + n] = sb.sum[i];
            dC_part[t * N + n] = sc.sum[i];
          }
        }
      }
    }
  }
  if (!active) return;
  float* dA_out = static_cast<float*>(p.dA_part_ptr) + (b * p.dim + d) * N;
#pragma unroll
  for (int n = 0; n < kN; ++n) {
    if (n < N) dA_out[n] = dA[n];
  }
  if (p.D_ptr != nullptr) static_cast<float*>(p.dD_part_ptr)[b * p.dim + d] = dD;
  if (p.delta_bias_ptr != nullptr) {
    static_cast<float*>(p.ddelta_bias_part_ptr)[b * p.dim + d] = dbias;
  }
}

template <typename in_t, int kN>
cudaError_t LaunchBwd(const ScanBwdLaunch& launch, cudaStream_t stream) {
  const SelectiveScanParams& p = launch.dir[0];
  const dim3 grid(static_cast<unsigned>((p.dim + kScanDimBlock - 1) / kScanDimBlock),
                  static_cast<unsigned>(p.batch), static_cast<unsigned>(launch.ndirections));
  ScanBwdKernel<in_t, kN><<<grid, kScanDimBlock, 0, stream>>>(launch);
  return cudaGetLastError();
}

template <typename in_t>
cudaError_t DispatchBwd(const ScanBwdLaunch& launch, cudaStream_t stream) {
  switch (StateBin(launch.dir[0].dstate)) {
    case 16:
      return LaunchBwd<in_t, 16>(launch, stream);
    case 32:
      return LaunchBwd<in_t, 32>(launch, stream);
    default:
      return LaunchBwd<in_t, 64>(launch, stream);
  }
}

}  // namespace

size_t ScanBwdWorkspaceBytes(const ScanBwdLaunch& launch) {
  const SelectiveScanParams& p = launch.dir[0];
  const int bin = StateBin(p.dstate);
  return sizeof(float) * static_cast<size_t>(launch.ndirections) * p.batch *
         NumChunks(p.seqlen, bin) * bin * p.dim;
}

cudaError_t SelectiveScanBwdCuda(const ScanBwdLaunch& launch, cudaStream_t stream) {
  if (!ValidScanSizes(launch.ndirections, launch.dir) || launch.workspace == nullptr) {
    return cudaErrorInvalidValue;
  }
  return launch.dtype == ScanDtype::kBFloat16 ? DispatchBwd<__nv_bfloat16>(launch, stream)
                                              : DispatchBwd<float>(launch, stream);
}

}  // namespace cuda
}  // namespace kernels
}  // namespace peftsearch
