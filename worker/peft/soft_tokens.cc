#include "worker/peft/soft_tokens.h"

namespace peftsearch {
namespace peft {

void PrefixEncoder::Init(MethodExtension* owner, const std::string& prefix, bool projection,
                         int64_t tokens, int64_t token_dim, int64_t hidden, int64_t out_width,
                         const torch::TensorOptions& options) {
  projection_ = projection;
  // Creation order of PrefixEncoder.__init__ (embedding, then transform.0,
  // transform.2), so one seed draws the same values in the same order.
  if (projection) {
    embedding_ = owner->Register(prefix + "embedding.weight",
                                 StandardNormal({tokens, token_dim}, options));
    w0_ = owner->Register(prefix + "transform.0.weight",
                          DefaultUniform({hidden, token_dim}, token_dim, options));
    b0_ = owner->Register(prefix + "transform.0.bias", DefaultUniform({hidden}, token_dim, options));
    w2_ = owner->Register(prefix + "transform.2.weight",
                          DefaultUniform({out_width, hidden}, hidden, options));
    b2_ = owner->Register(prefix + "transform.2.bias", DefaultUniform({out_width}, hidden, options));
  } else {
    embedding_ = owner->Register(prefix + "embedding.weight",
                                 StandardNormal({tokens, out_width}, options));
  }
}

torch::Tensor PrefixEncoder::Forward() const {
  if (!projection_) return embedding_;
  return torch::linear(torch::tanh(torch::linear(embedding_, w0_, b0_)), w2_, b2_);
}

PromptExtension::PromptExtension(int64_t tokens, bool projection, const std::string& position,
                                 const BackboneInfo& backbone)
    : MethodExtension("prompt"), tokens_(tokens), position_(position) {
  TORCH_CHECK(position == "prefix" || position == "suffix" || position == "prefix_suffix",
              "prompt: unknown position ", position);
  const int64_t D = backbone.config.embed_dim;
  // set_peft: PrefixEncoder(prompt_projection, D, n, D, num_layers=1, num_per_layer=1).
  encoder_.Init(this, "prompt_encoder.", projection, tokens, D, D, D, backbone.options);
}

void PromptExtension::OnTokens(torch::Tensor* tokens, int64_t* cls_index) {
  torch::Tensor x = *tokens;
  torch::Tensor p = encoder_.Forward().to(x.scalar_type()).unsqueeze(0).expand(
      {x.size(0), tokens_, x.size(2)});
  if (position_ == "prefix") {
    *tokens = torch::cat({p, x}, 1);
    *cls_index += tokens_;
  } else if (position_ == "suffix") {
    *tokens = torch::cat({x, p}, 1);
  } else {
    // torch.tensor_split(prompts, 2, dim=1): ceil(n/2) in front, the rest behind.
    const int64_t front = (tokens_ + 1) / 2;
    *tokens = torch::cat({p.narrow(1, 0, front), x, p.narrow(1, front, tokens_ - front)}, 1);
    *cls_index += front;
  }
}

AffixExtension::AffixExtension(int64_t tokens, bool projection, const BackboneInfo& backbone)
    : MethodExtension("affix"), tokens_(tokens), width_(2 * backbone.config.d_inner()) {
  // set_peft for "inner_*" types: token_dim = D * expand * 2 (x and z),
  // encoder_hidden_size = token_dim, num_per_layer = 2 (dual: one per scan
  // direction), num_layers = depth.
  const int64_t depth = backbone.config.depth;
  encoder_.Init(this, "prefix_encoder.", projection, tokens, width_, width_, depth * 2 * width_,
                backbone.options);
}

void AffixExtension::BeginForward(const torch::Tensor& images, bool training) {
  MethodExtension::BeginForward(images, training);
  // Evaluated once per forward (forward_features_visionmamba_peft).
  cache_ = encoder_.Forward();
}

void AffixExtension::EndForward() { cache_ = torch::Tensor(); }

model::XzAffix AffixExtension::Affix(int64_t layer, const torch::Tensor& xz) {
  if (!cache_.defined()) cache_ = encoder_.Forward();
  // Layer i takes channels [i*2*T, (i+1)*2*T); the first T are the forward
  // direction's affix, the second T the backward's (inner_dual_prefix).
  torch::Tensor slice = cache_.narrow(1, layer * 2 * width_, 2 * width_).to(xz.scalar_type());
  const int64_t B = xz.size(0);
  model::XzAffix a;
  a.forward_prefix = slice.narrow(1, 0, width_).unsqueeze(0).expand({B, tokens_, width_});
  a.backward_prefix = slice.narrow(1, width_, width_).unsqueeze(0).expand({B, tokens_, width_});
  return a;
}

}  // namespace peft
}  // namespace peftsearch
