#include "worker/data/pretrain/vim_config_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace peftsearch::data {
namespace {

using ::testing::HasSubstr;

TEST(VimConfigJsonTest, RoundTripsEveryField) {
  model::VimConfig c;
  c.img_size = 32;
  c.patch_size = 4;
  c.stride = 2;
  c.in_chans = 1;
  c.embed_dim = 48;
  c.depth = 3;
  c.d_state = 8;
  c.d_conv = 3;
  c.expand = 3;
  c.num_classes = 10;
  c.drop_path_rate = 0.05;
  c.norm_eps = 1e-6;
  auto back = VimConfigFromJson(VimConfigToJson(c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(VimConfigToJson(*back), VimConfigToJson(c));
  EXPECT_EQ(back->stride, 2);
  EXPECT_DOUBLE_EQ(back->drop_path_rate, 0.05);
}

TEST(VimConfigJsonTest, AbsentFieldsKeepDefaults) {
  auto c = VimConfigFromJson(R"({"embed_dim": 64})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->embed_dim, 64);
  EXPECT_EQ(c->depth, model::VimConfig().depth);
}

TEST(VimConfigJsonTest, ErrorsNameTheField) {
  auto unknown = VimConfigFromJson(R"({"embed_dims": 64})");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("vim_config.embed_dims"));
  auto type = VimConfigFromJson(R"({"depth": 2.5})");
  EXPECT_EQ(type.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(type.status().message(), HasSubstr("vim_config.depth"));
  auto invalid = VimConfigFromJson(R"({"depth": 0})");
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(invalid.status().message(), HasSubstr("depth"));
  EXPECT_EQ(VimConfigFromJson("[1]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VimConfigFromJson("{").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace peftsearch::data
