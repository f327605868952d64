// DoRA (Liu et al., ICML 2024, arXiv 2402.09353) on the weight targets of the
// LoRA family: the adapted rows W0 of a target become
//   W' = m ⊙ (W0 + s·B A) / ‖W0 + s·B A‖      (norm detached, "dora_simple")
// with A of PyTorch's default Linear init, B zero and m = ‖W0‖, so W' = W0 at
// initialisation. Like MambaPEFT's DoRAAdapter (vim_peft_all.py L620-646) the
// scale s is a fixed multiplier (0.1 in its DoRA_p(X) config) and there is no
// dropout. The norm axis is a choice (research/peft_beyond.md §4.1):
//   column  one magnitude per input column, m ∈ R^{1×d_in} (MambaPEFT; default)
//   row     one magnitude per output row, m ∈ R^{rows×1} (NVlabs DoRA)
// Targets and the rows they adapt (x_proj/dt_proj and their row blocks get
// one adapter per scan direction, as LoRA(x_proj) etc.):
//   x (DoRA_p(X)): in_proj rows [0, E)     z: in_proj rows [E, 2E)
//   in_proj: all 2E rows                   out_proj: all D rows
//   x_proj: all rows   d / b / c: x_proj rows [0,R) / [R,R+N) / [R+N,R+2N)
//   dt_proj: all E rows
// For partial targets the norm runs over the adapted rows only, as MambaPEFT's
// DoRA_p(X) (so with column norms x is not "in_proj with Z frozen").
// Thread safety: see method_extension.h.
#ifndef PEFTSEARCH_WORKER_PEFT_DORA_H_
#define PEFTSEARCH_WORKER_PEFT_DORA_H_

#include <map>
#include <string>
#include <vector>

#include "worker/peft/method_extension.h"

namespace peftsearch {
namespace peft {

class DoRAExtension : public MethodExtension {
 public:
  // target: x | z | in_proj | out_proj | x_proj | d | b | c | dt_proj;
  // norm: column | row. REQUIRES: rank >= 1.
  DoRAExtension(const std::string& target, int64_t rank, double scale, const std::string& norm,
                const BackboneInfo& backbone);

  torch::Tensor Param(const std::string& name, const torch::Tensor& base) override;

  static const std::vector<std::string>& Targets();

 private:
  struct Adapter {
    torch::Tensor down;  // [r, in]
    torch::Tensor up;    // [rows, r], zero
    torch::Tensor m;     // [1, in] (column) or [rows, 1] (row)
    int64_t row_begin = 0;
  };
  double scale_;
  bool column_;
  std::map<std::string, Adapter> adapters_;  // official key -> adapter
};

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_DORA_H_
