#include "worker/peft/additional_scan.h"

namespace peftsearch {
namespace peft {

AdditionalScanExtension::AdditionalScanExtension(int64_t n, const std::string& position,
                                                 bool copy_a, const BackboneInfo& backbone)
    : MethodExtension("additional_scan"),
      n_(n),
      prefix_(position == "prefix"),
      dt_rank_(backbone.config.dt_rank()),
      d_state_(backbone.config.d_state) {
  TORCH_CHECK(position == "prefix" || position == "suffix",
              "additional_scan: unknown position ", position);
  TORCH_CHECK(n >= 1, "additional_scan: n must be >= 1");
  const int64_t d = backbone.config.d_inner(), N = d_state_;
  for (int64_t i = 0; i < backbone.config.depth; ++i) {
    const std::string prefix = MixerPrefix(i);
    // Creation order of set_peft: A_log_scan_addi, x_proj_scan_addi, then
    // the backward pair.
    for (int dir = 0; dir < 2; ++dir) {
      const std::string a_key = prefix + (dir == 0 ? "A_log" : "A_b_log");
      torch::Tensor a_init;
      {
        torch::NoGradGuard no_grad;
        if (copy_a) {
          const torch::Tensor& a = backbone.Get(a_key);
          a_init = a.select(1, prefix_ ? 0 : N - 1).unsqueeze(1).expand({d, n}).clone();
        } else {
          a_init = torch::log(torch::arange(N + 1, N + 1 + n, backbone.options))
                       .unsqueeze(0)
                       .expand({d, n})
                       .clone();
        }
      }
      a_by_key_[a_key] = Register(prefix + (dir == 0 ? "A_log_scan_addi" : "A_b_log_scan_addi"),
                                  a_init, /*decay=*/false);
      const std::string x_attr = dir == 0 ? "x_proj_scan_addi" : "x_proj_b_scan_addi";
      x_proj_by_key_[prefix + (dir == 0 ? "x_proj.weight" : "x_proj_b.weight")] =
          Register(prefix + x_attr + ".weight", DefaultUniform({2 * n, d}, d, backbone.options));
    }
  }
}

torch::Tensor AdditionalScanExtension::Param(const std::string& name, const torch::Tensor& base) {
  const int64_t N = d_state_, r = dt_rank_;
  auto a = a_by_key_.find(name);
  if (a != a_by_key_.end()) {
    TORCH_CHECK(base.dim() == 2 && base.size(1) == N, "additional_scan: ", name, " has shape ",
                base.sizes(), ", expected d_state ", N);
    torch::Tensor addi = a->second.to(base.scalar_type());
    return prefix_ ? torch::cat({addi, base}, 1) : torch::cat({base, addi}, 1);
  }
  auto x = x_proj_by_key_.find(name);
  if (x != x_proj_by_key_.end()) {
    TORCH_CHECK(base.dim() == 2 && base.size(0) == r + 2 * N, "additional_scan: ", name,
                " has shape ", base.sizes(), ", expected ", r + 2 * N, " rows");
    torch::Tensor w = x->second.to(base.scalar_type());
    torch::Tensor b_new = w.narrow(0, 0, n_), c_new = w.narrow(0, n_, n_);
    torch::Tensor dt = base.narrow(0, 0, r), b = base.narrow(0, r, N), c = base.narrow(0, r + N, N);
    return prefix_ ? torch::cat({dt, b_new, b, c_new, c}, 0) : torch::cat({dt, b, b_new, c, c_new}, 0);
  }
  return base;
}

}  // namespace peft
}  // namespace peftsearch
