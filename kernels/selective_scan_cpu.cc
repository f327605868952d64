// CPU selective scan: one task per (batch, channel block); inside a task the
// time loop is sequential (the recurrence) and the state loop over d_state is
// a short `omp simd` loop with no tensor ops. Compiled with -ffast-math so
// GCC calls glibc's vector expf (libmvec) in that loop.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/selective_scan.h"

namespace peftsearch {
namespace kernels {
namespace {

// Pointers of one (batch, channel) row.
template <typename T>
struct Row {
  const T* u;
  const T* delta;
  const T* A;
  const T* B;
  const T* C;
  const T* z;
  T D;
  T bias;
};

template <typename T>
Row<T> MakeRow(const SelectiveScanParams& p, int64_t b, int64_t d) {
  Row<T> r;
  r.u = static_cast<const T*>(p.u_ptr) + b * p.u_batch_stride + d * p.u_dim_stride;
  r.delta = static_cast<const T*>(p.delta_ptr) + b * p.delta_batch_stride +
            d * p.delta_dim_stride;
  r.A = static_cast<const T*>(p.A_ptr) + d * p.A_dim_stride;
  r.B = static_cast<const T*>(p.B_ptr) + b * p.B_batch_stride;
  r.C = static_cast<const T*>(p.C_ptr) + b * p.C_batch_stride;
  r.z = p.z_ptr == nullptr
            ? nullptr
            : static_cast<const T*>(p.z_ptr) + b * p.z_batch_stride + d * p.z_dim_stride;
  r.D = p.D_ptr == nullptr ? T(0) : static_cast<const T*>(p.D_ptr)[d];
  r.bias = p.delta_bias_ptr == nullptr ? T(0)
                                       : static_cast<const T*>(p.delta_bias_ptr)[d];
  return r;
}


// Per-row scratch of the forward: softplus(delta) and the silu(z) gate for
// every time step, computed in loops over time that vectorise (libmvec
// log1pf/expf), so the recurrence below does no scalar transcendentals.
template <typename T>
struct FwdScratch {
  FwdScratch(int64_t L, int64_t N) : h(N), dts(L), gate(L) {}
  std::vector<T> h, dts, gate;
};

// softplus(delta + bias) for a whole row, with the threshold of Mamba's
// kernel and torch's softplus: x > 20 ? x : log1p(exp(x)).
template <typename T>
inline __attribute__((always_inline)) void RowDelta(const SelectiveScanParams& p,
                                                    const Row<T>& r, T* __restrict raw,
                                                    T* __restrict dts) {
  const int64_t L = p.seqlen;
  const T* __restrict delta = r.delta;
  const T bias = r.bias;
  if (p.delta_softplus) {
#pragma omp simd
    for (int64_t t = 0; t < L; ++t) {
      const T x = delta[t] + bias;
      raw[t] = x;
      dts[t] = x <= T(20) ? std::log1p(std::exp(x)) : x;
    }
  } else {
#pragma omp simd
    for (int64_t t = 0; t < L; ++t) raw[t] = dts[t] = delta[t] + bias;
  }
}

// One (batch, channel) row of the forward. Inlined into the ISA clones below.
template <typename T>
inline __attribute__((always_inline)) void FwdRow(const SelectiveScanParams& p, int64_t b,
                                                  int64_t d, FwdScratch<T>* s) {
  const int64_t N = p.dstate;
  const int64_t L = p.seqlen;
  const Row<T> r = MakeRow<T>(p, b, d);
  T* out = static_cast<T*>(p.out_ptr) + b * p.out_batch_stride + d * p.out_dim_stride;
  T* __restrict hp = s->h.data();
  T* __restrict dts = s->dts.data();
  T* __restrict gate = s->gate.data();
  RowDelta(p, r, gate, dts);  // gate doubles as the raw-delta buffer here
  if (r.z != nullptr) {
    const T* __restrict z = r.z;
#pragma omp simd
    for (int64_t t = 0; t < L; ++t) gate[t] = z[t] / (T(1) + std::exp(-z[t]));
  }
  std::fill(hp, hp + N, T(0));
  const T* __restrict A = r.A;
  const T* __restrict u = r.u;
  for (int64_t t = 0; t < L; ++t) {
    const T dt = dts[t];
    const T dtu = dt * u[t];
    const T* __restrict Bt = r.B + t * p.B_time_stride;
    const T* __restrict Ct = r.C + t * p.C_time_stride;
    T y = 0;
#pragma omp simd reduction(+ : y)
    for (int64_t n = 0; n < N; ++n) {
      const T hn = std::exp(dt * A[n]) * hp[n] + dtu * Bt[n];
      hp[n] = hn;
      y += hn * Ct[n];
    }
    out[t] = y + r.D * u[t];
  }
  if (r.z != nullptr) {
#pragma omp simd
    for (int64_t t = 0; t < L; ++t) out[t] *= gate[t];
  }
}

// Scratch of one backward row: hs[(t+1)*N + n] = h_t[n] with hs[0..N) = 0,
// as[t*N + n] = exp(dt_t * A[n]).
template <typename T>
struct BwdScratch {
  explicit BwdScratch(int64_t L, int64_t N)
      : hs((L + 1) * N), as(L * N), dts(L), raw(L), sig_raw(L), sig_z(L), dh(N), dA(N) {}
  std::vector<T> hs, as, dts, raw, sig_raw, sig_z, dh, dA;
};

// One (batch, channel) row of the backward; accumulates into the block's
// dB/dC partial sums and writes the row's du, ddelta, dz, dA, dD, dbias.
template <typename T>
inline __attribute__((always_inline)) void BwdRow(const SelectiveScanBwdParams& p, int64_t b,
                                                  int64_t d, T* __restrict dB,
                                                  T* __restrict dC, BwdScratch<T>* s) {
  const int64_t N = p.dstate;
  const int64_t L = p.seqlen;
  const Row<T> r = MakeRow<T>(p, b, d);
  const T* __restrict A = r.A;
  const T* dout = static_cast<const T*>(p.dout_ptr) + b * p.dout_batch_stride +
                  d * p.dout_dim_stride;
  const int64_t row = (b * p.dim + d) * L;
  T* du = static_cast<T*>(p.du_ptr) + row;
  T* ddelta = static_cast<T*>(p.ddelta_ptr) + row;
  T* dz = p.z_ptr == nullptr ? nullptr : static_cast<T*>(p.dz_ptr) + row;
  T* hs = s->hs.data();
  T* as = s->as.data();
  T* dts = s->dts.data();
  T* raw = s->raw.data();

  T* __restrict sig_raw = s->sig_raw.data();
  T* __restrict sig_z = s->sig_z.data();
  // Recompute the forward states; per-step scalars come from vectorised
  // loops over time first.
  RowDelta(p, r, raw, dts);
  if (p.delta_softplus) {
#pragma omp simd
    for (int64_t t = 0; t < L; ++t) {
      // d softplus(x)/dx = sigmoid(x); 1 above the threshold 20.
      sig_raw[t] = raw[t] <= T(20) ? T(1) / (T(1) + std::exp(-raw[t])) : T(1);
    }
  }
  if (r.z != nullptr) {
    const T* __restrict z = r.z;
#pragma omp simd
    for (int64_t t = 0; t < L; ++t) sig_z[t] = T(1) / (T(1) + std::exp(-z[t]));
  }
  std::fill(hs, hs + N, T(0));
  for (int64_t t = 0; t < L; ++t) {
    const T dt = dts[t];
    const T dtu = dt * r.u[t];
    const T* __restrict Bt = r.B + t * p.B_time_stride;
    const T* __restrict hprev = hs + t * N;
    T* __restrict hcur = hs + (t + 1) * N;
    T* __restrict at = as + t * N;
#pragma omp simd
    for (int64_t n = 0; n < N; ++n) {
      const T a = std::exp(dt * A[n]);
      at[n] = a;
      hcur[n] = a * hprev[n] + dtu * Bt[n];
    }
  }

  // Reverse sweep: dh carries dLoss/dh_t backwards through h_t = a_t h_{t-1} + ...
  T* __restrict dhp = s->dh.data();
  T* __restrict dAp = s->dA.data();
  std::fill(dhp, dhp + N, T(0));
  std::fill(dAp, dAp + N, T(0));
  T dD = 0, dbias = 0;
  for (int64_t t = L - 1; t >= 0; --t) {
    const T* __restrict Bt = r.B + t * p.B_time_stride;
    const T* __restrict Ct = r.C + t * p.C_time_stride;
    const T* __restrict hcur = hs + (t + 1) * N;
    const T* __restrict hprev = hs + t * N;
    const T* __restrict at = as + t * N;
    T* __restrict dBt = dB + t * N;
    T* __restrict dCt = dC + t * N;
    const T u = r.u[t];
    const T dt = dts[t];
    T dy = dout[t];
    if (r.z != nullptr) {
      T y = 0;
#pragma omp simd reduction(+ : y)
      for (int64_t n = 0; n < N; ++n) y += hcur[n] * Ct[n];
      const T o = y + r.D * u;
      const T zt = r.z[t];
      const T sz = sig_z[t];
      dz[t] = dy * o * sz * (T(1) + zt * (T(1) - sz));
      dy *= zt * sz;
    }
    dD += dy * u;
    T dut = dy * r.D;
    T ddt = 0;
    const T dtu = dt * u;
#pragma omp simd reduction(+ : ddt, dut)
    for (int64_t n = 0; n < N; ++n) {
      const T g = dhp[n] + dy * Ct[n];
      dCt[n] += dy * hcur[n];
      const T ah = at[n] * hprev[n];
      ddt += g * (A[n] * ah + Bt[n] * u);
      dAp[n] += g * dt * ah;
      dBt[n] += g * dtu;
      dut += g * dt * Bt[n];
      dhp[n] = g * at[n];
    }
    if (p.delta_softplus) ddt *= sig_raw[t];
    ddelta[t] = ddt;
    dbias += ddt;
    du[t] = dut;
  }
  T* dA_out = static_cast<T*>(p.dA_part_ptr) + (b * p.dim + d) * N;
  std::copy(dAp, dAp + N, dA_out);
  if (p.D_ptr != nullptr) static_cast<T*>(p.dD_part_ptr)[b * p.dim + d] = dD;
  if (p.delta_bias_ptr != nullptr) static_cast<T*>(p.ddelta_bias_part_ptr)[b * p.dim + d] = dbias;
}

// ISA clones (GCC function multi-versioning): the AVX2 version uses glibc's
// 8-wide expf, the default one the SSE2 4-wide one; the loader picks one
// per machine, so the binary stays portable (the device machines differ).
#define PEFTSEARCH_CLONES __attribute__((target_clones("avx2", "default")))

PEFTSEARCH_CLONES void FwdRowF(const SelectiveScanParams& p, int64_t b, int64_t d,
                               FwdScratch<float>* s) {
  FwdRow<float>(p, b, d, s);
}
PEFTSEARCH_CLONES void FwdRowD(const SelectiveScanParams& p, int64_t b, int64_t d,
                               FwdScratch<double>* s) {
  FwdRow<double>(p, b, d, s);
}
PEFTSEARCH_CLONES void BwdRowF(const SelectiveScanBwdParams& p, int64_t b, int64_t d, float* dB,
                               float* dC, BwdScratch<float>* s) {
  BwdRow<float>(p, b, d, dB, dC, s);
}
PEFTSEARCH_CLONES void BwdRowD(const SelectiveScanBwdParams& p, int64_t b, int64_t d, double* dB,
                               double* dC, BwdScratch<double>* s) {
  BwdRow<double>(p, b, d, dB, dC, s);
}

inline void FwdRowAny(const SelectiveScanParams& p, int64_t b, int64_t d,
                      FwdScratch<float>* s) {
  FwdRowF(p, b, d, s);
}
inline void FwdRowAny(const SelectiveScanParams& p, int64_t b, int64_t d,
                      FwdScratch<double>* s) {
  FwdRowD(p, b, d, s);
}
inline void BwdRowAny(const SelectiveScanBwdParams& p, int64_t b, int64_t d, float* dB, float* dC,
                      BwdScratch<float>* s) {
  BwdRowF(p, b, d, dB, dC, s);
}
inline void BwdRowAny(const SelectiveScanBwdParams& p, int64_t b, int64_t d, double* dB,
                      double* dC, BwdScratch<double>* s) {
  BwdRowD(p, b, d, dB, dC, s);
}

}  // namespace

template <typename T>
void SelectiveScanFwdCpu(const SelectiveScanParams& p) {
  at::parallel_for(0, p.batch * p.dim, 1, [&](int64_t begin, int64_t end) {
    FwdScratch<T> scratch(p.seqlen, p.dstate);
    for (int64_t idx = begin; idx < end; ++idx) FwdRowAny(p, idx / p.dim, idx % p.dim, &scratch);
  });
}

template <typename T>
void SelectiveScanBwdCpu(const SelectiveScanBwdParams& p) {
  const int64_t N = p.dstate;
  const int64_t L = p.seqlen;
  const int64_t nblk = p.n_dim_blocks;
  at::parallel_for(0, p.batch * nblk, 1, [&](int64_t begin, int64_t end) {
    BwdScratch<T> scratch(L, N);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / nblk;
      const int64_t blk = task % nblk;
      const int64_t d0 = blk * p.dim_block_size;
      const int64_t d1 = std::min(p.dim, d0 + p.dim_block_size);
      T* dB = static_cast<T*>(p.dB_part_ptr) + (b * nblk + blk) * L * N;
      T* dC = static_cast<T*>(p.dC_part_ptr) + (b * nblk + blk) * L * N;
      std::fill(dB, dB + L * N, T(0));
      std::fill(dC, dC + L * N, T(0));
      for (int64_t d = d0; d < d1; ++d) BwdRowAny(p, b, d, dB, dC, &scratch);
    }
  });
}

template void SelectiveScanFwdCpu<float>(const SelectiveScanParams&);
template void SelectiveScanFwdCpu<double>(const SelectiveScanParams&);
template void SelectiveScanBwdCpu<float>(const SelectiveScanBwdParams&);
template void SelectiveScanBwdCpu<double>(const SelectiveScanBwdParams&);

}  // namespace kernels
}  // namespace peftsearch
