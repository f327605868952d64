#include "kernels/selective_scan_ref.h"

#include <vector>

namespace peftsearch {
namespace kernels {

using torch::Tensor;

Tensor SelectiveScanRef(const Tensor& u, const Tensor& delta_in, const Tensor& A,
                        const Tensor& B, const Tensor& C, const Tensor& D, const Tensor& z,
                        const Tensor& delta_bias, bool delta_softplus) {
  Tensor delta = delta_in;
  if (delta_bias.defined()) delta = delta + delta_bias.unsqueeze(-1);
  if (delta_softplus) delta = torch::nn::functional::softplus(delta);
  const int64_t batch = u.size(0), dim = u.size(1), L = u.size(2), N = A.size(1);
  Tensor deltaA = torch::exp(torch::einsum("bdl,dn->bdln", {delta, A}));
  Tensor deltaB_u = torch::einsum("bdl,bnl,bdl->bdln", {delta, B, u});
  Tensor x = torch::zeros({batch, dim, N}, u.options());
  std::vector<Tensor> ys;
  ys.reserve(L);
  for (int64_t i = 0; i < L; ++i) {
    x = deltaA.select(2, i) * x + deltaB_u.select(2, i);
    ys.push_back(torch::einsum("bdn,bn->bd", {x, C.select(2, i)}));
  }
  Tensor out = torch::stack(ys, 2);
  if (D.defined()) out = out + u * D.unsqueeze(-1);
  if (z.defined()) out = out * torch::silu(z);
  return out;
}

}  // namespace kernels
}  // namespace peftsearch
