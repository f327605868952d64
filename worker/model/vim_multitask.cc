#include "worker/model/vim_multitask.h"

#include <utility>

namespace peftsearch {
namespace model {

SharedVimBackbone::SharedVimBackbone(VisionMamba backbone) : backbone_(std::move(backbone)) {
  for (auto& p : backbone_->parameters()) p.set_requires_grad(false);
}

int SharedVimBackbone::AddTask(std::shared_ptr<VimExtension> extension, int64_t num_classes) {
  VimTask t;
  t.extension = std::move(extension);
  t.head = torch::nn::Linear(backbone_->config().embed_dim, num_classes);
  {
    torch::NoGradGuard no_grad;
    t.head->weight.zero_();
    t.head->bias.zero_();
  }
  t.head->train(backbone_->is_training());
  tasks_.push_back(std::move(t));
  return static_cast<int>(tasks_.size()) - 1;
}

torch::Tensor SharedVimBackbone::Forward(int i, const torch::Tensor& images) {
  VimTask& t = tasks_.at(i);
  return t.head->forward(backbone_->ForwardFeatures(images, t.extension.get()));
}

void SharedVimBackbone::Train(bool on) {
  backbone_->train(on);
  for (auto& t : tasks_) t.head->train(on);
}

}  // namespace model
}  // namespace peftsearch
