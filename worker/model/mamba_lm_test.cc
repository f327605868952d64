#include "worker/model/mamba_lm.h"

#include <gtest/gtest.h>

#include "worker/model/model_init.h"
#include "worker/model/state_dict.h"

namespace peftsearch {
namespace model {
namespace {

// state-spaces/mamba-130m: d_model 768, 24 layers, vocab 50277 padded to a
// multiple of 8 (50280), unidirectional Mamba, tied LM head.
TEST(MambaLM, Preset130mNamesAndShapes) {
  auto c = MambaLMPreset("mamba_130m");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->padded_vocab(), 50280);
  MambaLM m(*c);
  TensorMap sd = StateDict(*m);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> want = {
      {"backbone.embedding.weight", {50280, 768}},
      {"backbone.layers.0.mixer.A_log", {1536, 16}},
      {"backbone.layers.0.mixer.D", {1536}},
      {"backbone.layers.0.mixer.in_proj.weight", {3072, 768}},
      {"backbone.layers.0.mixer.conv1d.weight", {1536, 1, 4}},
      {"backbone.layers.0.mixer.conv1d.bias", {1536}},
      {"backbone.layers.0.mixer.x_proj.weight", {80, 1536}},
      {"backbone.layers.0.mixer.dt_proj.weight", {1536, 48}},
      {"backbone.layers.0.mixer.dt_proj.bias", {1536}},
      {"backbone.layers.0.mixer.out_proj.weight", {768, 1536}},
      {"backbone.layers.0.norm.weight", {768}},
      {"backbone.layers.23.mixer.out_proj.weight", {768, 1536}},
      {"backbone.norm_f.weight", {768}},
  };
  for (const auto& [k, shape] : want) {
    ASSERT_TRUE(sd.count(k)) << k;
    EXPECT_EQ(sd.at(k).sizes(), c10::IntArrayRef(shape)) << k;
  }
  EXPECT_EQ(sd.size(), 2u + 24u * 10u);
  EXPECT_EQ(sd.count("backbone.layers.0.mixer.A_b_log"), 0u);
  int64_t total = 0;
  ParameterCounts(*m, &total);
  // 38,615,040 embedding + 24 x 3,771,648 per layer + 768 norm_f = 129.1M
  // (the "130m" of the name).
  EXPECT_EQ(total, 38615040 + 24 * 3771648 + 768);
}

TEST(MambaLM, TiedHeadKeyIsAcceptedAndForwardRuns) {
  MambaLMConfig c;
  c.d_model = 32;
  c.n_layer = 2;
  c.vocab_size = 50;
  MambaLM m(c);
  InitMambaLM(m.get(), 1);
  TensorMap sd = StateDict(*m);
  sd["lm_head.weight"] = sd.at("backbone.embedding.weight");
  EXPECT_FALSE(LoadStateDict(sd, m.get()).ok());
  EXPECT_TRUE(LoadStateDict(sd, m.get(), LoadOptions{kMambaLMIgnoredKeys}).ok());
  torch::Tensor logits = m->forward(torch::randint(0, 50, {2, 7}, torch::kLong));
  EXPECT_EQ(logits.sizes(), c10::IntArrayRef({2, 7, 56}));
  // Causal: changing the last token leaves earlier logits unchanged.
  torch::Tensor ids = torch::randint(0, 50, {1, 6}, torch::kLong);
  torch::Tensor ids2 = ids.clone();
  ids2[0][5] = (ids[0][5].item<int64_t>() + 1) % 50;
  torch::Tensor a = m->forward(ids), b = m->forward(ids2);
  EXPECT_TRUE(torch::allclose(a.narrow(1, 0, 5), b.narrow(1, 0, 5)));
  EXPECT_FALSE(torch::allclose(a.narrow(1, 5, 1), b.narrow(1, 5, 1)));
}

}  // namespace
}  // namespace model
}  // namespace peftsearch
