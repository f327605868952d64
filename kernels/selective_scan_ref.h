// Reference selective scan in plain LibTorch ops, a transcription of
// selective_scan_ref (state-spaces/mamba@01887ed mamba_ssm/ops/
// selective_scan_interface.py): per-timestep loop, autograd through ops.
// Slow and memory hungry; it is the oracle for tests and benches only.
// Same signature and shapes as SelectiveScan in selective_scan_op.h.
#ifndef PEFTSEARCH_KERNELS_SELECTIVE_SCAN_REF_H_
#define PEFTSEARCH_KERNELS_SELECTIVE_SCAN_REF_H_

#include <torch/torch.h>

namespace peftsearch {
namespace kernels {

torch::Tensor SelectiveScanRef(const torch::Tensor& u, const torch::Tensor& delta,
                               const torch::Tensor& A, const torch::Tensor& B,
                               const torch::Tensor& C, const torch::Tensor& D,
                               const torch::Tensor& z, const torch::Tensor& delta_bias,
                               bool delta_softplus);

}  // namespace kernels
}  // namespace peftsearch

#endif  // PEFTSEARCH_KERNELS_SELECTIVE_SCAN_REF_H_
