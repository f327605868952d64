#include "worker/model/vim_extension.h"

#include <utility>

namespace peftsearch {
namespace model {
namespace {

torch::Tensor AddDefined(const torch::Tensor& sum, const torch::Tensor& term) {
  if (!term.defined()) return sum;
  if (!sum.defined()) return term;
  return sum + term;
}

// Concatenates along the token axis (dim 1), skipping undefined parts.
torch::Tensor CatTokens(const torch::Tensor& first, const torch::Tensor& second) {
  if (!second.defined()) return first;
  if (!first.defined()) return second;
  return torch::cat({first, second}, 1);
}

}  // namespace

CompositeVimExtension::CompositeVimExtension(
    std::vector<std::shared_ptr<VimExtension>> children)
    : children_(std::move(children)) {}

void CompositeVimExtension::BeginForward(const torch::Tensor& images, bool training) {
  for (auto& c : children_) c->BeginForward(images, training);
}

void CompositeVimExtension::EndForward() {
  for (auto& c : children_) c->EndForward();
}

torch::Tensor CompositeVimExtension::Param(const std::string& name, const torch::Tensor& base) {
  torch::Tensor t = base;
  for (auto& c : children_) t = c->Param(name, t);
  return t;
}

torch::Tensor CompositeVimExtension::PatchEmbedDelta(const torch::Tensor& images) {
  torch::Tensor sum;
  for (auto& c : children_) sum = AddDefined(sum, c->PatchEmbedDelta(images));
  return sum;
}

void CompositeVimExtension::OnTokens(torch::Tensor* tokens, int64_t* cls_index) {
  for (auto& c : children_) c->OnTokens(tokens, cls_index);
}

torch::Tensor CompositeVimExtension::InProjDelta(int64_t layer, const torch::Tensor& h) {
  torch::Tensor sum;
  for (auto& c : children_) sum = AddDefined(sum, c->InProjDelta(layer, h));
  return sum;
}

XzAffix CompositeVimExtension::Affix(int64_t layer, const torch::Tensor& xz) {
  XzAffix all;
  for (auto& c : children_) {
    XzAffix a = c->Affix(layer, xz);
    all.forward_prefix = CatTokens(all.forward_prefix, a.forward_prefix);
    all.forward_suffix = CatTokens(all.forward_suffix, a.forward_suffix);
    all.backward_prefix = CatTokens(all.backward_prefix, a.backward_prefix);
    all.backward_suffix = CatTokens(all.backward_suffix, a.backward_suffix);
  }
  return all;
}

torch::Tensor CompositeVimExtension::OutProjDelta(int64_t layer, const torch::Tensor& y) {
  torch::Tensor sum;
  for (auto& c : children_) sum = AddDefined(sum, c->OutProjDelta(layer, y));
  return sum;
}

}  // namespace model
}  // namespace peftsearch
