#include "worker/train/trial_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "worker/model/safetensors.h"

namespace peftsearch::train {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string TempRoot() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string root = std::string(tmp ? tmp : "/tmp") + "/trial_spec_test";
  ::mkdir(root.c_str(), 0755);
  for (const std::string& t : MiniVtabTasks()) ::mkdir((root + "/" + t).c_str(), 0755);
  ::mkdir((root + "/other").c_str(), 0755);
  return root;
}

json Valid() {
  return json{
      {"backbone",
       {{"img_size", 32}, {"patch_size", 8}, {"stride", 8}, {"embed_dim", 32}, {"depth", 2}}},
      {"weights", {{"random_init", 1}}},
      {"data_root", TempRoot()},
      {"threads", 2}};
}

// The error of `doc`; its message must name `field`.
void ExpectError(const json& doc, absl::StatusCode code, const std::string& field) {
  absl::StatusOr<TrialSpec> spec = ParseTrialSpec(doc);
  ASSERT_FALSE(spec.ok()) << doc.dump();
  EXPECT_EQ(spec.status().code(), code) << spec.status();
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr(field)) << doc.dump();
}

TEST(TrialSpecTest, DefaultsAreThePaperRecipe) {
  absl::StatusOr<TrialSpec> spec = ParseTrialSpec(Valid());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->backbone_source, "custom");
  EXPECT_EQ(spec->backbone.embed_dim, 32);
  EXPECT_EQ(spec->backbone.num_classes, 0);
  EXPECT_DOUBLE_EQ(spec->recipe.lr, 1e-3);
  EXPECT_DOUBLE_EQ(spec->recipe.weight_decay, 1e-4);
  EXPECT_EQ(spec->recipe.batch_size, 32);
  EXPECT_EQ(spec->recipe.epochs, 100);
  EXPECT_EQ(spec->recipe.warmup_epochs, 10);
  EXPECT_DOUBLE_EQ(spec->recipe.min_lr, 1e-5);
  EXPECT_DOUBLE_EQ(spec->backbone.drop_path_rate, 0.1);
  EXPECT_EQ(spec->tasks, MiniVtabTasks());
  EXPECT_EQ(spec->mode, "search");
  EXPECT_EQ(spec->train_split(), "train800");
  EXPECT_EQ(spec->eval_split(), "val200");
  EXPECT_EQ(spec->image_size, 32);
  EXPECT_EQ(spec->threads, 2);
  EXPECT_EQ(spec->parallel_tasks, 2);  // min(5 tasks, 2 threads)
  EXPECT_TRUE(spec->peft.empty());
}

TEST(TrialSpecTest, PresetFinalModeAndOverrides) {
  json doc = Valid();
  doc["backbone"] = "vim_tiny";
  doc["mode"] = "final";
  doc["tasks"] = {"digits", "other"};
  doc["parallel_tasks"] = 1;
  doc["recipe"] = {{"lr", 5e-3}, {"drop_path", 0.0}, {"epochs", 2}, {"warmup_epochs", 0}};
  doc["peft"] = {{"lora_x_proj", {{"r", 8}}}};
  absl::StatusOr<TrialSpec> spec = ParseTrialSpec(doc);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->backbone_source, "preset:vim_tiny");
  EXPECT_EQ(spec->image_size, 224);
  EXPECT_EQ(spec->eval_split(), "test");
  EXPECT_EQ(spec->train_split(), "train800val200");
  EXPECT_EQ(spec->parallel_tasks, 1);
  EXPECT_DOUBLE_EQ(spec->backbone.drop_path_rate, 0.0);
  EXPECT_EQ(spec->peft["lora_x_proj"]["r"], 8);
}

TEST(TrialSpecTest, DaemonEnvelope) {
  json doc = {{"study", "s"},
              {"number", 3},
              {"objective", {{"type", "peft_vim"}, {"trial", Valid()}}},
              {"params",
               {{"lr", 2e-3},
                {"bias", true},  // hybrid step 1's sampled boolean
                {"a.wd", 1e-3},  // hybrid step 2's sampled hyperparameter
                {"remove", "none"},
                {"eval", "final"},
                {"peft", {{"bias", json::object()}}}}}};
  absl::StatusOr<TrialSpec> spec = ParseTrialSpec(doc);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_DOUBLE_EQ(spec->recipe.lr, 2e-3);
  EXPECT_EQ(spec->peft, (json{{"bias", json::object()}}));
  EXPECT_EQ(spec->mode, "final");
  doc["params"]["eval"] = "tune";
  ExpectError(doc, absl::StatusCode::kInvalidArgument, "mode");
  doc["params"]["eval"] = "search";
  doc["params"]["batch_size"] = 0;
  ExpectError(doc, absl::StatusCode::kInvalidArgument, "recipe.batch_size");
  doc["objective"].erase("trial");
  ExpectError(doc, absl::StatusCode::kInvalidArgument, "objective.trial");
}

TEST(TrialSpecTest, EveryBadFieldIsNamed) {
  struct Case {
    const char* pointer;  // JSON pointer of the field set
    json value;
    absl::StatusCode code;
    const char* named;
  };
  const absl::StatusCode kBad = absl::StatusCode::kInvalidArgument;
  const Case cases[] = {
      {"/recipe/lr", 0, kBad, "recipe.lr"},
      {"/recipe/lr", "fast", kBad, "recipe.lr"},
      {"/recipe/weight_decay", -1, kBad, "recipe.weight_decay"},
      {"/recipe/batch_size", 0, kBad, "recipe.batch_size"},
      {"/recipe/batch_size", 3.5, kBad, "recipe.batch_size"},
      {"/recipe/epochs", 0, kBad, "recipe.epochs"},
      {"/recipe/warmup_epochs", 101, kBad, "recipe.warmup_epochs"},
      {"/recipe/min_lr", 1.0, kBad, "recipe.min_lr"},
      {"/recipe/grad_clip", -1, kBad, "recipe.grad_clip"},
      {"/recipe/drop_path", 1.0, kBad, "recipe.drop_path"},
      {"/recipe/seed", -3, kBad, "recipe.seed"},
      {"/recipe/precision", "fp16", kBad, "recipe.precision"},
      {"/recipe/precision", "bf16", kBad, "recipe.precision"},  // on CPU
      {"/recipe/momentum", 0.9, kBad, "recipe.momentum"},
      {"/recipe/eval_batch_size", 0, kBad, "recipe.eval_batch_size"},
      {"/mode", "test", kBad, "mode"},
      {"/device", "tpu", kBad, "device"},
      {"/threads", -1, kBad, "threads"},
      {"/parallel_tasks", -2, kBad, "parallel_tasks"},
      {"/image_size", 64, kBad, "image_size"},
      {"/tasks", json::array(), kBad, "tasks"},
      {"/tasks", json::array({"digits", 3}), kBad, "tasks[1]"},
      {"/tasks", json::array({"digits", "digits"}), kBad, "tasks[1]"},
      {"/tasks", json::array({"../etc"}), kBad, "tasks[0]"},
      {"/tasks", json::array({"digits", "nope"}), absl::StatusCode::kNotFound, "tasks[1]"},
      {"/data_root", "/nonexistent/vtab", absl::StatusCode::kNotFound, "data_root"},
      {"/data_root", "", kBad, "data_root"},
      {"/backbone", "vim_huge", kBad, "backbone"},
      {"/backbone", 3, kBad, "backbone"},
      {"/backbone/depth", 0, kBad, "backbone"},
      {"/backbone/widht", 3, kBad, "widht"},
      {"/weights", "/nonexistent/w.safetensors", absl::StatusCode::kNotFound, "weights"},
      {"/weights", json::object(), kBad, "weights.random_init"},
      {"/weights", 7, kBad, "weights"},
      {"/peft", json::array(), kBad, "peft"},
      {"/epochs", 3, kBad, "epochs"},  // a recipe field at the top level
  };
  for (const Case& c : cases) {
    json doc = Valid();
    doc[json::json_pointer(c.pointer)] = c.value;
    SCOPED_TRACE(c.pointer);
    ExpectError(doc, c.code, c.named);
  }
  json no_root = Valid();
  no_root.erase("data_root");
  ExpectError(no_root, kBad, "data_root");
  json no_weights = Valid();
  no_weights.erase("weights");
  ExpectError(no_weights, kBad, "weights");
  json no_backbone = Valid();
  no_backbone.erase("backbone");
  ExpectError(no_backbone, kBad, "backbone");
  ExpectError(json::array(), kBad, "trial");
}

TEST(TrialSpecTest, BackboneFromWeightsMetadata) {
  const std::string root = TempRoot();
  const std::string with = root + "/with_meta.safetensors";
  const std::string without = root + "/without_meta.safetensors";
  model::TensorMap tensors = {{"norm_f.weight", torch::ones({16})}};
  ASSERT_TRUE(
      model::WriteSafetensors(
          with, tensors,
          {{"vim_config", R"({"img_size":16,"patch_size":4,"stride":4,"embed_dim":16,"depth":1})"}})
          .ok());
  ASSERT_TRUE(model::WriteSafetensors(without, tensors).ok());
  json doc = Valid();
  doc.erase("backbone");
  doc["weights"] = with;
  absl::StatusOr<TrialSpec> spec = ParseTrialSpec(doc);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->backbone_source, "weights");
  EXPECT_EQ(spec->backbone.img_size, 16);
  EXPECT_EQ(spec->weights_path, with);
  doc["weights"] = without;
  ExpectError(doc, absl::StatusCode::kInvalidArgument, "vim_config");
}

// examples/trial_mini.json is a study spec whose objective.trial is a trial;
// with its data and backbone paths pointed at test files it parses.
TEST(TrialSpecTest, ExampleTrialMiniParses) {
  std::ifstream in("examples/trial_mini.json");
  ASSERT_TRUE(in.good());
  json doc = json::parse(in);
  const std::string root = TempRoot();
  const std::string weights = root + "/example.safetensors";
  ASSERT_TRUE(
      model::WriteSafetensors(
          weights, {{"norm_f.weight", torch::ones({96})}},
          {{"vim_config", R"({"img_size":32,"patch_size":8,"stride":8,"embed_dim":96,"depth":4})"}})
          .ok());
  doc["objective"]["trial"]["weights"] = weights;
  doc["objective"]["trial"]["data_root"] = root;
  absl::StatusOr<TrialSpec> spec = ParseTrialSpec(doc);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->backbone_source, "weights");
  EXPECT_EQ(spec->tasks, MiniVtabTasks());
  EXPECT_EQ(spec->recipe.epochs, 3);
  EXPECT_TRUE(spec->peft.contains("lora_p_x"));
}

TEST(TrialSpecTest, LoadNamesThePath) {
  absl::StatusOr<TrialSpec> missing = LoadTrialSpec("/nonexistent/trial.json");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nonexistent/trial.json"));
  const std::string path = TempRoot() + "/bad.json";
  std::ofstream(path) << "{not json";
  absl::StatusOr<TrialSpec> bad = LoadTrialSpec(path);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(path));
}

}  // namespace
}  // namespace peftsearch::train
