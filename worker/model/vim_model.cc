#include "worker/model/vim_model.h"

namespace peftsearch {
namespace model {

using torch::Tensor;

namespace {

// `patch_embed` only holds `proj` (PatchEmbed's norm is Identity).
class PatchEmbedImpl : public torch::nn::Module {
 public:
  explicit PatchEmbedImpl(Weights p) { proj = register_module("proj", std::move(p)); }
  Weights proj{nullptr};
};

}  // namespace

VisionMambaImpl::VisionMambaImpl(const VimConfig& c) : config_(c) {
  const int64_t D = c.embed_dim;
  // Registration order of VisionMamba.__init__ (state_dict order).
  cls_token = register_parameter("cls_token", torch::empty({1, 1, D}));
  pos_embed = register_parameter("pos_embed", torch::empty({1, c.seq_len(), D}));
  patch_embed_proj = Weights(std::vector<int64_t>{D, c.in_chans, c.patch_size, c.patch_size},
                             std::vector<int64_t>{D});
  register_module("patch_embed", std::make_shared<PatchEmbedImpl>(patch_embed_proj));
  if (c.num_classes > 0) {
    head = register_module("head", Weights(std::vector<int64_t>{c.num_classes, D},
                                           std::vector<int64_t>{c.num_classes}));
  }
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.depth; ++i) {
    MixerOptions mo;
    mo.d_model = D;
    mo.d_state = c.d_state;
    mo.d_conv = c.d_conv;
    mo.expand = c.expand;
    mo.dt_rank = c.dt_rank();
    mo.bidirectional = true;
    mo.divide_out = true;
    mo.layer = i;
    const std::string prefix = "layers." + std::to_string(i) + ".";
    layers->push_back(MambaBlock(mo, c.norm_eps, c.BlockDropPath(i), prefix));
  }
  norm_f = register_module("norm_f", Weights(std::vector<int64_t>{D}, std::vector<int64_t>{}));
}

Tensor VisionMambaImpl::ForwardFeatures(const Tensor& images, VimExtension* ext) {
  const VimConfig& c = config_;
  TORCH_CHECK(images.dim() == 4 && images.size(1) == c.in_chans &&
                  images.size(2) == c.img_size && images.size(3) == c.img_size,
              "VisionMamba: images must be [B, ", c.in_chans, ", ", c.img_size, ", ", c.img_size,
              "], got ", images.sizes());
  if (ext != nullptr) ext->BeginForward(images, is_training());

  Tensor x = torch::conv2d(images, EffectiveParam(ext, "patch_embed.proj.weight",
                                                   patch_embed_proj->weight),
                           EffectiveParam(ext, "patch_embed.proj.bias", patch_embed_proj->bias),
                           c.stride);
  x = x.flatten(2).transpose(1, 2);  // [B, M, D], row-major patches
  if (ext != nullptr) {
    Tensor delta = ext->PatchEmbedDelta(images);
    if (delta.defined()) x = x + delta;
  }
  const int64_t B = x.size(0), pos = c.cls_position();
  Tensor cls = EffectiveParam(ext, "cls_token", cls_token).expand({B, -1, -1});
  x = torch::cat({x.narrow(1, 0, pos), cls, x.narrow(1, pos, x.size(1) - pos)}, 1);
  x = x + EffectiveParam(ext, "pos_embed", pos_embed);  // pos_drop has rate 0
  int64_t cls_index = pos;
  if (ext != nullptr) ext->OnTokens(&x, &cls_index);

  Tensor hidden = x, residual;
  for (const auto& layer : *layers) {
    std::tie(hidden, residual) = layer->as<MambaBlockImpl>()->forward(hidden, residual, ext);
  }
  // Final add + norm_f; the last drop path uses the full rate.
  residual = residual + DropPath(hidden, c.drop_path_rate, is_training());
  hidden = RmsNorm(residual, EffectiveParam(ext, "norm_f.weight", norm_f->weight), c.norm_eps);
  Tensor features = hidden.select(1, cls_index);
  if (ext != nullptr) ext->EndForward();
  return features;
}

Tensor VisionMambaImpl::forward(const Tensor& images, VimExtension* ext) {
  TORCH_CHECK(!head.is_empty(), "VisionMamba: num_classes = 0, the model has no head");
  return torch::linear(ForwardFeatures(images, ext), head->weight, head->bias);
}

}  // namespace model
}  // namespace peftsearch
