#include "worker/peft/peft.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <set>

#include "worker/peft/additional_scan.h"
#include "worker/peft/method_table.h"
#include "worker/peft/soft_tokens.h"
#include "worker/peft/test_util.h"

namespace peftsearch {
namespace peft {
namespace {

using nlohmann::json;
using testing::Child;
using testing::Features;
using testing::Images;
using testing::Snapshot;
using testing::TinyBackbone;
using torch::Tensor;

// Methods whose parameters are not all zero-initialised at creation, so the
// model output changes at initialisation (soft tokens, extra SSM states).
const std::set<std::string> kNonZeroInit = {"prompt", "affix", "additional_scan"};

json AllTwenty() {
  json all = json::object();
  for (const std::string& m : MethodNames()) all[m] = json::object();
  return all;
}

TEST(MethodNames, TwentyInTableOneOrder) {
  const std::vector<std::string> want = {
      "cls_token",   "pos_embed",        "bias",         "d",           "a",
      "conv1d",      "prompt",           "affix",        "additional_scan", "parallel_adapter",
      "lora_embed",  "lora_x_proj",      "lora_dt_proj", "lora_out_proj", "lora_in_proj",
      "lora_p_d",    "lora_p_c",         "lora_p_b",     "lora_p_z",    "lora_p_x"};
  EXPECT_EQ(MethodNames(), want);
  EXPECT_EQ(BaselineNames(), (std::vector<std::string>{"linear_probing", "full"}));
}

// Table 9 step 1 fixed hyperparameters.
TEST(ResolveCombination, TableNineStepOneDefaults) {
  PeftDefaults d;
  d.lr = 2e-3;
  d.weight_decay = 5e-5;
  auto r = ResolveCombination(AllTwenty(), d);
  ASSERT_TRUE(r.ok()) << r.status();
  for (const char* m : {"cls_token", "pos_embed", "bias", "d", "a", "conv1d"}) {
    EXPECT_DOUBLE_EQ((*r)[m]["wd"].get<double>(), 1e-3) << m;
    EXPECT_DOUBLE_EQ((*r)[m]["lr"].get<double>(), 2e-3) << m;
  }
  for (const char* m : {"prompt", "affix", "additional_scan"}) {
    EXPECT_EQ((*r)[m]["n"].get<int64_t>(), 1) << m;
    EXPECT_DOUBLE_EQ((*r)[m]["wd"].get<double>(), 5e-5) << m;
  }
  for (const char* m : {"parallel_adapter", "lora_embed", "lora_x_proj", "lora_out_proj",
                        "lora_in_proj", "lora_p_x", "lora_p_z"}) {
    EXPECT_EQ((*r)[m]["r"].get<int64_t>(), 8) << m;
    EXPECT_DOUBLE_EQ((*r)[m]["s"].get<double>(), 0.1) << m;
  }
  for (const char* m : {"lora_dt_proj", "lora_p_d", "lora_p_b", "lora_p_c"}) {
    EXPECT_EQ((*r)[m]["r"].get<int64_t>(), 4) << m;
  }
  EXPECT_TRUE((*r)["affix"]["projection"].get<bool>());
  EXPECT_EQ((*r)["additional_scan"]["position"], "prefix");
  EXPECT_TRUE((*r)["additional_scan"]["copy_a"].get<bool>());
}

TEST(ResolveCombination, BooleansAreOnAndOff) {
  auto r = ResolveCombination(json{{"a", true}, {"d", false}}, PeftDefaults());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->contains("a"));
  EXPECT_FALSE(r->contains("d"));
}

TEST(ValidateCombination, ErrorsNameMethodAndField) {
  struct Case {
    json combination;
    std::string message;
  };
  const std::vector<Case> cases = {
      {json{{"lora_p_x", {{"r", 0}}}}, "lora_p_x.r: must be an integer in [1, 1024], got 0"},
      {json{{"lora_p_x", {{"r", 8.5}}}}, "lora_p_x.r: must be an integer in [1, 1024], got 8.5"},
      {json{{"lora_in_proj", {{"s", 0}}}}, "lora_in_proj.s: must be a number in (0, 100], got 0"},
      {json{{"a", {{"wd", -1}}}}, "a.wd: must be a number in [0, 1], got -1"},
      {json{{"a", {{"lr", 0}}}}, "a.lr: must be a number in (0, 1], got 0"},
      {json{{"prompt", {{"position", "middle"}}}},
       "prompt.position: must be one of prefix|suffix|prefix_suffix, got \"middle\""},
      {json{{"affix", {{"projection", 1}}}}, "affix.projection: must be a boolean, got 1"},
      {json{{"affix", {{"n", 100}}}}, "affix.n: must be an integer in [1, 64], got 100"},
      {json{{"additional_scan", {{"position", "prefix_suffix"}}}},
       "additional_scan.position: must be one of prefix|suffix, got \"prefix_suffix\""},
      {json{{"lora_p_x", {{"alpha", 16}}}},
       "lora_p_x.alpha: unknown hyperparameter (known: r, s, lr, wd)"},
      {json{{"cls_token", {{"r", 4}}}}, "cls_token.r: unknown hyperparameter (known: wd, lr)"},
      {json{{"lora_q", json::object()}}, "lora_q: unknown PEFT method"},
      {json{{"lora_p_x", 3}}, "lora_p_x: must be an object of hyperparameters"},
      {json{{"full", json::object()}, {"a", json::object()}},
       "full: a baseline cannot be combined with other methods (got a)"},
      {json::array(), "combination: must be a JSON object"},
  };
  for (const Case& c : cases) {
    absl::Status s = ValidateCombination(c.combination);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.combination.dump();
    EXPECT_EQ(std::string(s.message()).rfind(c.message, 0), 0u)
        << "got: " << s.message() << "\nwant prefix: " << c.message;
  }
  EXPECT_TRUE(ValidateCombination(json{{"lora_p_x", {{"r", 16.0}, {"s", 1}}}}).ok());
  EXPECT_TRUE(ValidateCombination(json::object()).ok());
}

TEST(CreatePeft, DoesNotTouchTheBackboneAndIsSeeded) {
  model::VisionMamba backbone = TinyBackbone();
  auto before = Snapshot(*backbone);
  torch::manual_seed(3);
  auto a = CreatePeft(AllTwenty(), backbone, PeftDefaults());
  ASSERT_TRUE(a.ok()) << a.status();
  torch::manual_seed(3);
  auto b = CreatePeft(AllTwenty(), backbone, PeftDefaults());
  ASSERT_TRUE(b.ok()) << b.status();
  for (const auto& item : backbone->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), before[item.key()])) << item.key();
    EXPECT_FALSE(item.value().requires_grad()) << item.key();
  }
  ASSERT_EQ(a->named_parameters.size(), b->named_parameters.size());
  for (size_t i = 0; i < a->named_parameters.size(); ++i) {
    EXPECT_EQ(a->named_parameters[i].first, b->named_parameters[i].first);
    EXPECT_TRUE(torch::equal(a->named_parameters[i].second, b->named_parameters[i].second))
        << a->named_parameters[i].first;
  }
  EXPECT_EQ(a->trainable_by_method.size(), 20u);
  int64_t sum = 0;
  for (const auto& [m, n] : a->trainable_by_method) sum += n;
  EXPECT_EQ(sum, a->trainable_total);
  EXPECT_FALSE(a->trains_backbone);
}

// Output at initialisation equals the frozen backbone's for every
// zero-initialised method (the delta, LoRA up or adapter up is zero), in both
// eval and train mode (dropout sits before the zero up-projection).
TEST(PerMethod, ZeroInitMethodsLeaveTheOutputUnchanged) {
  model::VisionMamba backbone = TinyBackbone();
  Tensor images = Images();
  Tensor want = Features(backbone, nullptr, images);
  for (const std::string& m : MethodNames()) {
    if (kNonZeroInit.count(m)) continue;
    auto p = CreatePeft(json{{m, json::object()}}, backbone, PeftDefaults());
    ASSERT_TRUE(p.ok()) << m << ": " << p.status();
    ASSERT_GT(p->trainable_total, 0) << m;
    EXPECT_TRUE(torch::equal(Features(backbone, p->extension.get(), images), want)) << m;
    backbone->train();
    EXPECT_TRUE(torch::equal(Features(backbone, p->extension.get(), images), want)) << m;
    backbone->eval();
  }
}

// Inserts given tokens exactly where prompt-tuning must put them: after CLS
// and pos-embed, before block 0, moving the CLS index.
class InsertTokens : public model::VimExtension {
 public:
  InsertTokens(Tensor front, Tensor back) : front_(front), back_(back) {}
  void OnTokens(Tensor* x, int64_t* cls) override {
    const int64_t B = x->size(0);
    std::vector<Tensor> parts;
    if (front_.size(0) > 0) parts.push_back(front_.unsqueeze(0).expand({B, -1, -1}));
    parts.push_back(*x);
    if (back_.size(0) > 0) parts.push_back(back_.unsqueeze(0).expand({B, -1, -1}));
    *x = torch::cat(parts, 1);
    *cls += front_.size(0);
  }

 private:
  Tensor front_, back_;
};

// Prompt tokens come from nn.Embedding's N(0, 1) (through the MLP with
// projection), so the output changes at initialisation. What must hold: the
// output equals the backbone run with exactly those tokens inserted at the
// configured place (prefix: all in front; suffix: all behind; prefix_suffix:
// ceil(n/2) in front), and it does differ from the plain backbone.
TEST(PerMethod, PromptInsertsItsTokensWhereConfigured) {
  model::VisionMamba backbone = TinyBackbone();
  Tensor images = Images();
  Tensor plain = Features(backbone, nullptr, images);
  for (const char* position : {"prefix", "suffix", "prefix_suffix"}) {
    for (bool projection : {true, false}) {
      json c = {{"prompt", {{"n", 3}, {"position", position}, {"projection", projection}}}};
      auto p = CreatePeft(c, backbone, PeftDefaults());
      ASSERT_TRUE(p.ok()) << p.status();
      auto prompt = Child<PromptExtension>(*p);
      ASSERT_NE(prompt, nullptr);
      Tensor tokens = prompt->Prompts().detach();
      ASSERT_EQ(tokens.sizes(), (std::vector<int64_t>{3, 16}));
      const int64_t front = std::string(position) == "prefix" ? 3
                            : std::string(position) == "suffix" ? 0
                                                                : 2;
      InsertTokens ref(tokens.narrow(0, 0, front), tokens.narrow(0, front, 3 - front));
      Tensor got = Features(backbone, p->extension.get(), images);
      EXPECT_TRUE(torch::allclose(got, Features(backbone, &ref, images), 1e-5, 1e-6))
          << position << " projection=" << projection;
      EXPECT_FALSE(torch::allclose(got, plain, 1e-4, 1e-5)) << position;
    }
  }
}

// Returns given per-layer affixes (inner dual prefix).
class GivenAffix : public model::VimExtension {
 public:
  explicit GivenAffix(std::vector<model::XzAffix> a) : a_(std::move(a)) {}
  model::XzAffix Affix(int64_t layer, const Tensor& xz) override {
    model::XzAffix a = a_.at(layer);
    const int64_t B = xz.size(0);
    a.forward_prefix = a.forward_prefix.unsqueeze(0).expand({B, -1, -1});
    a.backward_prefix = a.backward_prefix.unsqueeze(0).expand({B, -1, -1});
    return a;
  }

 private:
  std::vector<model::XzAffix> a_;
};

// Affix tokens are N(0, 1)-embedded (and projected), so the output changes at
// initialisation. What must hold: the output equals the backbone fed, in
// layer i, the forward affix from channels [i*4d, i*4d+2d) and the backward
// affix from [i*4d+2d, (i+1)*4d) of the encoder output, each scanned first
// (inner_dual_prefix); and the z half of an affix, which only gates outputs
// that are discarded, gets no gradient (research note §5.4).
TEST(PerMethod, AffixFeedsEachLayerItsDualPrefix) {
  model::VisionMamba backbone = TinyBackbone();
  Tensor images = Images();
  for (bool projection : {true, false}) {
    auto p = CreatePeft(json{{"affix", {{"n", 2}, {"projection", projection}}}}, backbone,
                        PeftDefaults());
    ASSERT_TRUE(p.ok()) << p.status();
    auto affix = Child<AffixExtension>(*p);
    ASSERT_NE(affix, nullptr);
    Tensor enc = affix->Encoded().detach();
    const int64_t w = 64;  // 2d
    ASSERT_EQ(enc.sizes(), (std::vector<int64_t>{2, 2 * 2 * w}));
    std::vector<model::XzAffix> layers(2);
    for (int64_t i = 0; i < 2; ++i) {
      layers[i].forward_prefix = enc.narrow(1, i * 2 * w, w);
      layers[i].backward_prefix = enc.narrow(1, i * 2 * w + w, w);
    }
    GivenAffix ref(layers);
    Tensor got = Features(backbone, p->extension.get(), images);
    EXPECT_TRUE(torch::allclose(got, Features(backbone, &ref, images), 1e-5, 1e-6));
    EXPECT_FALSE(torch::allclose(got, Features(backbone, nullptr, images), 1e-4, 1e-5));
    if (!projection) {
      // Without projection the embedding is the affix itself: check the
      // z-half (channels [d, 2d) of each direction's 2d) gets zero gradient.
      Tensor emb = p->named_parameters.at(0).second;
      backbone->ForwardFeatures(images, p->extension.get()).sum().backward();
      Tensor g = emb.grad().view({2, 2, 2, 2, 32});  // [n, layer, dir, x|z, d]
      EXPECT_EQ(g.select(3, 1).abs().max().item<float>(), 0.0f);
      EXPECT_GT(g.select(3, 0).abs().max().item<float>(), 0.0f);
    }
  }
}

// Additional-scan's new x_proj rows take nn.Linear's default init (the
// released zero_init_x_proj=False), so the output changes. What must hold:
// the new A columns copy the pre-trained first (prefix) / last (suffix)
// column, and with the new x_proj rows zeroed the extra states never get
// input, so the output equals the backbone's.
TEST(PerMethod, AdditionalScanCopiesAAndIsInertWithZeroRows) {
  model::VisionMamba backbone = TinyBackbone();
  Tensor images = Images();
  Tensor plain = Features(backbone, nullptr, images);
  auto sd = Snapshot(*backbone);
  for (const char* position : {"prefix", "suffix"}) {
    auto p = CreatePeft(json{{"additional_scan", {{"n", 3}, {"position", position}}}}, backbone,
                        PeftDefaults());
    ASSERT_TRUE(p.ok()) << p.status();
    const int col = std::string(position) == "prefix" ? 0 : 3;
    std::map<std::string, Tensor> named(p->named_parameters.begin(), p->named_parameters.end());
    for (int i = 0; i < 2; ++i) {
      const std::string pre = "layers." + std::to_string(i) + ".mixer.";
      for (const char* dir : {"A", "A_b"}) {
        Tensor addi = named.at(pre + dir + "_log_scan_addi");
        Tensor want = sd.at(pre + dir + "_log").select(1, col).unsqueeze(1).expand({32, 3});
        EXPECT_TRUE(torch::equal(addi, want)) << pre << dir << " " << position;
      }
    }
    Tensor got = Features(backbone, p->extension.get(), images);
    EXPECT_FALSE(torch::allclose(got, plain, 1e-4, 1e-5)) << position;
    {
      torch::NoGradGuard no_grad;
      for (auto& [name, t] : p->named_parameters) {
        if (name.find("x_proj") != std::string::npos) t.zero_();
      }
    }
    EXPECT_TRUE(torch::allclose(Features(backbone, p->extension.get(), images), plain, 1e-5, 1e-6))
        << position;
  }
  // Without copy_a: log(N+1 .. N+n), the continued S4D-real init.
  auto p = CreatePeft(json{{"additional_scan", {{"n", 2}, {"copy_a", false}}}}, backbone,
                      PeftDefaults());
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(torch::allclose(p->named_parameters.at(0).second[0],
                              torch::log(torch::tensor({5.0f, 6.0f}))));
  // A columns are never decayed (official _no_weight_decay): own group, wd 0.
  int no_decay_groups = 0;
  for (const ParamGroup& g : p->groups) {
    if (g.weight_decay == 0) {
      ++no_decay_groups;
      EXPECT_EQ(g.params.size(), 4u);  // 2 layers x (A, A_b)
    }
  }
  EXPECT_EQ(no_decay_groups, 1);
}

TEST(PerMethod, OneStepChangesOnlyTheMethodAndTheHead) {
  uint64_t seed = 1;
  for (const std::string& m : MethodNames()) {
    SCOPED_TRACE(m);
    testing::ExpectOnlyPeftAndHeadChange(json{{m, json::object()}}, seed++);
  }
}

// All 20 together: the 17 zero-initialised methods add nothing at
// initialisation, so the output equals that of prompt + affix +
// additional_scan alone with the same tensors; one step trains every method.
TEST(AllTwenty, ZeroInitPartsAreInertAndEveryMethodTrains) {
  model::VisionMamba backbone = TinyBackbone();
  Tensor images = Images();
  auto all = CreatePeft(AllTwenty(), backbone, PeftDefaults());
  ASSERT_TRUE(all.ok()) << all.status();
  json three = {{"prompt", json::object()},
                {"affix", json::object()},
                {"additional_scan", json::object()}};
  auto some = CreatePeft(three, backbone, PeftDefaults());
  ASSERT_TRUE(some.ok()) << some.status();
  std::map<std::string, Tensor> from(all->named_parameters.begin(), all->named_parameters.end());
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : some->named_parameters) t.copy_(from.at(name));
  }
  for (bool train : {false, true}) {
    backbone->train(train);
    EXPECT_TRUE(torch::allclose(Features(backbone, all->extension.get(), images),
                                Features(backbone, some->extension.get(), images), 1e-5, 1e-6))
        << "train=" << train;
  }
  backbone->eval();
  testing::ExpectOnlyPeftAndHeadChange(AllTwenty(), 99);
}

TEST(Baselines, LinearProbingAndFull) {
  model::VisionMamba backbone = TinyBackbone();
  auto lp = CreatePeft(json{{"linear_probing", json::object()}}, backbone, PeftDefaults());
  ASSERT_TRUE(lp.ok());
  EXPECT_EQ(lp->extension, nullptr);
  EXPECT_EQ(lp->trainable_total, 0);
  EXPECT_TRUE(lp->groups.empty());

  auto full = CreatePeft(json{{"full", {{"lr", 5e-5}}}}, backbone, PeftDefaults());
  ASSERT_TRUE(full.ok());
  EXPECT_TRUE(full->trains_backbone);
  EXPECT_EQ(full->extension, nullptr);
  int64_t total = 0;
  for (const auto& p : backbone->parameters()) total += p.numel();
  EXPECT_EQ(full->trainable_total, total);
  ASSERT_EQ(full->groups.size(), 1u);
  EXPECT_DOUBLE_EQ(full->groups[0].lr, 5e-5);
  for (const Tensor& t : full->groups[0].params) EXPECT_TRUE(t.requires_grad());
}

TEST(Groups, CarryEachMethodsLrAndWd) {
  model::VisionMamba backbone = TinyBackbone();
  json c = {{"lora_p_x", {{"lr", 3e-3}, {"wd", 1e-5}}}, {"a", json::object()}};
  auto p = CreatePeft(c, backbone, PeftDefaults());
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->groups.size(), 2u);
  EXPECT_EQ(p->groups[0].method, "a");  // application (Table 1) order
  EXPECT_DOUBLE_EQ(p->groups[0].lr, 1e-3);
  EXPECT_DOUBLE_EQ(p->groups[0].weight_decay, 1e-3);
  EXPECT_EQ(p->groups[1].method, "lora_p_x");
  EXPECT_DOUBLE_EQ(p->groups[1].lr, 3e-3);
  EXPECT_DOUBLE_EQ(p->groups[1].weight_decay, 1e-5);
}

TEST(SaveLoad, RoundTripAndStrictErrors) {
  model::VisionMamba backbone = TinyBackbone();
  const std::string path = ::testing::TempDir() + "/peft_trainable.safetensors";
  json c = {{"lora_p_x", json::object()}, {"affix", json::object()}, {"a", json::object()}};
  torch::manual_seed(1);
  auto a = CreatePeft(c, backbone, PeftDefaults());
  ASSERT_TRUE(a.ok());
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : a->named_parameters) t.add_(torch::randn_like(t));
  }
  torch::nn::Linear head_a = testing::RandomHead(16, 3, 1);
  ASSERT_TRUE(SaveTrainable(*a, &head_a, path).ok());

  torch::manual_seed(2);
  auto b = CreatePeft(c, backbone, PeftDefaults());
  ASSERT_TRUE(b.ok());
  torch::nn::Linear head_b = testing::RandomHead(16, 3, 2);
  ASSERT_TRUE(LoadTrainable(&*b, &head_b, path).ok());
  for (size_t i = 0; i < a->named_parameters.size(); ++i) {
    EXPECT_TRUE(torch::equal(a->named_parameters[i].second, b->named_parameters[i].second))
        << a->named_parameters[i].first;
  }
  EXPECT_TRUE(torch::equal(head_a->weight, head_b->weight));
  // Without a head the file's head tensors are ignored.
  EXPECT_TRUE(LoadTrainable(&*b, nullptr, path).ok());

  // A different rank: shape mismatch names the tensor; nothing is copied.
  auto r16 = CreatePeft(json{{"lora_p_x", {{"r", 16}}}, {"affix", json::object()},
                             {"a", json::object()}},
                        backbone, PeftDefaults());
  ASSERT_TRUE(r16.ok());
  absl::Status s = LoadTrainable(&*r16, nullptr, path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("lora_X.adapter_down.weight has shape"),
            std::string::npos)
      << s.message();
  // A method missing from the file.
  auto more = CreatePeft(json{{"lora_p_x", json::object()}, {"affix", json::object()},
                              {"a", json::object()}, {"d", json::object()}},
                         backbone, PeftDefaults());
  s = LoadTrainable(&*more, nullptr, path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("missing tensor layers.0.mixer.learnable_D"),
            std::string::npos)
      << s.message();
  // A file with tensors this combination does not have.
  auto fewer = CreatePeft(json{{"a", json::object()}}, backbone, PeftDefaults());
  s = LoadTrainable(&*fewer, nullptr, path);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("unexpected tensor"), std::string::npos);
  // No file.
  EXPECT_EQ(LoadTrainable(&*fewer, nullptr, path + ".nope").code(), absl::StatusCode::kNotFound);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace peft
}  // namespace peftsearch
