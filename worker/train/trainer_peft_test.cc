// The trainer with the real PEFT registry (worker/peft).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "worker/model/state_dict.h"
#include "worker/train/peft_registry_provider.h"
#include "worker/train/test_util.h"
#include "worker/train/trainer.h"
#include "worker/train/trial_spec.h"

namespace peftsearch::train {
namespace {

using nlohmann::json;

TrialSpec Spec(const json& doc) {
  absl::StatusOr<TrialSpec> spec = ParseTrialSpec(doc);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

class TrainerPeftTest : public ::testing::Test {
 protected:
  std::unique_ptr<PeftProvider> peft_ = NewPeftRegistryProvider();
};

// A hybrid combination learns in 2 epochs on a random-init Vim (no
// pre-trained backbone in the tree yet): chance on digits is 0.1.
TEST_F(TrainerPeftTest, HybridLoraLearnsAboveChance) {
  json doc = TinyTrial({"digits"});
  doc["peft"] = {{"lora_out_proj", {{"r", 4}}}, {"a", json::object()}};
  TrainerOptions options;
  options.peft = peft_.get();
  absl::StatusOr<TrialResult> result = RunTrial(Spec(doc), options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->value, 0.3) << "chance is 0.1";
  const TaskResult& t = result->tasks[0];
  EXPECT_GT(t.trainable_by_method.at("lora_out_proj"), 0);
  EXPECT_GT(t.trainable_by_method.at("a"), 0);
  EXPECT_EQ(t.trainable_by_method.at("head"), 32 * 10 + 10);
  EXPECT_EQ(t.trainable, t.trainable_by_method.at("lora_out_proj") + t.trainable_by_method.at("a") +
                             t.trainable_by_method.at("head"));
}

// LoRA dropout draws from LibTorch's global generator; one task thread at a
// time (parallel_tasks = 1) keeps the draw order, so the same seed repeats.
TEST_F(TrainerPeftTest, SameSeedSameResultWithDropoutInSequence) {
  json doc = TinyTrial({"digits", "shapes_ori"});
  doc["peft"] = {{"lora_out_proj", {{"r", 4}}}};
  doc["recipe"]["epochs"] = 1;
  doc["parallel_tasks"] = 1;
  TrainerOptions options;
  options.peft = peft_.get();
  absl::StatusOr<TrialResult> a = RunTrial(Spec(doc), options);
  absl::StatusOr<TrialResult> b = RunTrial(Spec(doc), options);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(a->tasks[i].accuracy, b->tasks[i].accuracy) << a->tasks[i].task;
    EXPECT_EQ(a->tasks[i].last_train_loss, b->tasks[i].last_train_loss) << a->tasks[i].task;
  }
}

// Five tasks with their own PEFT parameters over one backbone storage.
TEST_F(TrainerPeftTest, FiveTasksSharedBackboneOwnPeftParameters) {
  json doc = TinyTrial(MiniVtabTasks());
  doc["peft"] = {{"lora_x_proj", json::object()}, {"prompt", json::object()}};
  TrainerOptions options;
  options.peft = peft_.get();
  absl::StatusOr<std::unique_ptr<TrialSession>> session = TrialSession::Create(Spec(doc), options);
  ASSERT_TRUE(session.ok()) << session.status();
  const model::TensorMap first = model::StateDict(*(*session)->TaskBackbone(0));
  std::set<const void*> backbone;
  for (const auto& [name, t] : first) backbone.insert(t.storage().data());
  std::set<const void*> trainable;
  for (int i = 0; i < 5; ++i) {
    for (const auto& [name, t] : model::StateDict(*(*session)->TaskBackbone(i))) {
      EXPECT_EQ(t.storage().data(), first.at(name).storage().data()) << name;
      EXPECT_FALSE(t.requires_grad()) << name;
    }
    const std::vector<torch::Tensor> own = (*session)->TaskTrainable(i);
    EXPECT_GT(own.size(), 2u);  // PEFT tensors + head
    for (const torch::Tensor& p : own) {
      EXPECT_EQ(backbone.count(p.storage().data()), 0u);
      EXPECT_TRUE(trainable.insert(p.storage().data()).second) << "shared between tasks";
    }
  }
}

// `full` gives each task its own backbone copy and leaves the shared one frozen.
TEST_F(TrainerPeftTest, FullFineTuningCopiesTheBackbonePerTask) {
  json doc = TinyTrial({"digits", "shapes_ori"});
  doc["peft"] = {{"full", json::object()}};
  doc["recipe"]["epochs"] = 1;
  TrainerOptions options;
  options.peft = peft_.get();
  absl::StatusOr<std::unique_ptr<TrialSession>> session = TrialSession::Create(Spec(doc), options);
  ASSERT_TRUE(session.ok()) << session.status();
  const auto a = model::StateDict(*(*session)->TaskBackbone(0));
  const auto b = model::StateDict(*(*session)->TaskBackbone(1));
  const torch::Tensor before = a.at("norm_f.weight").clone();
  EXPECT_NE(a.at("norm_f.weight").data_ptr(), b.at("norm_f.weight").data_ptr());
  EXPECT_TRUE((*session)->TaskBackbone(0)->norm_f->weight.requires_grad());
  absl::StatusOr<TrialResult> result = (*session)->Run();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(torch::equal(before, a.at("norm_f.weight")));  // trained
  EXPECT_GT(result->tasks[0].trainable, 10000);
}

}  // namespace
}  // namespace peftsearch::train
