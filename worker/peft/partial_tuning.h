// Partial tuning (MambaPEFT §3.3, research note §5.6): CLS-token, Pos-embed,
// Bias (the dt_proj bias only), D, A and Conv1d (weight only) tuning. As the
// official "v2" code does, the pre-trained tensor W0 stays frozen and a
// zero-initialised trainable delta is added (W = W0 + dW); AdamW's decoupled
// weight decay on dW (Table 9 step 1: wd = 1e-3) is the paper's regulariser
// |W - W0|^2 toward the pre-trained weights (Table 2c). At initialisation the
// model is exactly the backbone.
// Thread safety: see method_extension.h.
#ifndef PEFTSEARCH_WORKER_PEFT_PARTIAL_TUNING_H_
#define PEFTSEARCH_WORKER_PEFT_PARTIAL_TUNING_H_

#include <map>
#include <memory>
#include <string>

#include "worker/peft/method_extension.h"

namespace peftsearch {
namespace peft {

class PartialTuningExtension : public MethodExtension {
 public:
  // method: cls_token | pos_embed | bias | d | a | conv1d.
  PartialTuningExtension(const std::string& method, const BackboneInfo& backbone);

  torch::Tensor Param(const std::string& name, const torch::Tensor& base) override;

 private:
  void AddDelta(const BackboneInfo& backbone, const std::string& key, const std::string& name);
  std::map<std::string, torch::Tensor> delta_by_key_;  // official key -> dW
};

}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_PARTIAL_TUNING_H_
