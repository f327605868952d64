// Parity of the CUDA kernels against the LibTorch-ops references, computed on
// the CPU in float64 from the same (device-rounded) inputs:
//  - selective scan, float32: forward max abs error <= 1e-5 * max(1, max|ref|)
//    (i.e. 1e-5 absolute for outputs of unit scale), gradients within
//    1e-4 * (1 + max|ref grad|) (relative to the gradient's scale);
//  - bfloat16 inputs/outputs (fp32 state): 1e-2 forward, 3e-2 gradients, in
//    the same form: bf16 keeps 8 bits of mantissa (relative rounding 2^-9);
//  - shapes with d_state 16, 24 (Additional-scan), 32 and 40 (the 64 bin),
//    L = 197 (Vim-S tokens) and L = 2100 (over Mamba's 2048-element chunk,
//    and many of this kernel's 16-step chunks), channels not a multiple of 32,
//    with and without z, D, delta_bias; both directions in one launch;
//  - causal conv1d forward and gradients.
// Without a CUDA device every test is skipped (GTEST_SKIP).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "kernels/causal_conv1d_op.h"
#include "kernels/cuda/selective_scan_cuda_op.h"
#include "kernels/selective_scan_op.h"
#include "kernels/selective_scan_ref.h"

namespace peftsearch {
namespace kernels {
namespace {

using torch::Tensor;

#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible"

struct Case {
  int64_t batch, dim, L, N;
  bool has_D, has_z, has_bias;
};

std::string Name(const Case& c) {
  return "b" + std::to_string(c.batch) + "_d" + std::to_string(c.dim) + "_L" +
         std::to_string(c.L) + "_N" + std::to_string(c.N) + (c.has_D ? "_D" : "") +
         (c.has_z ? "_z" : "") + (c.has_bias ? "_bias" : "");
}

const char* kNames[] = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};

// Inputs in Vim's ranges (as kernels/selective_scan_test.cc), on the GPU.
// Streamed tensors in `dtype`, per-channel ones (A, D, delta_bias) float32.
std::vector<Tensor> MakeInputs(const Case& c, torch::Dtype dtype, uint64_t seed) {
  torch::manual_seed(seed);
  auto s = torch::TensorOptions().device(torch::kCUDA).dtype(dtype);
  auto f = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat);
  return {torch::randn({c.batch, c.dim, c.L}, s),
          (torch::randn({c.batch, c.dim, c.L}, f) * 0.5 - 1.0).to(dtype),
          -torch::exp(torch::randn({c.dim, c.N}, f) * 0.5),
          torch::randn({c.batch, c.N, c.L}, s),
          torch::randn({c.batch, c.N, c.L}, s),
          c.has_D ? torch::randn({c.dim}, f) : Tensor(),
          c.has_z ? torch::randn({c.batch, c.dim, c.L}, s) : Tensor(),
          c.has_bias ? torch::randn({c.dim}, f) * 0.5 : Tensor()};
}

std::vector<Tensor> Leaves(const std::vector<Tensor>& in, bool on_cpu_double) {
  std::vector<Tensor> out;
  for (const Tensor& t : in) {
    if (!t.defined()) {
      out.push_back(Tensor());
      continue;
    }
    Tensor x = on_cpu_double ? t.detach().to(torch::kCPU, torch::kDouble) : t.detach().clone();
    out.push_back(x.requires_grad_(true));
  }
  return out;
}

Tensor Cuda(const std::vector<Tensor>& in) {
  return SelectiveScanCuda({in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]}, true);
}
Tensor Ref(const std::vector<Tensor>& in) {
  return SelectiveScanRef(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], true);
}

double MaxAbs(const Tensor& t) { return t.abs().max().item<double>(); }

struct Bounds {
  double fwd, grad;
};
Bounds BoundsFor(torch::Dtype dtype) {
  return dtype == torch::kFloat ? Bounds{1e-5, 1e-4} : Bounds{1e-2, 3e-2};
}

void ExpectClose(const Tensor& got, const Tensor& ref, double bound, const std::string& what) {
  const Tensor g = got.to(torch::kCPU, torch::kDouble);
  const double err = MaxAbs(g - ref.detach());
  const double scale = MaxAbs(ref.detach());
  EXPECT_LE(err, bound * std::max(1.0, scale)) << what << ": max abs err " << err
                                               << ", max |ref| " << scale;
}

class ScanCudaTest : public ::testing::TestWithParam<Case> {};

TEST_P(ScanCudaTest, ForwardAndGradientsMatchReference) {
  SKIP_WITHOUT_CUDA();
  const Case c = GetParam();
  for (torch::Dtype dtype : {torch::kFloat, torch::kBFloat16}) {
    const Bounds bound = BoundsFor(dtype);
    const std::string tag = Name(c) + (dtype == torch::kFloat ? " fp32" : " bf16");
    const std::vector<Tensor> base = MakeInputs(c, dtype, 7);
    const Tensor w = torch::randn({c.batch, c.dim, c.L}, torch::kDouble);

    std::vector<Tensor> gpu = Leaves(base, false), cpu = Leaves(base, true);
    Tensor out = Cuda(gpu), ref = Ref(cpu);
    ASSERT_EQ(out.scalar_type(), dtype);
    ExpectClose(out, ref, bound.fwd, tag + " out");

    (out.to(torch::kDouble) * w.to(out.device())).sum().backward();
    (ref * w).sum().backward();
    for (size_t i = 0; i < gpu.size(); ++i) {
      if (!gpu[i].defined()) continue;
      ASSERT_TRUE(gpu[i].grad().defined()) << tag << " grad " << kNames[i];
      const Tensor g = gpu[i].grad().to(torch::kCPU, torch::kDouble);
      const Tensor r = cpu[i].grad();
      const double err = MaxAbs(g - r);
      EXPECT_LE(err, bound.grad * (1.0 + MaxAbs(r)))
          << tag << " grad " << kNames[i] << ": max abs err " << err << ", max |ref| "
          << MaxAbs(r);
    }
  }
}

// Both directions in one launch; the second scanned in reverse must equal
// flip(scan(flip(inputs))) of the reference, gradients included.
TEST_P(ScanCudaTest, PairWithReversedSecondDirection) {
  SKIP_WITHOUT_CUDA();
  const Case c = GetParam();
  const Bounds bound = BoundsFor(torch::kFloat);
  std::vector<Tensor> g1 = Leaves(MakeInputs(c, torch::kFloat, 11), false);
  std::vector<Tensor> g2 = Leaves(MakeInputs(c, torch::kFloat, 12), false);
  std::vector<Tensor> c1 = Leaves(g1, true), c2 = Leaves(g2, true);
  auto outs = SelectiveScanCudaPair({g1[0], g1[1], g1[2], g1[3], g1[4], g1[5], g1[6], g1[7]},
                                    {g2[0], g2[1], g2[2], g2[3], g2[4], g2[5], g2[6], g2[7]},
                                    true, /*reverse_second=*/true);
  auto flip_time = [](const Tensor& t) { return t.defined() && t.dim() == 3 ? t.flip(2) : t; };
  std::vector<Tensor> c2_flipped;
  for (const Tensor& t : c2) c2_flipped.push_back(flip_time(t));
  Tensor r1 = Ref(c1), r2 = Ref(c2_flipped).flip(2);
  ExpectClose(outs.first, r1, bound.fwd, Name(c) + " pair first");
  ExpectClose(outs.second, r2, bound.fwd, Name(c) + " pair second (reversed)");

  const Tensor w1 = torch::randn({c.batch, c.dim, c.L}, torch::kDouble);
  const Tensor w2 = torch::randn({c.batch, c.dim, c.L}, torch::kDouble);
  ((outs.first.to(torch::kDouble) * w1.cuda()).sum() +
   (outs.second.to(torch::kDouble) * w2.cuda()).sum())
      .backward();
  ((r1 * w1).sum() + (r2 * w2).sum()).backward();
  for (int dir = 0; dir < 2; ++dir) {
    const std::vector<Tensor>& g = dir == 0 ? g1 : g2;
    const std::vector<Tensor>& r = dir == 0 ? c1 : c2;
    for (size_t i = 0; i < g.size(); ++i) {
      if (!g[i].defined()) continue;
      const double err = MaxAbs(g[i].grad().to(torch::kCPU, torch::kDouble) - r[i].grad());
      EXPECT_LE(err, bound.grad * (1.0 + MaxAbs(r[i].grad())))
          << Name(c) << " pair direction " << dir << " grad " << kNames[i];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ScanCudaTest,
    ::testing::Values(Case{2, 40, 197, 16, true, true, true},   // Vim-S tokens, 2 warps
                      Case{2, 33, 197, 24, true, true, true},   // Additional-scan 16 + 8
                      Case{1, 64, 197, 32, true, false, true},  // 32 bin, no gate
                      Case{1, 20, 61, 40, false, true, false},  // 64 bin, no D, no bias
                      Case{1, 8, 2100, 16, true, true, true},   // long sequence
                      Case{1, 5, 37, 5, false, false, false}),  // everything off
    [](const ::testing::TestParamInfo<Case>& info) { return Name(info.param); });

// The model's entry point sends CUDA tensors to the CUDA kernel.
TEST(ScanCudaDispatch, SelectiveScanRoutesCudaTensors) {
  SKIP_WITHOUT_CUDA();
  const Case c{2, 8, 30, 16, true, true, true};
  const std::vector<Tensor> in = MakeInputs(c, torch::kFloat, 3);
  Tensor a = SelectiveScan(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], true);
  EXPECT_TRUE(a.is_cuda());
  ExpectClose(a, Ref(Leaves(in, true)), 1e-5, "dispatch");
}

TEST(ScanCudaChecks, DStateOverLimitNamesTheArgument) {
  SKIP_WITHOUT_CUDA();
  const Case c{1, 4, 8, 65, true, true, true};
  const std::vector<Tensor> in = MakeInputs(c, torch::kFloat, 4);
  try {
    Cuda(in);
    FAIL() << "expected a d_state error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("d_state"), std::string::npos) << e.what();
  }
}

TEST(ConvCuda, ForwardAndGradientsMatchReference) {
  SKIP_WITHOUT_CUDA();
  for (bool silu : {true, false}) {
    for (int64_t K : {2, 4}) {
      torch::manual_seed(5);
      auto o = torch::TensorOptions().device(torch::kCUDA);
      Tensor x = torch::randn({3, 37, 197}, o).requires_grad_(true);
      Tensor w = torch::randn({37, 1, K}, o).requires_grad_(true);
      Tensor b = torch::randn({37}, o).requires_grad_(true);
      Tensor xr = x.detach().to(torch::kCPU, torch::kDouble).requires_grad_(true);
      Tensor wr = w.detach().to(torch::kCPU, torch::kDouble).requires_grad_(true);
      Tensor br = b.detach().to(torch::kCPU, torch::kDouble).requires_grad_(true);
      Tensor out = CausalConv1d(x, w, b, silu);  // dispatches to CausalConv1dCuda
      Tensor ref = CausalConv1dRef(xr, wr, br, silu);
      const std::string tag = "conv K=" + std::to_string(K) + (silu ? " silu" : "");
      ExpectClose(out, ref, 1e-5, tag + " out");
      Tensor wt = torch::randn(ref.sizes(), torch::kDouble);
      (out.to(torch::kDouble) * wt.cuda()).sum().backward();
      (ref * wt).sum().backward();
      for (auto [g, r, name] : {std::make_tuple(x, xr, "x"), std::make_tuple(w, wr, "weight"),
                                std::make_tuple(b, br, "bias")}) {
        const double err = MaxAbs(g.grad().to(torch::kCPU, torch::kDouble) - r.grad());
        EXPECT_LE(err, 1e-4 * (1.0 + MaxAbs(r.grad()))) << tag << " grad " << name;
      }
    }
  }
}

}  // namespace
}  // namespace kernels
}  // namespace peftsearch
