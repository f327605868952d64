// Selective scan (Mamba S6) kernel interface: a plain struct of sizes, strides
// and raw pointers, as in state-spaces/mamba csrc/selective_scan/selective_scan.h.
// Kernels (CPU here, CUDA in a later .cu) see only this struct, never tensors;
// the LibTorch glue in selective_scan_op.{h,cc} fills it after checking dtype,
// device, shape and strides.
//
// Math (selective_scan_ref in state-spaces/mamba@01887ed, identical in
// hustvl/Vim mamba-1p1p1), per batch b, channel d, state n, time t:
//   dt      = softplus(delta[b,d,t] + delta_bias[d])   (softplus optional)
//   h_t[n]  = exp(dt * A[d,n]) * h_{t-1}[n] + dt * B[b,t,n] * u[b,d,t]
//   y_t     = sum_n h_t[n] * C[b,t,n] + D[d] * u[b,d,t]
//   out     = y_t * silu(z[b,d,t])                     (z optional)
// d_state (N) is free: Additional-scan uses N = 16 + k.
//
// Thread safety: the functions are reentrant; they write only the output
// pointers of the struct they are given.
#ifndef PEFTSEARCH_KERNELS_SELECTIVE_SCAN_H_
#define PEFTSEARCH_KERNELS_SELECTIVE_SCAN_H_

#include <cstdint>

namespace peftsearch {
namespace kernels {

// Layout contract (checked by the glue):
//   u, delta, z, out, du, ddelta, dz, dout: [batch, dim, seqlen], time stride 1.
//   A: [dim, dstate], state stride 1.
//   B, C: [batch, seqlen, dstate], state stride 1 (the natural layout of
//   x_proj's output, so the model hands them over without a copy).
//   D, delta_bias: [dim], stride 1.
struct SelectiveScanParams {
  int64_t batch = 0;
  int64_t dim = 0;
  int64_t seqlen = 0;
  int64_t dstate = 0;
  bool delta_softplus = false;

  int64_t u_batch_stride = 0, u_dim_stride = 0;
  int64_t delta_batch_stride = 0, delta_dim_stride = 0;
  int64_t A_dim_stride = 0;
  int64_t B_batch_stride = 0, B_time_stride = 0;
  int64_t C_batch_stride = 0, C_time_stride = 0;
  int64_t z_batch_stride = 0, z_dim_stride = 0;
  int64_t out_batch_stride = 0, out_dim_stride = 0;

  const void* u_ptr = nullptr;
  const void* delta_ptr = nullptr;
  const void* A_ptr = nullptr;
  const void* B_ptr = nullptr;
  const void* C_ptr = nullptr;
  const void* D_ptr = nullptr;           // nullptr: no skip connection
  const void* z_ptr = nullptr;           // nullptr: no silu(z) gate
  const void* delta_bias_ptr = nullptr;  // nullptr: no bias
  void* out_ptr = nullptr;
};

// Backward: the forward is recomputed per (batch, channel) in a private
// buffer of seqlen*dstate states (the CUDA kernel recomputes per chunk for the
// same reason), so the forward saves only its inputs.
//
// B and C are shared by all channels and A, D, delta_bias by the whole batch,
// so their gradients are reduced.  To stay lock-free the kernel writes
// per-task partial sums that the glue adds up:
//   dB_part, dC_part: [batch, n_dim_blocks, seqlen, dstate] (contiguous)
//   dA_part:          [batch, dim, dstate]                  (contiguous)
//   dD_part, ddelta_bias_part: [batch, dim]                  (contiguous)
// Channels are split into n_dim_blocks blocks of dim_block_size.
struct SelectiveScanBwdParams : SelectiveScanParams {
  int64_t dout_batch_stride = 0, dout_dim_stride = 0;
  const void* dout_ptr = nullptr;

  int64_t dim_block_size = 0;
  int64_t n_dim_blocks = 0;

  // du, ddelta, dz: [batch, dim, seqlen] contiguous.
  void* du_ptr = nullptr;
  void* ddelta_ptr = nullptr;
  void* dz_ptr = nullptr;  // ignored when z_ptr is nullptr
  void* dA_part_ptr = nullptr;
  void* dB_part_ptr = nullptr;
  void* dC_part_ptr = nullptr;
  void* dD_part_ptr = nullptr;           // ignored when D_ptr is nullptr
  void* ddelta_bias_part_ptr = nullptr;  // ignored when delta_bias_ptr is nullptr
};

// CPU kernels, threaded with at::parallel_for. T is float or double; all
// arithmetic happens in T (fp32 for fp32 inputs, as the CUDA kernel does).
template <typename T>
void SelectiveScanFwdCpu(const SelectiveScanParams& params);
template <typename T>
void SelectiveScanBwdCpu(const SelectiveScanBwdParams& params);

}  // namespace kernels
}  // namespace peftsearch

#endif  // PEFTSEARCH_KERNELS_SELECTIVE_SCAN_H_
