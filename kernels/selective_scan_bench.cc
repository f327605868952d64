// selective_scan_bench: checks the fused CPU scan against the reference on
// one shape, then times forward and forward+backward of both (llm.c habit:
// check before timing). Default shape: one Vim-T direction of one layer at
// batch 8 (dim 384, L 197, d_state 16).
//   selective_scan_bench [batch dim L N threads]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "kernels/selective_scan_op.h"
#include "kernels/selective_scan_ref.h"

namespace {

using torch::Tensor;
using peftsearch::kernels::SelectiveScan;
using peftsearch::kernels::SelectiveScanRef;

template <typename F>
double TimeIt(F f, int reps) {
  f();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t batch = argc > 1 ? std::atol(argv[1]) : 8;
  const int64_t dim = argc > 2 ? std::atol(argv[2]) : 384;
  const int64_t L = argc > 3 ? std::atol(argv[3]) : 197;
  const int64_t N = argc > 4 ? std::atol(argv[4]) : 16;
  const int threads = argc > 5 ? std::atoi(argv[5]) : 2;
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  auto leaf = [](Tensor t) { return t.requires_grad_(true); };
  Tensor u = leaf(torch::randn({batch, dim, L}));
  Tensor delta = leaf(torch::randn({batch, dim, L}) * 0.5 - 1);
  Tensor A = leaf(-torch::exp(torch::randn({dim, N}) * 0.5));
  Tensor B = leaf(torch::randn({batch, N, L}));
  Tensor C = leaf(torch::randn({batch, N, L}));
  Tensor D = leaf(torch::randn({dim}));
  Tensor z = leaf(torch::randn({batch, dim, L}));
  Tensor bias = leaf(torch::randn({dim}) * 0.5);

  {
    torch::NoGradGuard g;
    Tensor a = SelectiveScan(u, delta, A, B, C, D, z, bias, true);
    Tensor b = SelectiveScanRef(u, delta, A, B, C, D, z, bias, true);
    const double err = (a - b).abs().max().item<double>();
    std::printf("check: max abs err fused vs ref %.3e\n", err);
    if (err > 1e-3) return 1;
  }
  Tensor w = torch::randn({batch, dim, L});
  auto fwd = [&](bool fused) {
    torch::NoGradGuard g;
    (fused ? SelectiveScan : SelectiveScanRef)(u, delta, A, B, C, D, z, bias, true);
  };
  auto step = [&](bool fused) {
    Tensor out = (fused ? SelectiveScan : SelectiveScanRef)(u, delta, A, B, C, D, z, bias, true);
    (out * w).sum().backward();
  };
  const double f_fused = TimeIt([&] { fwd(true); }, 5), f_ref = TimeIt([&] { fwd(false); }, 2);
  // The reference backward materialises a full-size gradient per time step
  // (select backward): ~45 s at the default shape, so it is opt-in.
  const bool ref_bwd = std::getenv("SCAN_BENCH_REF_BWD") != nullptr;
  const double s_fused = TimeIt([&] { step(true); }, 3);
  const double s_ref = ref_bwd ? TimeIt([&] { step(false); }, 1) : 0.0;
  std::printf("shape batch %ld dim %ld L %ld N %ld, threads %d\n", (long)batch, (long)dim, (long)L,
              (long)N, threads);
  std::printf("forward     fused %8.2f ms  ref %8.2f ms  speed-up %.1fx\n", f_fused * 1e3,
              f_ref * 1e3, f_ref / f_fused);
  if (ref_bwd) {
    std::printf("fwd+bwd     fused %8.2f ms  ref %8.2f ms  speed-up %.1fx\n", s_fused * 1e3,
                s_ref * 1e3, s_ref / s_fused);
  } else {
    std::printf("fwd+bwd     fused %8.2f ms  (ref: set SCAN_BENCH_REF_BWD=1)\n", s_fused * 1e3);
  }
  return 0;
}
