#include "worker/data/pretrain/pretrain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "worker/data/pretrain/vim_config_json.h"
#include "worker/data/test_images.h"
#include "worker/model/safetensors.h"
#include "worker/model/state_dict.h"
#include "worker/model/vim_model.h"

namespace peftsearch::data {
namespace {

using ::testing::HasSubstr;

// Two classes a tiny Vim must separate: the bright half of a 16 px image is
// the top (0) or the bottom (1).
void WriteHalvesTask(const std::string& dir, int n_train, int n_val) {
  int seed = 0;
  for (auto [split, n] : {std::pair{"train800", n_train}, std::pair{"val200", n_val}}) {
    ASSERT_TRUE(testing::MakeDirs(absl::StrCat(dir, "/images/", split)));
    std::string list;
    for (int i = 0; i < n; ++i) {
      const int label = i % 2;
      Image img = testing::PatternImage(16, 16, ++seed);
      for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 16; ++x)
          for (int c = 0; c < 3; ++c) {
            uint8_t& p = img.rgb[(y * 16 + x) * 3 + c];
            p = static_cast<uint8_t>(p / 4 + (((y < 8) == (label == 0)) ? 180 : 20));
          }
      const std::string rel = absl::StrCat("images/", split, "/", i, ".png");
      ASSERT_TRUE(testing::WritePng(dir + "/" + rel, img));
      absl::StrAppend(&list, rel, " ", label, "\n");
    }
    ASSERT_TRUE(testing::WriteText(absl::StrCat(dir, "/", split, ".txt"), list));
  }
}

PretrainOptions TinyOptions(const std::string& root, const std::string& out) {
  PretrainOptions o;
  o.data_root = root;
  o.task = "halves";
  o.output = out;
  o.vim.img_size = 16;
  o.vim.patch_size = 4;
  o.vim.stride = 4;
  o.vim.embed_dim = 32;
  o.vim.depth = 2;
  o.epochs = 4;
  o.batch_size = 16;
  o.lr = 3e-3;
  o.warmup_epochs = 1;
  o.num_threads = 1;
  o.seed = 5;
  return o;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class PretrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(testing::FreshDir("pretrain_test"));
    WriteHalvesTask(*root_ + "/halves", 64, 32);
  }
  static std::string* root_;
};
std::string* PretrainTest::root_ = nullptr;

TEST_F(PretrainTest, LearnsAndWritesALoadableCheckpoint) {
  const std::string out = *root_ + "/a.safetensors";
  int epochs_seen = 0;
  auto result = Pretrain(TinyOptions(*root_, out), [&](const EpochReport& r) {
    EXPECT_EQ(r.epoch, ++epochs_seen);
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(epochs_seen, 4);
  // Chance is 0.5; a working backbone gets this trivial task right.
  EXPECT_GE(result->last.val_accuracy, 0.9);
  EXPECT_GT(result->num_parameters, 0);

  auto file = model::ReadSafetensors(out);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata.at("format"), "peftsearch-vim-v1");
  EXPECT_EQ(file->metadata.at("task"), "halves");
  auto config = VimConfigFromJson(file->metadata.at("vim_config"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_classes, 2);
  EXPECT_EQ(config->embed_dim, 32);

  // Strict load into a fresh model rebuilt from the metadata alone.
  model::VisionMamba fresh(*config);
  ASSERT_TRUE(model::LoadStateDict(file->tensors, fresh.get()).ok());
  EXPECT_TRUE(file->tensors.count("head.weight"));
  EXPECT_TRUE(file->tensors.count("layers.1.mixer.in_proj.weight"));
}

TEST_F(PretrainTest, SameSeedSameWeights) {
  PretrainOptions o = TinyOptions(*root_, *root_ + "/b1.safetensors");
  o.epochs = 2;
  ASSERT_TRUE(Pretrain(o).ok());
  o.output = *root_ + "/b2.safetensors";
  ASSERT_TRUE(Pretrain(o).ok());
  EXPECT_EQ(ReadAll(*root_ + "/b1.safetensors"), ReadAll(*root_ + "/b2.safetensors"));
}

TEST_F(PretrainTest, TimeBudgetStopsEarly) {
  PretrainOptions o = TinyOptions(*root_, *root_ + "/c.safetensors");
  o.epochs = 1000;
  o.max_seconds = 0.001;  // stops after the first batch
  auto result = Pretrain(o);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->last.epoch, 1);
  EXPECT_EQ(result->last.steps, 1);
}

TEST_F(PretrainTest, ErrorsNameTheProblem) {
  PretrainOptions o = TinyOptions(*root_ + "/missing", *root_ + "/d.safetensors");
  auto missing = Pretrain(o);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(*root_ + "/missing"));

  o = TinyOptions(*root_, *root_ + "/d.safetensors");
  o.warmup_epochs = 4;
  auto warm = Pretrain(o);
  EXPECT_EQ(warm.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(warm.status().message(), HasSubstr("warmup_epochs"));

  o = TinyOptions(*root_, *root_ + "/d.safetensors");
  o.vim.patch_size = 0;
  auto vim = Pretrain(o);
  EXPECT_EQ(vim.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(vim.status().message(), HasSubstr("patch_size"));
}

}  // namespace
}  // namespace peftsearch::data
