#include "worker/model/mamba_lm.h"

namespace peftsearch {
namespace model {

const std::set<std::string> kMambaLMIgnoredKeys = {"lm_head.weight"};

namespace {

// The `backbone` (MixerModel) module: embedding, layers, norm_f.
class MixerModelImpl : public torch::nn::Module {
 public:
  MixerModelImpl(Weights e, torch::nn::ModuleList l, Weights n) {
    register_module("embedding", std::move(e));
    register_module("layers", std::move(l));
    register_module("norm_f", std::move(n));
  }
};

}  // namespace

MambaLMImpl::MambaLMImpl(const MambaLMConfig& c) : config_(c) {
  embedding = Weights(std::vector<int64_t>{c.padded_vocab(), c.d_model}, std::vector<int64_t>{});
  layers = torch::nn::ModuleList();
  for (int64_t i = 0; i < c.n_layer; ++i) {
    MixerOptions mo;
    mo.d_model = c.d_model;
    mo.d_state = c.d_state;
    mo.d_conv = c.d_conv;
    mo.expand = c.expand;
    mo.dt_rank = c.dt_rank();
    mo.bidirectional = false;
    mo.layer = i;
    layers->push_back(MambaBlock(mo, c.norm_eps, 0.0, "layers." + std::to_string(i) + "."));
  }
  norm_f = Weights(std::vector<int64_t>{c.d_model}, std::vector<int64_t>{});
  register_module("backbone", std::make_shared<MixerModelImpl>(embedding, layers, norm_f));
}

torch::Tensor MambaLMImpl::forward(const torch::Tensor& input_ids) {
  TORCH_CHECK(input_ids.dim() == 2 && input_ids.scalar_type() == torch::kLong,
              "MambaLM: input_ids must be int64 [B, L], got ", input_ids.sizes(), " ",
              input_ids.scalar_type());
  torch::Tensor hidden = torch::embedding(embedding->weight, input_ids), residual;
  for (const auto& layer : *layers) {
    std::tie(hidden, residual) = layer->as<MambaBlockImpl>()->forward(hidden, residual, nullptr);
  }
  residual = residual + hidden;
  hidden = RmsNorm(residual, norm_f->weight, config_.norm_eps);
  return torch::matmul(hidden, embedding->weight.t());  // tied lm_head
}

}  // namespace model
}  // namespace peftsearch
