// CUDA selective scan and causal conv1d: plain C++ launchers over raw
// pointers and strides (the structs of kernels/selective_scan.h and
// kernels/causal_conv1d.h), so the .cu files compile with nvcc alone, without
// LibTorch headers; the LibTorch glue is selective_scan_cuda_op.{h,cc}.
//
// Design (docs/BENCHMARKS.md, "GPU (issue 9)"):
//  - one thread per (direction, batch, channel) row; its d_state states live in
//    registers (a compile-time bin of 16, 32 or 64 states; Additional-scan's
//    16 + k lands in the 32 or 64 bin);
//  - a block is one warp of 32 adjacent channels, which share B_t and C_t, so
//    the backward reduces dB and dC across the warp with shuffles and writes one
//    partial sum per warp (no atomics, deterministic);
//  - the backward does not keep all states: a first sweep stores the state at
//    the start of every chunk of kChunk steps (a small workspace), then chunks
//    are processed last to first, each recomputing its kChunk states into
//    shared memory before the reverse sweep over it;
//  - both directions of a Vim layer can run in one launch (grid dimension z);
//    a direction with reverse = true reads time t as L-1-t, which equals
//    flip -> scan -> flip without the two copies.
// Inputs u, delta, B, C, z and the outputs out, du, ddelta, dz are float32 or
// bfloat16 (ScanDtype); A, D, delta_bias and every reduced gradient (dA, dB,
// dC, dD, ddelta_bias partials) are float32; state and accumulation are float32.
//
// Thread safety: launches are asynchronous on the given stream; the caller
// keeps the buffers alive until the stream has run them.
#ifndef PEFTSEARCH_KERNELS_CUDA_SELECTIVE_SCAN_CUDA_H_
#define PEFTSEARCH_KERNELS_CUDA_SELECTIVE_SCAN_CUDA_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/causal_conv1d.h"
#include "kernels/selective_scan.h"

namespace peftsearch {
namespace kernels {
namespace cuda {

enum class ScanDtype { kFloat32, kBFloat16 };

// Channels per block (one warp); the backward's dB/dC partials have
// ceil(dim / kScanDimBlock) dim blocks.
inline constexpr int64_t kScanDimBlock = 32;
// Largest d_state the kernels take (bins 16, 32, 64).
inline constexpr int64_t kScanMaxDState = 64;

struct ScanFwdLaunch {
  int ndirections = 1;  // 1 or 2
  SelectiveScanParams dir[2];
  bool reverse[2] = {false, false};
  ScanDtype dtype = ScanDtype::kFloat32;
};

// Per direction, the backward writes (all contiguous):
//   du, ddelta, dz: [batch, dim, L] in dtype;
//   dA_part [batch, dim, N], dD_part/ddelta_bias_part [batch, dim],
//   dB_part/dC_part [batch, ceil(dim/kScanDimBlock), L, N]: float32.
// dim_block_size / n_dim_blocks of the params are ignored (fixed above).
struct ScanBwdLaunch {
  int ndirections = 1;
  SelectiveScanBwdParams dir[2];
  bool reverse[2] = {false, false};
  ScanDtype dtype = ScanDtype::kFloat32;
  // Chunk-start states, ScanBwdWorkspaceBytes(*this) bytes of device memory.
  void* workspace = nullptr;
};

// Returns cudaErrorInvalidValue for bad sizes (d_state outside 1..64, the two
// directions' sizes differing) and otherwise the launch's error.
cudaError_t SelectiveScanFwdCuda(const ScanFwdLaunch& launch, cudaStream_t stream);
cudaError_t SelectiveScanBwdCuda(const ScanBwdLaunch& launch, cudaStream_t stream);
size_t ScanBwdWorkspaceBytes(const ScanBwdLaunch& launch);

// Depthwise causal conv1d (+SiLU). x/out/dout/dx in dtype; weight [C, K] and
// bias float32; dw_part [batch, C, K] and dbias_part [batch, C] float32.
// Widths 1..kConvMaxWidth.
inline constexpr int64_t kConvMaxWidth = 8;
cudaError_t CausalConv1dFwdCuda(const CausalConv1dParams& params, ScanDtype dtype,
                                cudaStream_t stream);
cudaError_t CausalConv1dBwdCuda(const CausalConv1dBwdParams& params, ScanDtype dtype,
                                cudaStream_t stream);

}  // namespace cuda
}  // namespace kernels
}  // namespace peftsearch

#endif  // PEFTSEARCH_KERNELS_CUDA_SELECTIVE_SCAN_CUDA_H_
