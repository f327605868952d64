#include "worker/peft/method_table.h"

#include <cmath>
#include <cstdio>

#include "absl/status/status.h"

namespace peftsearch {
namespace peft {
namespace {

using nlohmann::json;

// Every method takes its optimizer group's lr and wd; the recipe supplies the
// defaults (MambaPEFT: AdamW lr 1e-3, wd 1e-4).
FieldSpec Lr() {
  FieldSpec f{"lr", FieldType::kNumber, 0, 1, /*min_exclusive=*/true};
  f.default_from = DefaultFrom::kRecipeLr;
  return f;
}
FieldSpec Wd(DefaultFrom from, double value = 0) {
  FieldSpec f{"wd", FieldType::kNumber, 0, 1};
  f.default_from = from;
  if (from == DefaultFrom::kValue) f.default_value = value;
  return f;
}
FieldSpec Int(const std::string& name, double min, double max, int64_t def) {
  FieldSpec f{name, FieldType::kInt, min, max};
  f.default_value = def;
  return f;
}
FieldSpec Num(const std::string& name, double min, double max, double def) {
  FieldSpec f{name, FieldType::kNumber, min, max, /*min_exclusive=*/true};
  f.default_value = def;
  return f;
}
FieldSpec Bool(const std::string& name, bool def) {
  FieldSpec f{name, FieldType::kBool};
  f.default_value = def;
  return f;
}
FieldSpec Choice(const std::string& name, std::vector<std::string> choices,
                 const std::string& def) {
  FieldSpec f{name, FieldType::kChoice};
  f.choices = std::move(choices);
  f.default_value = def;
  return f;
}

// Partial tuning: Table 9 step 1 fixes wd = 1e-3 (the weight decay on the
// delta is the paper's regulariser toward the pre-trained weights, Table 2c).
MethodSpec Partial(const std::string& name, const std::string& paper) {
  return {name, paper, Family::kPartial, {Wd(DefaultFrom::kValue, 1e-3), Lr()}};
}

// LoRA: rank r and scale s (no alpha/r: the official Adapter multiplies by s).
// Table 9 step 1: r = 8, s = 0.1, except r = 4 on the small x_proj-row and
// dt_proj targets. r <= 1024 is far above any setting in the paper (max 96).
MethodSpec LowRank(const std::string& name, const std::string& paper, int64_t r) {
  return {name,
          paper,
          Family::kLowRank,
          {Int("r", 1, 1024, r), Num("s", 0, 100, 0.1), Lr(), Wd(DefaultFrom::kRecipeWd)}};
}

std::vector<MethodSpec> BuildSpecs() {
  std::vector<MethodSpec> s;
  // Table 1 order.
  s.push_back(Partial("cls_token", "CLS-token-tuning"));
  s.push_back(Partial("pos_embed", "Pos-embed-tuning"));
  s.push_back(Partial("bias", "Bias-tuning"));
  s.push_back(Partial("d", "D-tuning"));
  s.push_back(Partial("a", "A-tuning"));
  s.push_back(Partial("conv1d", "Conv1d-tuning"));
  // Prompt: Table 9 step 1 n = 1; the step-1 config uses prompt_type
  // "prefix" with projection (5_small_peft_search_step1.py).
  s.push_back({"prompt",
               "Prompt-tuning",
               Family::kPrompt,
               {Int("n", 1, 64, 1), Bool("projection", true),
                Choice("position", {"prefix", "suffix", "prefix_suffix"}, "prefix"), Lr(),
                Wd(DefaultFrom::kRecipeWd)}});
  // Affix: n = 1 (Table 9 step 1), inner_dual_prefix with projection as
  // released; n in [1, 3] in step 2.
  s.push_back({"affix",
               "Affix-tuning",
               Family::kAffix,
               {Int("n", 1, 64, 1), Bool("projection", true), Lr(), Wd(DefaultFrom::kRecipeWd)}});
  // Additional-scan: n = 1, "prefix" with A copied from the first pre-trained
  // column (the released "copyfirst"; Table 2b "Top / Ours").
  s.push_back({"additional_scan",
               "Additional-scan",
               Family::kAdditionalScan,
               {Int("n", 1, 64, 1), Choice("position", {"prefix", "suffix"}, "prefix"),
                Bool("copy_a", true), Lr(), Wd(DefaultFrom::kRecipeWd)}});
  s.push_back(LowRank("parallel_adapter", "ParallelAdapter", 8));
  s.push_back(LowRank("lora_embed", "LoRA(embed)", 8));
  s.push_back(LowRank("lora_x_proj", "LoRA(x_proj)", 8));
  s.push_back(LowRank("lora_dt_proj", "LoRA(dt_proj)", 4));
  s.push_back(LowRank("lora_out_proj", "LoRA(out_proj)", 8));
  s.push_back(LowRank("lora_in_proj", "LoRA(in_proj)", 8));
  s.push_back(LowRank("lora_p_d", "LoRA_p(d)", 4));
  s.push_back(LowRank("lora_p_c", "LoRA_p(C)", 4));
  s.push_back(LowRank("lora_p_b", "LoRA_p(B)", 4));
  s.push_back(LowRank("lora_p_z", "LoRA_p(Z)", 8));
  s.push_back(LowRank("lora_p_x", "LoRA_p(X)", 8));
  // Baselines.
  s.push_back({"linear_probing", "Linear Probing", Family::kBaseline, {}});
  s.push_back({"full", "Full", Family::kBaseline, {Lr(), Wd(DefaultFrom::kRecipeWd)}});
  // Beyond MambaPEFT (docs/PEFT.md lists where each default comes from).
  // ProDiaL: 16 blocks divide D and E of every preset and test backbone (the
  // released language scripts use 64 or 1x1 blocks); ε rank 8 and alpha 8 as
  // the released scripts and peft 0.12's default.
  s.push_back({"prodial",
               "ProDiaL",
               Family::kProDiaL,
               {Int("blocks_in", 1, 65536, 16), Int("blocks_out", 1, 65536, 16),
                Int("r", 1, 1024, 8), Num("alpha", 0, 1024, 8),
                Choice("mode", {"faithful", "diag_learnable"}, "faithful"), Lr(),
                Wd(DefaultFrom::kRecipeWd)},
               /*extended=*/true});
  // SDLoRA: released Mamba configs β = 0.99, α = 0.9, out_proj LoRA r = 8 with
  // alpha = r (s = 1); the warm-up of 10 steps is ours (released: 250
  // iterations, longer than a whole mini-VTAB trial).
  s.push_back({"sdlora",
               "SDLoRA (SDT + LoRA(out_proj))",
               Family::kSdLora,
               {Int("r", 1, 1024, 8), Num("s", 0, 100, 1.0), Num("channel_fraction", 0, 1, 0.01),
                Num("state_fraction", 0, 1, 0.1), Int("warmup_steps", 1, 1000000, 10), Lr(),
                Wd(DefaultFrom::kRecipeWd)},
               /*extended=*/true});
  // Memba: LIM constants are ours (unpublished); LoRA r = 8, s = 0.1 as the
  // LoRA family's step-1 minimum.
  s.push_back({"memba",
               "Memba (LIM + LoRA(in_proj, out_proj))",
               Family::kMemba,
               {Int("r", 1, 1024, 8), Num("s", 0, 100, 0.1), Num("tau", 0, 1, 0.5),
                Num("v_th", 0, 1e6, 1.0), Int("chunks", 1, 1024, 4), Bool("transfer", true), Lr(),
                Wd(DefaultFrom::kRecipeWd)},
               /*extended=*/true});
  // DoRA: MambaPEFT's DoRA_p(X) (target x, column norm, s fixed) at the LoRA
  // family's step-1 minimum r = 8, s = 0.1.
  s.push_back({"dora",
               "DoRA",
               Family::kDora,
               {Choice("target", {"x", "z", "in_proj", "out_proj", "x_proj", "d", "b", "c", "dt_proj"},
                       "x"),
                Int("r", 1, 1024, 8), Num("s", 0, 100, 0.1), Choice("norm", {"column", "row"}, "column"),
                Lr(), Wd(DefaultFrom::kRecipeWd)},
               /*extended=*/true});
  return s;
}

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

std::string Known(const MethodSpec& spec) {
  std::string out;
  for (const FieldSpec& f : spec.fields) out += (out.empty() ? "" : ", ") + f.name;
  return out.empty() ? "none" : out;
}

absl::Status Bad(const MethodSpec& m, const FieldSpec& f, const std::string& what,
                 const json& got) {
  return absl::InvalidArgumentError(m.name + "." + f.name + ": must be " + what + ", got " +
                                    got.dump());
}

absl::StatusOr<json> CheckField(const MethodSpec& m, const FieldSpec& f, const json& v) {
  const std::string range = std::string(f.min_exclusive ? "(" : "[") + Fmt(f.min) + ", " +
                            Fmt(f.max) + "]";
  switch (f.type) {
    case FieldType::kInt: {
      // Integral floats (8.0) are accepted: samplers may hand ints as floats.
      if (!v.is_number() || v.is_boolean()) return Bad(m, f, "an integer in " + range, v);
      const double x = v.get<double>();
      if (std::floor(x) != x || x < f.min || x > f.max) {
        return Bad(m, f, "an integer in " + range, v);
      }
      return json(static_cast<int64_t>(x));
    }
    case FieldType::kNumber: {
      if (!v.is_number() || v.is_boolean()) return Bad(m, f, "a number in " + range, v);
      const double x = v.get<double>();
      const bool low_ok = f.min_exclusive ? x > f.min : x >= f.min;
      if (!std::isfinite(x) || !low_ok || x > f.max) return Bad(m, f, "a number in " + range, v);
      return json(x);
    }
    case FieldType::kBool:
      if (!v.is_boolean()) return Bad(m, f, "a boolean", v);
      return v;
    case FieldType::kChoice: {
      std::string list;
      for (const auto& c : f.choices) list += (list.empty() ? "" : "|") + c;
      if (v.is_string()) {
        for (const auto& c : f.choices) {
          if (v.get<std::string>() == c) return v;
        }
      }
      return Bad(m, f, "one of " + list, v);
    }
  }
  return absl::InternalError("unreachable");
}

}  // namespace

const std::vector<MethodSpec>& MethodSpecs() {
  static const std::vector<MethodSpec>* specs = new std::vector<MethodSpec>(BuildSpecs());
  return *specs;
}

const MethodSpec* FindMethod(const std::string& name) {
  for (const MethodSpec& m : MethodSpecs()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

absl::StatusOr<json> ResolveMethod(const MethodSpec& spec, const json& given, double recipe_lr,
                                   double recipe_wd) {
  if (!given.is_object()) {
    return absl::InvalidArgumentError(spec.name +
                                      ": must be an object of hyperparameters (or true/false), "
                                      "got " +
                                      given.dump());
  }
  for (auto it = given.begin(); it != given.end(); ++it) {
    bool known = false;
    for (const FieldSpec& f : spec.fields) known = known || f.name == it.key();
    if (!known) {
      return absl::InvalidArgumentError(spec.name + "." + it.key() +
                                        ": unknown hyperparameter (known: " + Known(spec) + ")");
    }
  }
  json out = json::object();
  for (const FieldSpec& f : spec.fields) {
    auto it = given.find(f.name);
    if (it != given.end()) {
      absl::StatusOr<json> v = CheckField(spec, f, *it);
      if (!v.ok()) return v.status();
      out[f.name] = *v;
      continue;
    }
    switch (f.default_from) {
      case DefaultFrom::kValue:
        out[f.name] = f.default_value;
        break;
      case DefaultFrom::kRecipeLr:
        out[f.name] = recipe_lr;
        break;
      case DefaultFrom::kRecipeWd:
        out[f.name] = recipe_wd;
        break;
    }
  }
  return out;
}

}  // namespace peft
}  // namespace peftsearch
