#include "worker/peft/prodial.h"

namespace peftsearch {
namespace peft {

ProDiaLExtension::ProDiaLExtension(const ProDiaLOptions& options, const BackboneInfo& backbone)
    : MethodExtension("prodial"),
      options_(options),
      scaling_(options.alpha / static_cast<double>(options.rank)),
      tensor_options_(backbone.options) {
  const model::VimConfig& c = backbone.config;
  const int64_t D = c.embed_dim, E = c.d_inner();
  TORCH_CHECK(options.blocks_in >= 1 && D % options.blocks_in == 0,
              "prodial.blocks_in: in_proj's input width (embed_dim) ", D,
              " is not divisible by the block count ", options.blocks_in);
  TORCH_CHECK(options.blocks_out >= 1 && E % options.blocks_out == 0,
              "prodial.blocks_out: out_proj's input width (d_inner) ", E,
              " is not divisible by the block count ", options.blocks_out);
  TORCH_CHECK(options.rank >= 1, "prodial.r: must be >= 1");
  for (int64_t i = 0; i < c.depth; ++i) {
    const std::string prefix = MixerPrefix(i);
    in_.push_back(Make(prefix + "prodial_in.", D, 2 * E, options.blocks_in));
    out_.push_back(Make(prefix + "prodial_out.", E, D, options.blocks_out));
    in_keys_.push_back(prefix + "in_proj.weight");
    out_keys_.push_back(prefix + "out_proj.weight");
  }
}

ProDiaLExtension::Projector ProDiaLExtension::Make(const std::string& prefix, int64_t d_in,
                                                   int64_t d_out, int64_t blocks) {
  const int64_t b = d_in / blocks;
  Projector p;
  p.blocks = Register(prefix + "blocks", torch::zeros({blocks, b, b}, tensor_options_));
  p.s = Register(prefix + "s", torch::ones({d_out}, tensor_options_));
  p.lora_a = Register(prefix + "lora_A.weight",
                      DefaultUniform({options_.rank, d_in}, d_in, tensor_options_));
  p.lora_b = Register(prefix + "lora_B.weight", torch::zeros({d_out, options_.rank}, tensor_options_));
  return p;
}

torch::Tensor ProDiaLExtension::Blocks(const torch::Tensor& m, bool diag_learnable) {
  const torch::Tensor eye = torch::eye(m.size(1), m.options()).unsqueeze(0);
  if (diag_learnable) return eye + m;
  // The released code: off-diagonals of M as they are, diagonal 1 - relu(diag(M)).
  const torch::Tensor diag = torch::diag_embed(torch::diagonal(m, 0, 1, 2));
  return m * (1 - eye) + eye - torch::relu(diag);
}

torch::Tensor ProDiaLExtension::Transform(const Projector& p, const torch::Tensor& w) const {
  const int64_t blocks = p.blocks.size(0), b = p.blocks.size(1);
  TORCH_CHECK(w.dim() == 2 && w.size(1) == blocks * b && w.size(0) == p.s.size(0),
              "prodial: projector weight has shape ", w.sizes(), ", expected [", p.s.size(0), ", ",
              blocks * b, "]");
  // (W D_b)[o, k*b + j] = sum_i W[o, k*b + i] T_k[i, j], without forming D_b.
  torch::Tensor wd = torch::einsum("oki,kij->okj",
                                   {w.view({w.size(0), blocks, b}), Blocks(p.blocks, options_.diag_learnable)})
                         .reshape(w.sizes());
  return p.s.unsqueeze(1) * wd;
}

torch::Tensor ProDiaLExtension::Epsilon(const Projector& p, const torch::Tensor& x) {
  torch::Tensor t = torch::matmul(torch::dropout(x, kDropout, training()), p.lora_a.t());
  return scaling_ * torch::matmul(t, p.lora_b.t());
}

torch::Tensor ProDiaLExtension::Param(const std::string& name, const torch::Tensor& base) {
  // Keys are few (2 per layer); a linear scan keeps the lookup obvious.
  for (size_t i = 0; i < in_keys_.size(); ++i) {
    if (name == in_keys_[i]) return Transform(in_[i], base);
    if (name == out_keys_[i]) return Transform(out_[i], base);
  }
  return base;
}

torch::Tensor ProDiaLExtension::InProjDelta(int64_t layer, const torch::Tensor& h) {
  return Epsilon(in_.at(layer), h);
}

torch::Tensor ProDiaLExtension::OutProjDelta(int64_t layer, const torch::Tensor& y) {
  return Epsilon(out_.at(layer), y);
}

}  // namespace peft
}  // namespace peftsearch
