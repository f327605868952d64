#include "worker/model/vim_model.h"

#include <gtest/gtest.h>

#include <cmath>

#include "worker/model/model_init.h"
#include "worker/model/state_dict.h"
#include "worker/model/vim_config.h"
#include "worker/model/vim_multitask.h"

namespace peftsearch {
namespace model {
namespace {

using torch::Tensor;

int64_t Total(const torch::nn::Module& m) {
  int64_t total = 0;
  ParameterCounts(m, &total);
  return total;
}

// Research note §2.2: totals with the 1000-class head (README 7M/26M/98M;
// issue 5: 7.15M / 25.80M / 97.60M within 0.5%). The exact figures are
// computed from the official module shapes.
TEST(VimPresets, ParameterTotals) {
  struct Want {
    const char* name;
    int64_t exact;
    double millions;
  };
  for (const Want& w : {Want{"vim_tiny", 7148008, 7.15}, Want{"vim_small", 25796584, 25.80},
                        Want{"vim_base", 97598440, 97.60}}) {
    auto config = VimPreset(w.name);
    ASSERT_TRUE(config.ok());
    VisionMamba m(*config);
    const int64_t total = Total(*m);
    EXPECT_EQ(total, w.exact) << w.name;
    EXPECT_NEAR(total / 1e6, w.millions, w.millions * 0.005) << w.name;
  }
}

TEST(VimPresets, UnknownPresetIsNotFound) {
  auto c = VimPreset("vim_huge");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(c.status().message()).find("vim_huge"), std::string::npos);
}

TEST(VimConfigValidation, NamesTheField) {
  VimConfig c;
  c.patch_size = 300;
  absl::Status s = ValidateVimConfig(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("patch_size"), std::string::npos);
}

// Key names and shapes of the official Vim-S checkpoint (research note §2.2).
TEST(VimPresets, SmallKeysAndShapes) {
  VisionMamba m(*VimPreset("vim_small"));
  TensorMap sd = StateDict(*m);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> want = {
      {"cls_token", {1, 1, 384}},
      {"pos_embed", {1, 197, 384}},
      {"patch_embed.proj.weight", {384, 3, 16, 16}},
      {"patch_embed.proj.bias", {384}},
      {"head.weight", {1000, 384}},
      {"head.bias", {1000}},
      {"layers.0.mixer.A_log", {768, 16}},
      {"layers.0.mixer.D", {768}},
      {"layers.0.mixer.A_b_log", {768, 16}},
      {"layers.0.mixer.D_b", {768}},
      {"layers.0.mixer.in_proj.weight", {1536, 384}},
      {"layers.0.mixer.conv1d.weight", {768, 1, 4}},
      {"layers.0.mixer.conv1d.bias", {768}},
      {"layers.0.mixer.x_proj.weight", {56, 768}},
      {"layers.0.mixer.dt_proj.weight", {768, 24}},
      {"layers.0.mixer.dt_proj.bias", {768}},
      {"layers.0.mixer.conv1d_b.weight", {768, 1, 4}},
      {"layers.0.mixer.conv1d_b.bias", {768}},
      {"layers.0.mixer.x_proj_b.weight", {56, 768}},
      {"layers.0.mixer.dt_proj_b.weight", {768, 24}},
      {"layers.0.mixer.dt_proj_b.bias", {768}},
      {"layers.23.mixer.out_proj.weight", {384, 768}},
      {"layers.23.norm.weight", {384}},
      {"norm_f.weight", {384}},
  };
  for (const auto& [k, shape] : want) {
    ASSERT_TRUE(sd.count(k)) << k;
    EXPECT_EQ(sd.at(k).sizes(), c10::IntArrayRef(shape)) << k;
  }
  // 6 top-level + 24 layers x 17 tensors + norm_f; no biases on in/out_proj.
  EXPECT_EQ(sd.size(), 6u + 24u * 17u + 1u);
  EXPECT_EQ(sd.count("layers.0.mixer.in_proj.bias"), 0u);
  EXPECT_EQ(sd.count("layers.0.norm.bias"), 0u);
}

VimConfig SmallConfig() {
  VimConfig c;
  c.img_size = 32;
  c.patch_size = 8;
  c.stride = 8;
  c.embed_dim = 32;
  c.depth = 3;
  c.num_classes = 10;
  return c;
}

VisionMamba SmallModel(uint64_t seed = 7) {
  VisionMamba m(SmallConfig());
  InitVim(m.get(), seed);
  m->eval();
  return m;
}

TEST(VimForward, ShapesDeterminismAndDropPath) {
  VisionMamba m = SmallModel();
  torch::manual_seed(1);
  Tensor x = torch::randn({2, 3, 32, 32});
  Tensor a = m->forward(x), b = m->forward(x);
  EXPECT_EQ(a.sizes(), c10::IntArrayRef({2, 10}));
  EXPECT_TRUE(torch::equal(a, b));  // eval: no drop path
  m->train();
  torch::manual_seed(2);
  Tensor c = m->forward(x);
  EXPECT_FALSE(torch::allclose(a, c));  // drop path active in training
  EXPECT_THROW(m->forward(torch::randn({1, 3, 16, 16})), c10::Error);
}

TEST(VimForward, InitIsDeterministicPerSeed) {
  TensorMap a = StateDict(*SmallModel(3)), b = StateDict(*SmallModel(3)), c = StateDict(*SmallModel(4));
  bool all_equal = true, any_diff = false;
  for (const auto& [k, v] : a) {
    all_equal &= torch::equal(v, b.at(k));
    any_diff |= !torch::equal(v, c.at(k));
  }
  EXPECT_TRUE(all_equal);
  EXPECT_TRUE(any_diff);
}

TEST(VimForward, GradientsReachAllParameters) {
  VisionMamba m = SmallModel();
  m->train();
  Tensor loss = m->forward(torch::randn({2, 3, 32, 32})).pow(2).sum();
  loss.backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

// An extension that overrides nothing reproduces the plain model exactly.
TEST(VimExtensionHooks, EmptyExtensionIsIdentity) {
  VisionMamba m = SmallModel();
  Tensor x = torch::randn({2, 3, 32, 32});
  VimExtension none;
  EXPECT_TRUE(torch::equal(m->forward(x), m->forward(x, &none)));
}

// Additional-scan shape: d_state 16 + k through Param(A_log) / Param(x_proj);
// with zero B rows the extra states stay 0, so the output is unchanged; with
// non-zero rows it changes.
class AddScan : public VimExtension {
 public:
  AddScan(int64_t k, int64_t r, bool zero) : k_(k), r_(r), zero_(zero) {}
  Tensor Param(const std::string& name, const Tensor& base) override {
    const bool a = EndsWith(name, "A_log") || EndsWith(name, "A_b_log");
    const bool x = EndsWith(name, "x_proj.weight") || EndsWith(name, "x_proj_b.weight");
    if (a) {
      seen_a_ = true;
      // copy-first init: the extra columns repeat A_log[:, 0].
      return torch::cat({base.narrow(1, 0, 1).expand({base.size(0), k_}), base}, 1);
    }
    if (x) {
      const int64_t N = (base.size(0) - r_) / 2, d = base.size(1);
      Tensor rows = zero_ ? torch::zeros({2 * k_, d}) : torch::randn({2 * k_, d}) * 0.1;
      // [dt ; B_addi ; B ; C_addi ; C]
      return torch::cat({base.narrow(0, 0, r_), rows.narrow(0, 0, k_), base.narrow(0, r_, N),
                         rows.narrow(0, k_, k_), base.narrow(0, r_ + N, N)},
                        0);
    }
    return base;
  }
  bool seen_a_ = false;

 private:
  static bool EndsWith(const std::string& s, const std::string& t) {
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
  }
  int64_t k_, r_;
  bool zero_;
};

TEST(VimExtensionHooks, AdditionalScanShapes) {
  VisionMamba m = SmallModel();
  Tensor x = torch::randn({2, 3, 32, 32});
  Tensor base = m->forward(x);
  AddScan zero(3, SmallConfig().dt_rank(), true), rnd(3, SmallConfig().dt_rank(), false);
  Tensor same = m->forward(x, &zero);
  EXPECT_TRUE(zero.seen_a_);
  EXPECT_LT((same - base).abs().max().item<double>(), 1e-5);
  EXPECT_GT((m->forward(x, &rnd) - base).abs().max().item<double>(), 1e-6);
}

// A Param override of the wrong shape fails with the official key in the message.
TEST(VimExtensionHooks, BadParamShapeNamesTheKey) {
  VisionMamba m = SmallModel();
  class BadXProj : public VimExtension {
   public:
    Tensor Param(const std::string& name, const Tensor& base) override {
      return name == "layers.1.mixer.x_proj_b.weight" ? base.narrow(0, 0, base.size(0) - 1) : base;
    }
  } bad;
  try {
    m->forward(torch::randn({1, 3, 32, 32}), &bad);
    FAIL() << "expected a shape error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("layers.1.mixer.x_proj_b.weight has shape"),
              std::string::npos)
        << e.what();
  }
}

// Prompt tuning (OnTokens), affix (Affix), deltas: shapes flow and the hook
// results reach the output; zero deltas change nothing.
class Hooks : public VimExtension {
 public:
  explicit Hooks(double scale) : scale_(scale) {}
  Tensor PatchEmbedDelta(const Tensor& images) override {
    return torch::full({images.size(0), 16, 32}, scale_);
  }
  void OnTokens(Tensor* tokens, int64_t* cls_index) override {
    Tensor prompts = torch::full({tokens->size(0), 2, tokens->size(2)}, scale_);
    *tokens = torch::cat({prompts, *tokens}, 1);
    *cls_index += 2;
  }
  Tensor InProjDelta(int64_t, const Tensor& h) override {
    return torch::full({h.size(0), h.size(1), 128}, scale_);
  }
  XzAffix Affix(int64_t, const Tensor& xz) override {
    XzAffix a;
    if (scale_ != 0) {
      a.forward_prefix = torch::full({xz.size(0), 2, xz.size(2)}, scale_);
      a.backward_prefix = torch::full({xz.size(0), 1, xz.size(2)}, -scale_);
      a.forward_suffix = torch::full({xz.size(0), 1, xz.size(2)}, scale_);
    }
    return a;
  }
  Tensor OutProjDelta(int64_t, const Tensor& y) override {
    return torch::full({y.size(0), y.size(1), 32}, scale_);
  }

 private:
  double scale_;
};

TEST(VimExtensionHooks, AllHooksReachTheOutput) {
  VisionMamba m = SmallModel();
  Tensor x = torch::randn({2, 3, 32, 32});
  Hooks zero(0.0), some(0.1);
  // Zero deltas; the two prompts are zero tokens, which do change the scan, so
  // compare against a prompt-only extension instead of the plain model.
  class PromptsOnly : public VimExtension {
    void OnTokens(Tensor* tokens, int64_t* cls_index) override {
      *tokens = torch::cat({torch::zeros({tokens->size(0), 2, tokens->size(2)}), *tokens}, 1);
      *cls_index += 2;
    }
  } prompts;
  EXPECT_LT((m->forward(x, &zero) - m->forward(x, &prompts)).abs().max().item<double>(), 1e-5);
  Tensor y = m->forward(x, &some);
  EXPECT_EQ(y.sizes(), c10::IntArrayRef({2, 10}));
  EXPECT_GT((y - m->forward(x, &prompts)).abs().max().item<double>(), 1e-4);
}

TEST(VimExtensionHooks, CompositeChainsParamsAndSumsDeltas) {
  VisionMamba m = SmallModel();
  Tensor x = torch::randn({1, 3, 32, 32});
  class Delta : public VimExtension {
   public:
    Tensor OutProjDelta(int64_t, const Tensor& y) override {
      return torch::full({y.size(0), y.size(1), 32}, 0.05);
    }
  };
  class Twice : public VimExtension {
   public:
    Tensor OutProjDelta(int64_t, const Tensor& y) override {
      return torch::full({y.size(0), y.size(1), 32}, 0.1);
    }
  } twice;
  CompositeVimExtension both({std::make_shared<Delta>(), std::make_shared<Delta>()});
  EXPECT_LT((m->forward(x, &both) - m->forward(x, &twice)).abs().max().item<double>(), 1e-5);
}

// Five tasks over one frozen backbone: gradients reach only each task's own
// extension parameters and head; the backbone gets none.
class CtsDelta : public VimExtension {
 public:
  CtsDelta() : delta(torch::zeros({1, 1, 32}, torch::requires_grad())) {}
  Tensor Param(const std::string& name, const Tensor& base) override {
    return name == "cls_token" ? base + delta : base;
  }
  Tensor delta;
};

TEST(SharedBackbone, FiveTasksShareOneFrozenBackbone) {
  SharedVimBackbone shared(SmallModel());
  std::vector<std::shared_ptr<CtsDelta>> exts;
  for (int i = 0; i < 5; ++i) {
    exts.push_back(std::make_shared<CtsDelta>());
    EXPECT_EQ(shared.AddTask(exts.back(), 3 + i), i);
  }
  shared.Train(true);
  Tensor x = torch::randn({2, 3, 32, 32});
  for (int i = 0; i < 5; ++i) {
    Tensor logits = shared.Forward(i, x);
    EXPECT_EQ(logits.sizes(), c10::IntArrayRef({2, 3 + i}));
    EXPECT_EQ(logits.abs().sum().item<double>(), 0.0);  // zero-initialised head
  }
  // One step on task 2 only.
  Tensor loss = torch::nn::functional::cross_entropy(shared.Forward(2, x), torch::tensor({0, 1}));
  loss.backward();
  EXPECT_TRUE(shared.task(2).head->weight.grad().defined());
  EXPECT_FALSE(shared.task(1).head->weight.grad().defined());
  for (const auto& p : shared.backbone()->parameters()) {
    EXPECT_FALSE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
  // The head is zero, so the cls delta gets zero gradient now; after a head
  // change it gets a non-zero one.
  {
    torch::NoGradGuard g;
    shared.task(2).head->weight.normal_();
  }
  shared.Forward(2, x).sum().backward();
  EXPECT_GT(exts[2]->delta.grad().abs().sum().item<double>(), 0.0);
  EXPECT_FALSE(exts[0]->delta.grad().defined());
}

}  // namespace
}  // namespace model
}  // namespace peftsearch
