// The four methods beyond MambaPEFT (prodial, sdlora, memba, dora): the same
// checks as the 20 (identity at initialisation where it applies, one step
// trains only the method's parameters, every pair with the 20 and with each
// other trains one step), each method's own mechanics, and the Vim-S
// parameter counts docs/PEFT.md quotes, against the formulas of
// research/peft_beyond.md.
#include <gtest/gtest.h>

#include "worker/model/vim_config.h"
#include "worker/peft/memba.h"
#include "worker/peft/param_count.h"
#include "worker/peft/peft.h"
#include "worker/peft/prodial.h"
#include "worker/peft/sdlora.h"
#include "worker/peft/test_util.h"

namespace peftsearch {
namespace peft {
namespace {

using nlohmann::json;
using testing::Child;
using testing::Features;
using testing::Images;
using testing::TinyBackbone;
using torch::Tensor;

TEST(ExtendedMethods, NamesAndNotAmongTheTwenty) {
  EXPECT_EQ(ExtendedMethodNames(), (std::vector<std::string>{"prodial", "dora", "sdlora", "memba"}));
  EXPECT_EQ(MethodNames().size(), 20u);
  for (const std::string& m : ExtendedMethodNames()) {
    EXPECT_EQ(std::count(MethodNames().begin(), MethodNames().end(), m), 0) << m;
  }
}

// Zero-init identity: the features equal the plain backbone's, in train-free
// (eval) mode, for every setting where the method starts at W' = W.
TEST(ExtendedMethods, IdentityAtInitialisation) {
  model::VisionMamba backbone = TinyBackbone();
  const Tensor images = Images();
  const Tensor plain = Features(backbone, nullptr, images);
  std::vector<json> identity = {
      {{"prodial", json::object()}},
      {{"prodial", {{"mode", "diag_learnable"}, {"blocks_in", 4}, {"blocks_out", 2}}}},
      {{"sdlora", json::object()}},
      {{"memba", {{"chunks", 1}, {"transfer", false}, {"v_th", 1e6}}}},
  };
  for (const char* t : {"x", "z", "in_proj", "out_proj", "x_proj", "d", "b", "c", "dt_proj"}) {
    for (const char* norm : {"column", "row"}) {
      identity.push_back({{"dora", {{"target", t}, {"norm", norm}}}});
    }
  }
  for (const json& c : identity) {
    torch::manual_seed(1);
    auto p = CreatePeft(c, backbone, PeftDefaults());
    ASSERT_TRUE(p.ok()) << c.dump() << ": " << p.status();
    EXPECT_TRUE(torch::allclose(Features(backbone, p->extension.get(), images), plain, 1e-4, 1e-5))
        << c.dump();
  }
  // Memba at its defaults changes the gate (not an identity method).
  auto m = CreatePeft(json{{"memba", json::object()}}, backbone, PeftDefaults());
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(torch::allclose(Features(backbone, m->extension.get(), images), plain, 1e-4, 1e-5));
}

TEST(ExtendedMethods, OneStepTrainsOnlyTheMethod) {
  std::vector<json> cases = {
      {{"prodial", json::object()}},
      {{"prodial", {{"mode", "diag_learnable"}}}},
      {{"sdlora", json::object()}},
      {{"memba", json::object()}},
      {{"memba", {{"transfer", false}, {"chunks", 2}}}},
  };
  for (const char* t : {"x", "z", "in_proj", "out_proj", "x_proj", "d", "b", "c", "dt_proj"}) {
    cases.push_back({{"dora", {{"target", t}}}});
  }
  cases.push_back({{"dora", {{"norm", "row"}}}});
  int seed = 0;
  for (const json& c : cases) testing::ExpectOnlyPeftAndHeadChange(c, 500 + seed++);
}

// Every extended method with each of the 20 and with each other (86 pairs).
TEST(ExtendedMethods, PairsTrainOneStep) {
  std::vector<std::string> all = MethodNames();
  all.insert(all.end(), ExtendedMethodNames().begin(), ExtendedMethodNames().end());
  int pairs = 0;
  for (const std::string& e : ExtendedMethodNames()) {
    for (const std::string& m : all) {
      if (m == e) continue;
      const bool both_extended =
          std::count(ExtendedMethodNames().begin(), ExtendedMethodNames().end(), m) > 0;
      if (both_extended && m < e) continue;  // each unordered pair once
      json c = {{e, json::object()}, {m, json::object()}};
      SCOPED_TRACE(c.dump());
      testing::ExpectOnlyPeftAndHeadChange(c, 2000 + pairs);
      ++pairs;
    }
  }
  EXPECT_EQ(pairs, 4 * 20 + 6);
}

TEST(ExtendedMethods, AllTwentyFourTogetherTrainOneStep) {
  json all = json::object();
  for (const std::string& m : MethodNames()) all[m] = json::object();
  for (const std::string& m : ExtendedMethodNames()) all[m] = json::object();
  testing::ExpectOnlyPeftAndHeadChange(all, 77);
}

TEST(ExtendedMethods, ErrorsNameMethodAndField) {
  model::VisionMamba backbone = TinyBackbone();  // D = 16, E = 32
  auto bad = CreatePeft(json{{"prodial", {{"blocks_in", 3}}}}, backbone, PeftDefaults());
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.status().message())
                .find("prodial.blocks_in: in_proj's input width (embed_dim) 16 is not divisible by "
                      "the block count 3"),
            std::string::npos)
      << bad.status();
  bad = CreatePeft(json{{"prodial", {{"blocks_out", 5}}}}, backbone, PeftDefaults());
  EXPECT_NE(std::string(bad.status().message()).find("prodial.blocks_out"), std::string::npos);
  struct Case {
    json combination;
    std::string message;
  };
  const std::vector<Case> cases = {
      {json{{"prodial", {{"mode", "free"}}}},
       "prodial.mode: must be one of faithful|diag_learnable, got \"free\""},
      {json{{"sdlora", {{"channel_fraction", 0}}}},
       "sdlora.channel_fraction: must be a number in (0, 1], got 0"},
      {json{{"sdlora", {{"warmup_steps", 0}}}}, "sdlora.warmup_steps: must be an integer in [1, "},
      {json{{"memba", {{"tau", 1.5}}}}, "memba.tau: must be a number in (0, 1], got 1.5"},
      {json{{"memba", {{"chunks", 0}}}}, "memba.chunks: must be an integer in [1, 1024], got 0"},
      {json{{"dora", {{"target", "embed"}}}}, "dora.target: must be one of x|z|in_proj|out_proj|"},
      {json{{"dora", {{"norm", "both"}}}}, "dora.norm: must be one of column|row, got \"both\""},
  };
  for (const Case& c : cases) {
    absl::Status s = ValidateCombination(c.combination);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.combination.dump();
    EXPECT_EQ(std::string(s.message()).rfind(c.message, 0), 0u)
        << "got: " << s.message() << "\nwant prefix: " << c.message;
  }
}

// The released code's D_b: the diagonal is 1 - relu(diag M) and gets no
// gradient at M = 0 (research note §1.2 [CHECK]); diag_learnable's does.
TEST(ProDiaL, FaithfulDiagonalNeverTrainsDiagLearnableDoes) {
  torch::manual_seed(3);
  Tensor m = torch::randn({2, 3, 3});
  Tensor faithful = ProDiaLExtension::Blocks(m, false);
  for (int k = 0; k < 2; ++k) {
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        const float want = i == j ? 1 - std::max(0.0f, m[k][i][i].item<float>()) : m[k][i][j].item<float>();
        EXPECT_FLOAT_EQ(faithful[k][i][j].item<float>(), want);
      }
    }
  }
  EXPECT_TRUE(torch::allclose(ProDiaLExtension::Blocks(m, true), m + torch::eye(3)));

  for (const bool learnable : {false, true}) {
    model::VisionMamba backbone = TinyBackbone();
    json c = {{"prodial", {{"mode", learnable ? "diag_learnable" : "faithful"}, {"blocks_in", 4}}}};
    torch::manual_seed(9);
    auto p = CreatePeft(c, backbone, PeftDefaults());
    ASSERT_TRUE(p.ok()) << p.status();
    testing::TrainOneStep(backbone, &*p, testing::RandomHead(16, 3), Images(), torch::tensor({0L, 2L}));
    for (const auto& [name, t] : p->named_parameters) {
      if (name != "layers.0.mixer.prodial_in.blocks") continue;
      ASSERT_TRUE(t.grad().defined());
      const Tensor diag_grad = torch::diagonal(t.grad(), 0, 1, 2).abs().sum();
      const Tensor off_grad = t.grad().abs().sum() - diag_grad;
      EXPECT_GT(off_grad.item<float>(), 0) << "mode " << learnable;
      if (learnable) {
        EXPECT_GT(diag_grad.item<float>(), 0);
      } else {
        EXPECT_EQ(diag_grad.item<float>(), 0);
      }
    }
  }
}

// The warm-up runs `warmup_steps` training steps on a private dense ΔA and the
// out_proj LoRA; the next training forward selects n_c channels and n_s
// states per direction; from then on only the compact deltas (and LoRA) move.
TEST(SdLora, TwoRunSelectionInsideOneTrial) {
  model::VisionMamba backbone = TinyBackbone();  // E = 32, N = 4
  json c = {{"sdlora", {{"warmup_steps", 2}, {"channel_fraction", 0.1}, {"state_fraction", 0.5}}}};
  torch::manual_seed(4);
  auto p = CreatePeft(c, backbone, PeftDefaults());
  ASSERT_TRUE(p.ok()) << p.status();
  auto sdt = Child<SdLoraExtension>(*p);
  ASSERT_NE(sdt, nullptr);
  EXPECT_EQ(sdt->channels(), 3);  // round(0.1 * 32)
  EXPECT_EQ(sdt->states(), 2);    // round(0.5 * 4)
  // Registered: per layer LoRA r(E + D) = 8 * 48, per direction n_c n_s + 2 n_c N = 6 + 24.
  EXPECT_EQ(p->trainable_total, 2 * (8 * 48 + 2 * 30));
  auto before = testing::Snapshot(*p);
  torch::nn::Linear head = testing::RandomHead(16, 3);
  const Tensor labels = torch::tensor({0L, 2L});
  auto delta_moved = [&](const std::map<std::string, Tensor>& ref) {
    bool moved = false;
    for (const auto& [name, t] : p->named_parameters) {
      if (name.find("_delta") != std::string::npos) moved = moved || !torch::equal(t, ref.at(name));
    }
    return moved;
  };
  testing::TrainOneStep(backbone, &*p, head, Images(), labels);
  testing::TrainOneStep(backbone, &*p, head, Images(), labels);
  EXPECT_FALSE(sdt->selected());
  EXPECT_FALSE(delta_moved(before));
  EXPECT_TRUE(sdt->SelectedChannels("layers.0.mixer.A_log").empty());
  auto backbone_before = testing::Snapshot(*backbone);
  testing::TrainOneStep(backbone, &*p, head, Images(), labels);  // selects, then trains
  EXPECT_TRUE(sdt->selected());
  EXPECT_TRUE(delta_moved(before));
  for (const auto& item : backbone->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), backbone_before.at(item.key()))) << item.key();
  }
  for (const char* key : {"layers.0.mixer.A_log", "layers.1.mixer.A_b_log"}) {
    std::vector<int64_t> ch = sdt->SelectedChannels(key);
    ASSERT_EQ(ch.size(), 3u) << key;
    EXPECT_EQ(std::set<int64_t>(ch.begin(), ch.end()).size(), 3u) << key;
  }
  // The deltas land on the selected channels only: A_log rows, x_proj B/C
  // columns; the dt rows of x_proj never change.
  const std::vector<int64_t> ch = sdt->SelectedChannels("layers.0.mixer.A_log");
  {
    torch::NoGradGuard no_grad;
    for (const auto& [name, t] : p->named_parameters) {
      if (name.rfind("layers.0.mixer.sdt.", 0) == 0) t.fill_(1.0);
    }
  }
  const Tensor a_base = torch::zeros({32, 4});
  const Tensor a_delta = sdt->Param("layers.0.mixer.A_log", a_base).detach();
  const Tensor x_base = torch::zeros({1 + 8, 32});
  const Tensor x_delta = sdt->Param("layers.0.mixer.x_proj.weight", x_base).detach();
  EXPECT_EQ(a_delta.ne(0).sum().item<int64_t>(), 3 * 2);
  EXPECT_EQ(x_delta.ne(0).sum().item<int64_t>(), 3 * 8);
  EXPECT_EQ(x_delta[0].ne(0).sum().item<int64_t>(), 0);  // the dt row
  for (int64_t e = 0; e < 32; ++e) {
    const bool selected = std::count(ch.begin(), ch.end(), e) > 0;
    EXPECT_EQ(a_delta[e].ne(0).sum().item<int64_t>(), selected ? 2 : 0) << e;
    EXPECT_EQ(x_delta.select(1, e).ne(0).sum().item<int64_t>(), selected ? 8 : 0) << e;
  }
}

// LIM arithmetic by hand: τ = 0.5, V_th = 1, one token per chunk.
TEST(Memba, LeakyIntegrateByHand) {
  const Tensor z = torch::tensor({0.5f, 0.8f, 0.3f, 2.0f}).view({1, 4, 1});
  auto [gate, mean] = MembaExtension::LeakyIntegrate(z, Tensor(), 0.5, 1.0, 4);
  // u: 0.5; 0.25 + 0.8 = 1.05 > 1 -> 0; 0 + 0.3 = 0.3; 0.15 + 2.0 > 1 -> 0.
  EXPECT_TRUE(torch::allclose(gate.view({4}), torch::tensor({0.5f, 0.0f, 0.3f, 0.0f})));
  EXPECT_NEAR(mean.item<float>(), 0.2f, 1e-6);
  // Carried membrane 0.4: first chunk 0.2 + 0.5 = 0.7.
  auto carried = MembaExtension::LeakyIntegrate(z, torch::full({1, 1, 1}, 0.4f), 0.5, 1.0, 4);
  EXPECT_NEAR(carried.first[0][0][0].item<float>(), 0.7f, 1e-6);
  // L = 5, T = 2: chunks of 2 tokens, token j integrates token j of the
  // previous chunk; the fifth token passes through unchanged.
  const Tensor z5 = torch::tensor({0.1f, 0.2f, 0.3f, 0.4f, 9.0f}).view({1, 5, 1});
  auto [g5, m5] = MembaExtension::LeakyIntegrate(z5, Tensor(), 0.5, 1.0, 2);
  EXPECT_TRUE(torch::allclose(g5.view({5}), torch::tensor({0.1f, 0.2f, 0.35f, 0.5f, 9.0f})));
  EXPECT_EQ(m5.sizes(), (std::vector<int64_t>{1, 2, 1}));
  EXPECT_TRUE(torch::allclose(m5.view({2}), torch::tensor({0.225f, 0.35f})));
}

// Memba's membrane crosses layers: with transfer the second layer's output
// differs from the same model without it; the state does not leak between
// forwards (two identical forwards give identical features).
TEST(Memba, TransferAcrossLayersAndNoLeakBetweenForwards) {
  model::VisionMamba backbone = TinyBackbone();
  const Tensor images = Images();
  torch::manual_seed(2);
  auto with = CreatePeft(json{{"memba", {{"v_th", 0.3}, {"chunks", 2}}}}, backbone, PeftDefaults());
  torch::manual_seed(2);
  auto without = CreatePeft(json{{"memba", {{"v_th", 0.3}, {"chunks", 2}, {"transfer", false}}}},
                            backbone, PeftDefaults());
  ASSERT_TRUE(with.ok() && without.ok());
  const Tensor a = Features(backbone, with->extension.get(), images);
  EXPECT_TRUE(torch::equal(a, Features(backbone, with->extension.get(), images)));
  EXPECT_FALSE(torch::allclose(a, Features(backbone, without->extension.get(), images)));
}

// Vim-S counts (no head) against research/peft_beyond.md's formulas;
// docs/PEFT.md quotes these numbers.
TEST(ExtendedMethods, VimSmallParameterCounts) {
  auto vim_s = model::VimPreset("vim_small");  // D 384, E 768, N 16, R 24, 24 layers
  ASSERT_TRUE(vim_s.ok());
  auto count = [&](const json& c) {
    auto r = CountTrainable(c, *vim_s, 0);
    EXPECT_TRUE(r.ok()) << c.dump() << r.status();
    return r.ok() ? r->peft_total : -1;
  };
  const int64_t D = 384, E = 768, N = 16, L = 24;
  auto prodial = [&](int64_t b1, int64_t b2, int64_t r) {
    return L * (D * D / b1 + 2 * E + r * (D + 2 * E) + E * E / b2 + D + r * (E + D));
  };
  EXPECT_EQ(count({{"prodial", json::object()}}), prodial(16, 16, 8));
  EXPECT_EQ(count({{"prodial", json::object()}}), 1741824);
  EXPECT_EQ(count({{"prodial", {{"blocks_in", 64}, {"blocks_out", 64}}}}), 912384);  // note §1.5
  // SDT: n_c = round(0.01 * 768) = 8, n_s = round(0.1 * 16) = 2 (note §2.4).
  EXPECT_EQ(count({{"sdlora", json::object()}}), L * (2 * (8 * 2 + 2 * 8 * N) + 8 * (E + D)));
  EXPECT_EQ(count({{"sdlora", json::object()}}), 13056 + 221184);
  EXPECT_EQ(count({{"memba", json::object()}}), L * 8 * (D + 2 * E + E + D));
  EXPECT_EQ(count({{"memba", {{"r", 64}}}}), 4718592);  // note §3.4, "4,718K"
  EXPECT_EQ(count({{"dora", {{"r", 64}}}}), 1778688);   // DoRA_p(X), column norm (note §4.2)
  // Row norms: m has E = 768 values per layer instead of D = 384. (The note
  // §4.2 prints 1,806,336 for this; 24 x (73,728 + 768) is 1,787,904.)
  EXPECT_EQ(count({{"dora", {{"r", 64}, {"norm", "row"}}}}), 1787904);
  EXPECT_EQ(count({{"dora", json::object()}}), L * (8 * (D + E) + D));
  EXPECT_EQ(count({{"dora", {{"target", "out_proj"}}}}), L * (8 * (E + D) + E));
  EXPECT_EQ(count({{"dora", {{"target", "x_proj"}}}}), L * 2 * (8 * (E + 24 + 2 * N) + E));
}

}  // namespace
}  // namespace peft
}  // namespace peftsearch
