// Fused CPU selective scan vs the LibTorch-ops reference: outputs and all
// gradients, plus a double-precision finite-difference check of the fused
// backward itself, including Additional-scan's d_state = 16 + k.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "kernels/selective_scan_op.h"
#include "kernels/selective_scan_ref.h"

namespace peftsearch {
namespace kernels {
namespace {

using torch::Tensor;

struct Case {
  int64_t batch, dim, L, N;
  bool has_D, has_z, has_bias, softplus;
};

std::string Name(const Case& c) {
  return "b" + std::to_string(c.batch) + "_d" + std::to_string(c.dim) + "_L" +
         std::to_string(c.L) + "_N" + std::to_string(c.N) + (c.has_D ? "_D" : "") +
         (c.has_z ? "_z" : "") + (c.has_bias ? "_bias" : "") + (c.softplus ? "_sp" : "");
}

// Inputs in the ranges Vim sees: A < 0 (A = -exp(A_log)), delta around the
// softplus knee, B/C/u/z of unit scale.
std::vector<Tensor> MakeInputs(const Case& c, torch::Dtype dtype, uint64_t seed) {
  torch::manual_seed(seed);
  auto o = torch::TensorOptions().dtype(dtype);
  std::vector<Tensor> in;
  in.push_back(torch::randn({c.batch, c.dim, c.L}, o));                     // u
  in.push_back(torch::randn({c.batch, c.dim, c.L}, o) * 0.5 - 1.0);         // delta
  in.push_back(-torch::exp(torch::randn({c.dim, c.N}, o) * 0.5));           // A
  in.push_back(torch::randn({c.batch, c.N, c.L}, o));                       // B
  in.push_back(torch::randn({c.batch, c.N, c.L}, o));                       // C
  in.push_back(c.has_D ? torch::randn({c.dim}, o) : Tensor());              // D
  in.push_back(c.has_z ? torch::randn({c.batch, c.dim, c.L}, o) : Tensor());  // z
  in.push_back(c.has_bias ? torch::randn({c.dim}, o) * 0.5 : Tensor());     // delta_bias
  return in;
}

Tensor RunScan(bool fused, const std::vector<Tensor>& in, bool softplus) {
  auto f = fused ? SelectiveScan : SelectiveScanRef;
  return f(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], softplus);
}

std::vector<Tensor> Grads(bool fused, std::vector<Tensor> in, bool softplus,
                          const Tensor& w) {
  for (auto& t : in) {
    if (t.defined()) t = t.detach().clone().requires_grad_(true);
  }
  Tensor loss = (RunScan(fused, in, softplus) * w).sum();
  loss.backward();
  std::vector<Tensor> g;
  for (auto& t : in) g.push_back(t.defined() ? t.grad() : Tensor());
  return g;
}

const char* kNames[] = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};

class SelectiveScanTest : public ::testing::TestWithParam<Case> {};

TEST_P(SelectiveScanTest, ForwardMatchesReferenceFloatAndDouble) {
  const Case c = GetParam();
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    auto in = MakeInputs(c, dtype, 1);
    Tensor a = RunScan(true, in, c.softplus), b = RunScan(false, in, c.softplus);
    const double tol = dtype == torch::kFloat ? 1e-4 : 1e-11;
    EXPECT_TRUE(torch::allclose(a, b, tol, tol))
        << Name(c) << " dtype " << dtype << " max err " << (a - b).abs().max().item<double>();
  }
}

TEST_P(SelectiveScanTest, GradientsMatchReferenceAutograd) {
  const Case c = GetParam();
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    auto in = MakeInputs(c, dtype, 2);
    Tensor w = torch::randn({c.batch, c.dim, c.L}, torch::TensorOptions().dtype(dtype));
    auto gf = Grads(true, in, c.softplus, w);
    auto gr = Grads(false, in, c.softplus, w);
    const double tol = dtype == torch::kFloat ? 2e-3 : 1e-9;
    for (size_t i = 0; i < gf.size(); ++i) {
      ASSERT_EQ(gf[i].defined(), gr[i].defined()) << kNames[i];
      if (!gf[i].defined()) continue;
      const double scale = 1.0 + gr[i].abs().max().item<double>();
      const double err = (gf[i] - gr[i]).abs().max().item<double>();
      EXPECT_LE(err, tol * scale) << Name(c) << " grad " << kNames[i] << " dtype " << dtype;
    }
  }
}

// Central differences on every input element (double): checks the fused
// backward against the fused forward, independent of the reference.
TEST_P(SelectiveScanTest, DoubleFiniteDifferenceGradcheck) {
  Case c = GetParam();
  if (c.dim * c.L * c.batch > 200) GTEST_SKIP() << "finite differences only on small cases";
  auto in = MakeInputs(c, torch::kDouble, 3);
  Tensor w = torch::randn({c.batch, c.dim, c.L}, torch::kDouble);
  auto analytic = Grads(true, in, c.softplus, w);
  const double eps = 1e-6;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i].defined()) continue;
    Tensor flat = in[i].view(-1);
    Tensor numeric = torch::empty_like(flat);
    for (int64_t k = 0; k < flat.numel(); ++k) {
      const double orig = flat[k].item<double>();
      flat[k] = orig + eps;
      const double fp = (RunScan(true, in, c.softplus) * w).sum().item<double>();
      flat[k] = orig - eps;
      const double fm = (RunScan(true, in, c.softplus) * w).sum().item<double>();
      flat[k] = orig;
      numeric[k] = (fp - fm) / (2 * eps);
    }
    const double err = (analytic[i].reshape(-1) - numeric).abs().max().item<double>();
    EXPECT_LE(err, 1e-6 * (1.0 + numeric.abs().max().item<double>()))
        << Name(c) << " input " << kNames[i];
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SelectiveScanTest,
    ::testing::Values(
        // Vim's configuration: D skip, z gate, dt bias, softplus.
        Case{2, 3, 7, 16, true, true, true, true},
        // Additional-scan: d_state 16 + k (k = 1, 6).
        Case{2, 3, 6, 17, true, true, true, true}, Case{1, 2, 5, 22, true, true, true, true},
        // Odd d_state and feature flags off.
        Case{2, 4, 5, 5, false, false, false, false}, Case{1, 3, 6, 3, true, false, true, true},
        Case{2, 2, 4, 16, false, true, false, true},
        // Larger: more channels than threads x 4, several channel blocks.
        Case{3, 40, 33, 16, true, true, true, true}),
    [](const ::testing::TestParamInfo<Case>& info) { return Name(info.param); });

// B and C as the model passes them: slices of one [batch, L, r + 2N] (or
// channel-major [batch, r + 2N, L]) projection output, not contiguous.
TEST(SelectiveScanLayouts, StridedBAndCMatchContiguous) {
  const int64_t batch = 2, dim = 5, L = 9, N = 6, r = 3;
  auto in = MakeInputs(Case{batch, dim, L, N, true, true, true, true}, torch::kFloat, 6);
  for (bool channel_major : {false, true}) {
    Tensor x_dbl = channel_major ? torch::randn({batch, r + 2 * N, L})
                                 : torch::randn({batch, L, r + 2 * N}).transpose(1, 2);
    in[3] = x_dbl.narrow(1, r, N);
    in[4] = x_dbl.narrow(1, r + N, N);
    ASSERT_FALSE(in[3].is_contiguous());
    Tensor strided = RunScan(true, in, true);
    auto contiguous = in;
    contiguous[3] = in[3].contiguous();
    contiguous[4] = in[4].contiguous();
    EXPECT_TRUE(torch::allclose(strided, RunScan(false, contiguous, true), 1e-4, 1e-4));
  }
}

TEST(SelectiveScanChecks, WrongShapeNamesTheArgument) {
  auto in = MakeInputs(Case{2, 3, 5, 4, true, true, true, true}, torch::kFloat, 4);
  in[3] = torch::randn({2, 5, 5});  // B with N = 5 while A has N = 4
  try {
    RunScan(true, in, true);
    FAIL() << "expected a shape error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("B has shape"), std::string::npos) << e.what();
  }
}

TEST(SelectiveScanChecks, RejectsIntegerDtype) {
  auto in = MakeInputs(Case{1, 2, 3, 4, false, false, false, false}, torch::kFloat, 5);
  in[0] = torch::ones({1, 2, 3}, torch::kLong);
  EXPECT_THROW(RunScan(true, in, false), c10::Error);
}

}  // namespace
}  // namespace kernels
}  // namespace peftsearch
