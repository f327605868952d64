// Shared helpers of the worker/peft tests: a tiny seeded Vim and a one-step
// AdamW training helper. Test-only.
#ifndef PEFTSEARCH_WORKER_PEFT_TEST_UTIL_H_
#define PEFTSEARCH_WORKER_PEFT_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "worker/model/model_init.h"
#include "worker/model/vim_config.h"
#include "worker/model/vim_model.h"
#include "worker/peft/peft.h"

namespace peftsearch {
namespace peft {
namespace testing {

// A Vim small enough for hundreds of forwards: 16x16 images, 8x8 patches
// (4 patches + CLS), D = 16 (d = 32, dt_rank 1), d_state 4, `depth` layers.
// No drop path, so train and eval differ only in adapter dropout.
inline model::VimConfig TinyConfig(int64_t depth = 2) {
  model::VimConfig c;
  c.img_size = 16;
  c.patch_size = 8;
  c.stride = 8;
  c.in_chans = 3;
  c.embed_dim = 16;
  c.depth = depth;
  c.d_state = 4;
  c.num_classes = 0;
  c.drop_path_rate = 0.0;
  return c;
}

// A frozen, seeded backbone (official init schemes, model_init.h).
inline model::VisionMamba TinyBackbone(int64_t depth = 2, uint64_t seed = 7) {
  model::VisionMamba m(TinyConfig(depth));
  model::InitVim(m.get(), seed);
  for (auto& p : m->parameters()) p.set_requires_grad(false);
  m->eval();
  return m;
}

inline torch::Tensor Images(int64_t batch = 2, uint64_t seed = 11) {
  torch::manual_seed(seed);
  return torch::randn({batch, 3, 16, 16});
}

inline std::map<std::string, torch::Tensor> Snapshot(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : m.named_parameters()) out[item.key()] = item.value().detach().clone();
  return out;
}

inline std::map<std::string, torch::Tensor> Snapshot(const PeftInstance& p) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, t] : p.named_parameters) out[name] = t.detach().clone();
  return out;
}

// A head with random (non-zero) weights. The recipe's head is zero-initialised
// (mmpretrain Constant(0)), which makes the first step's gradient reach the
// head only; a random head lets one step exercise each method's gradient path.
inline torch::nn::Linear RandomHead(int64_t dim, int64_t classes, uint64_t seed = 5) {
  torch::manual_seed(seed);
  torch::nn::Linear head(dim, classes);
  return head;
}

// One AdamW step on cross-entropy over the PEFT groups and the head, in
// training mode. Returns the loss.
inline double TrainOneStep(model::VisionMamba backbone, PeftInstance* peft,
                           torch::nn::Linear head, const torch::Tensor& images,
                           const torch::Tensor& labels) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (const ParamGroup& g : peft->groups) {
    auto opts = std::make_unique<torch::optim::AdamWOptions>(g.lr);
    opts->weight_decay(g.weight_decay);
    groups.emplace_back(g.params, std::move(opts));
  }
  {
    auto opts = std::make_unique<torch::optim::AdamWOptions>(1e-3);
    opts->weight_decay(1e-4);
    groups.emplace_back(head->parameters(), std::move(opts));
  }
  torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(1e-3));
  backbone->train();
  head->train();
  torch::Tensor logits = head->forward(backbone->ForwardFeatures(images, peft->extension.get()));
  torch::Tensor loss = torch::nn::functional::cross_entropy(logits, labels);
  opt.zero_grad();
  loss.backward();
  opt.step();
  backbone->eval();
  head->eval();
  return loss.item<double>();
}

// After one optimizer step only the method's parameters (and the head)
// changed; the backbone is bit-for-bit untouched and got no gradient.
inline void ExpectOnlyPeftAndHeadChange(const nlohmann::json& combination, uint64_t seed) {
  model::VisionMamba backbone = TinyBackbone();
  auto before_backbone = Snapshot(*backbone);
  torch::manual_seed(seed);
  auto p = CreatePeft(combination, backbone, PeftDefaults());
  ASSERT_TRUE(p.ok()) << p.status();
  auto before_peft = Snapshot(*p);
  torch::nn::Linear head = RandomHead(16, 3);
  torch::Tensor head_before = head->weight.detach().clone();
  double loss = 0;
  try {
    loss = TrainOneStep(backbone, &*p, head, Images(), torch::tensor({0L, 2L}));
  } catch (const c10::Error& e) {
    // Report and go on, so that one run lists every failing combination.
    ADD_FAILURE() << combination.dump() << " threw: " << e.what_without_backtrace();
    return;
  }
  EXPECT_TRUE(std::isfinite(loss)) << combination.dump();
  for (const auto& item : backbone->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), before_backbone.at(item.key())))
        << combination.dump() << " changed backbone " << item.key();
    EXPECT_FALSE(item.value().grad().defined()) << item.key();
  }
  EXPECT_FALSE(torch::equal(head->weight, head_before)) << combination.dump();
  // Every method of the combination moved.
  for (auto it = p->resolved.begin(); it != p->resolved.end(); ++it) {
    bool moved = false, got_grad = false;
    for (const ParamGroup& g : p->groups) {
      if (g.method != it.key()) continue;
      for (const torch::Tensor& t : g.params) {
        got_grad = got_grad || (t.grad().defined() && t.grad().abs().max().item<float>() > 0);
      }
    }
    for (const auto& [name, t] : p->named_parameters) {
      bool mine = false;
      for (const ParamGroup& g : p->groups) {
        if (g.method != it.key()) continue;
        for (const torch::Tensor& q : g.params) mine = mine || q.is_same(t);
      }
      if (mine && !torch::equal(t, before_peft.at(name))) moved = true;
    }
    EXPECT_TRUE(got_grad) << it.key() << " got no gradient in " << combination.dump();
    EXPECT_TRUE(moved) << it.key() << " did not change in " << combination.dump();
  }
}

// The backbone's features with `ext` applied (or none), without autograd.
inline torch::Tensor Features(model::VisionMamba backbone, model::VimExtension* ext,
                              const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  return backbone->ForwardFeatures(images, ext);
}

// The child extension of type T in a combination's composite, or null.
template <typename T>
std::shared_ptr<T> Child(const PeftInstance& p) {
  auto composite = std::dynamic_pointer_cast<model::CompositeVimExtension>(p.extension);
  if (composite == nullptr) return nullptr;
  for (const auto& c : composite->children()) {
    if (auto t = std::dynamic_pointer_cast<T>(c)) return t;
  }
  return nullptr;
}

}  // namespace testing
}  // namespace peft
}  // namespace peftsearch

#endif  // PEFTSEARCH_WORKER_PEFT_TEST_UTIL_H_
