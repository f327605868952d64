// Fused causal depthwise conv1d (+SiLU) vs LibTorch's conv1d: outputs and
// gradients, and a double-precision finite-difference check of the backward.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "kernels/causal_conv1d_op.h"

namespace peftsearch {
namespace kernels {
namespace {

using torch::Tensor;

struct Case {
  int64_t batch, channels, L, K;
  bool bias, silu;
};

std::vector<Tensor> Grads(bool fused, const Case& c, const Tensor& x, const Tensor& w,
                          const Tensor& b, const Tensor& g) {
  Tensor xi = x.detach().clone().requires_grad_(true);
  Tensor wi = w.detach().clone().requires_grad_(true);
  Tensor bi = c.bias ? b.detach().clone().requires_grad_(true) : Tensor();
  Tensor out = (fused ? CausalConv1d : CausalConv1dRef)(xi, wi, bi, c.silu);
  (out * g).sum().backward();
  return {out.detach(), xi.grad(), wi.grad(), c.bias ? bi.grad() : Tensor()};
}

class CausalConv1dTest : public ::testing::TestWithParam<Case> {};

TEST_P(CausalConv1dTest, MatchesConv1dForwardAndBackward) {
  const Case c = GetParam();
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    torch::manual_seed(1);
    auto o = torch::TensorOptions().dtype(dtype);
    // x as a channel slice of a wider tensor (as the mixer passes xz[:, :d]).
    Tensor x = torch::randn({c.batch, 2 * c.channels, c.L}, o).narrow(1, 0, c.channels);
    Tensor w = torch::randn({c.channels, 1, c.K}, o), b = torch::randn({c.channels}, o);
    Tensor g = torch::randn({c.batch, c.channels, c.L}, o);
    auto f = Grads(true, c, x, w, b, g), r = Grads(false, c, x, w, b, g);
    const double tol = dtype == torch::kFloat ? 1e-5 : 1e-12;
    for (size_t i = 0; i < f.size(); ++i) {
      if (!r[i].defined()) continue;
      EXPECT_LE((f[i] - r[i]).abs().max().item<double>(), tol * (1 + r[i].abs().max().item<double>()))
          << "output/grad " << i << " dtype " << dtype;
    }
  }
}

TEST_P(CausalConv1dTest, DoubleFiniteDifferences) {
  const Case c = GetParam();
  torch::manual_seed(2);
  auto o = torch::TensorOptions().dtype(torch::kDouble);
  Tensor x = torch::randn({c.batch, c.channels, c.L}, o), w = torch::randn({c.channels, 1, c.K}, o);
  Tensor b = torch::randn({c.channels}, o), g = torch::randn({c.batch, c.channels, c.L}, o);
  auto analytic = Grads(true, c, x, w, b, g);
  std::vector<Tensor> inputs = {x, w, b};
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i == 2 && !c.bias) continue;
    Tensor flat = inputs[i].view(-1);
    Tensor numeric = torch::empty_like(flat);
    for (int64_t k = 0; k < flat.numel(); ++k) {
      const double orig = flat[k].item<double>();
      auto f = [&] {
        return (CausalConv1d(x, w, c.bias ? b : Tensor(), c.silu) * g).sum().item<double>();
      };
      flat[k] = orig + 1e-6;
      const double fp = f();
      flat[k] = orig - 1e-6;
      const double fm = f();
      flat[k] = orig;
      numeric[k] = (fp - fm) / 2e-6;
    }
    EXPECT_LE((analytic[i + 1].reshape(-1) - numeric).abs().max().item<double>(), 1e-6)
        << "input " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CausalConv1dTest,
                         ::testing::Values(Case{2, 3, 9, 4, true, true},
                                           Case{1, 4, 3, 4, true, true},  // L < K
                                           Case{2, 2, 7, 2, false, true},
                                           Case{2, 3, 6, 4, true, false}));

TEST(CausalConv1dChecks, WrongWeightShapeIsNamed) {
  try {
    CausalConv1d(torch::randn({1, 3, 5}), torch::randn({4, 1, 4}), Tensor(), true);
    FAIL();
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight has shape"), std::string::npos);
  }
}

}  // namespace
}  // namespace kernels
}  // namespace peftsearch
