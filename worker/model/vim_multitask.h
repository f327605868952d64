// Several tasks over ONE shared frozen Vim backbone: each task owns a
// VimExtension (its PEFT combination, may be null) and a classification head;
// the backbone's storage exists once. The trainer trains the five VTAB tasks
// of a trial in parallel this way (DESIGN.md).
//
// The backbone's parameters are frozen (requires_grad = false) on
// construction, so autograd reaches only extension and head parameters.
// Thread safety: Forward(i, ...) for different tasks may run concurrently
// from different threads (the backbone is only read); one task's extension
// and head must not be used by two threads at once. Train()/Eval() switch the
// shared backbone and every head, and must not race with Forward.
#ifndef PEFTSEARCH_WORKER_MODEL_VIM_MULTITASK_H_
#define PEFTSEARCH_WORKER_MODEL_VIM_MULTITASK_H_

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "worker/model/vim_extension.h"
#include "worker/model/vim_model.h"

namespace peftsearch {
namespace model {

struct VimTask {
  std::shared_ptr<VimExtension> extension;  // null: linear probing
  torch::nn::Linear head{nullptr};          // Linear(embed_dim, num_classes)
};

class SharedVimBackbone {
 public:
  // Freezes `backbone` (shared, not copied).
  explicit SharedVimBackbone(VisionMamba backbone);
  SharedVimBackbone(const SharedVimBackbone&) = delete;
  SharedVimBackbone& operator=(const SharedVimBackbone&) = delete;

  // Adds a task with a zero-initialised head (MambaPEFT: mmpretrain
  // VisionTransformerClsHead, Constant(0) init); returns its index.
  int AddTask(std::shared_ptr<VimExtension> extension, int64_t num_classes);
  int num_tasks() const { return static_cast<int>(tasks_.size()); }
  VimTask& task(int i) { return tasks_.at(i); }

  // Logits [B, num_classes(i)] of task i.
  torch::Tensor Forward(int i, const torch::Tensor& images);

  void Train(bool on = true);
  VisionMamba backbone() const { return backbone_; }

 private:
  VisionMamba backbone_;
  std::vector<VimTask> tasks_;
};

}  // namespace model
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_MODEL_VIM_MULTITASK_H_
