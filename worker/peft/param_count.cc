#include "worker/peft/param_count.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "worker/model/vim_model.h"
#include "worker/peft/peft.h"

namespace peftsearch {
namespace peft {
namespace {

using nlohmann::json;

std::string Thousands(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

// K with one decimal and thousands separators, e.g. 117,394.6.
std::string Kilo(int64_t v) {
  const int64_t tenths = (v + 50) / 100;
  return Thousands(tenths / 10) + "." + std::to_string(tenths % 10);
}

json Obj() { return json::object(); }

// Table 9's step-1 result C*: CLS-token, A, Affix, LoRA(out_proj),
// LoRA(in_proj), LoRA(dt_proj), LoRA_p(X), LoRA_p(B).
json HybridAtStepOneDefaults(bool projection) {
  return {{"cls_token", Obj()},     {"a", Obj()},
          {"affix", {{"projection", projection}}},
          {"lora_out_proj", Obj()}, {"lora_in_proj", Obj()},
          {"lora_dt_proj", Obj()},  {"lora_p_x", Obj()},
          {"lora_p_b", Obj()}};
}

std::vector<Table1Row> BuildRows() {
  const std::string rel = "released config ";
  std::vector<Table1Row> r;
  auto add = [&r](std::string row, json c, std::string shown, double paper, std::string src) {
    r.push_back({std::move(row), std::move(c), std::move(shown), paper, std::move(src)});
  };
  json all = Obj();
  for (const std::string& m : MethodNames()) all[m] = Obj();
  add("Scratch", {{"full", Obj()}}, "every backbone tensor", 25450, "Table 1 (random init)");
  add("Full", {{"full", Obj()}}, "every backbone tensor", 25450, rel + "1_small_ft.py");
  add("Linear Probing", {{"linear_probing", Obj()}}, "head only", 9, rel + "1_small_lp.py");
  add("CLS-token-tuning", {{"cls_token", Obj()}}, "delta (1,1,D)", 9, "search flag learnable_cls_token");
  add("Pos-embed-tuning", {{"pos_embed", Obj()}}, "delta (1,197,D)", 84,
      "search flag learnable_pos_embed");
  add("Bias-tuning", {{"bias", Obj()}}, "dt_proj bias deltas, f+b", 37,
      rel + "3_small_learnable_bias_v2_wd_x100.py");
  add("D-tuning", {{"d", Obj()}}, "D deltas, f+b", 45, rel + "3_small_learnable_D_v2_wd_x10.py");
  add("A-tuning", {{"a", Obj()}}, "A_log deltas, f+b", 598, rel + "3_small_learnable_A_v2_wd_x10.py");
  add("Conv1d-tuning", {{"conv1d", Obj()}}, "conv1d weight deltas, f+b", 156,
      rel + "3_small_learnable_conv1d_v2_wd_x10.py");
  add("Prompt-tuning (w/o proj)",
      {{"prompt", {{"n", 8}, {"position", "prefix_suffix"}, {"projection", false}}}},
      "n=8, prefix_suffix, no projection", 12, rel + "4_small_prompt_prefixsuffix_8_wo_project.py");
  add("Prompt-tuning", {{"prompt", {{"n", 8}, {"position", "prefix_suffix"}}}},
      "n=8, prefix_suffix, projection", 307, rel + "4_small_prompt_prefixsuffix_8.py");
  add("Affix-tuning (w/o proj)", {{"affix", {{"n", 3}, {"projection", false}}}},
      "n=3, inner dual prefix, no projection", 230,
      rel + "4_small_affixtune_prefix3dual_wo_project.py");
  add("Affix-tuning", {{"affix", {{"n", 3}}}}, "n=3, inner dual prefix, projection", 117000,
      rel + "4_small_affixtune_prefix3dual.py");
  add("Additional-scan", {{"additional_scan", {{"n", 6}, {"position", "prefix"}}}},
      "n=6, prefix, A copied from column 0", 672,
      rel + "4_small_addiscan_prefix_6_copyfirst.py");
  add("ParallelAdapter", {{"parallel_adapter", {{"r", 32}}}}, "r=32, s=0.1", 663,
      rel + "4_small_adaptf_32.py");
  add("LoRA(embed)", {{"lora_embed", {{"r", 32}}}}, "r=32", 45,
      "no released config; r inferred from the count");
  add("LoRA(x_proj)", {{"lora_x_proj", {{"r", 64}}}}, "r=64, f+b", 2540,
      rel + "2_small_lora_x_proj_dim64.py");
  add("LoRA(dt_proj)", {{"lora_dt_proj", {{"r", 64}}}}, "r=64, f+b", 2442,
      rel + "2_small_lora_dt_dim64.py");
  add("LoRA(out_proj)", {{"lora_out_proj", {{"r", 96}}}}, "r=96", 2663,
      rel + "2_small_lora_out_proj_96.py");
  add("LoRA(in_proj)", {{"lora_in_proj", {{"r", 32}}}}, "r=32", 1483,
      rel + "2_small_lora_in_proj_32.py");
  add("LoRA_p(d)", {{"lora_p_d", {{"r", 64}}}}, "r=64, f+b", 2442, rel + "2_small_lorap_d_dim64.py");
  add("LoRA_p(C)", {{"lora_p_c", {{"r", 64}}}}, "r=64, f+b", 2417, rel + "2_small_lorap_C_dim64.py");
  add("LoRA_p(B)", {{"lora_p_b", {{"r", 64}}}}, "r=64, f+b", 2417, rel + "2_small_lorap_B_dim64.py");
  add("LoRA_p(Z)", {{"lora_p_z", {{"r", 64}}}}, "r=64", 1778, rel + "2_small_lorap_Z_64.py");
  add("LoRA_p(X)", {{"lora_p_x", {{"r", 64}}}}, "r=64", 1778, rel + "2_small_lorap_X_64.py");
  add("All (w/ proj)", all, "all 20 methods at Table 9 step-1 defaults", 119765,
      "Table 9 step 1 (the search's per-method minimum)");
  add("All LoRA (r=8)",
      {{"lora_embed", {{"r", 8}}},
       {"lora_x_proj", {{"r", 8}}},
       {"lora_dt_proj", {{"r", 8}}},
       {"lora_out_proj", {{"r", 8}}},
       {"lora_in_proj", {{"r", 8}}}},
      "LoRA on embed, x_proj, dt_proj, out_proj, in_proj, r=8", 1228, "Table 8 (LoRA(ALL), r=8)");
  add("LoRA(in_proj+out_proj)", {{"lora_in_proj", {{"r", 16}}}, {"lora_out_proj", {{"r", 16}}}},
      "r=16 each", 709, "Table 8 (its 70.68 average is the r=16 row)");
  add("Hybrid (w/ proj)", HybridAtStepOneDefaults(true),
      "Table 9 C* at step-1 defaults (affix with projection)", 117236,
      "Table 9 C*; step-2 values unpublished");
  add("Hybrid (w/o proj)", HybridAtStepOneDefaults(false),
      "Table 9 C* at step-1 defaults (affix without projection)", 1044,
      "Table 9 C*; step-2 values unpublished");
  return r;
}

}  // namespace

absl::StatusOr<CountReport> CountTrainable(const json& combination, const model::VimConfig& config,
                                           int64_t classes) {
  model::VimConfig c = config;
  c.num_classes = 0;  // the task head is counted apart; the backbone's own is not trained
  absl::Status valid = model::ValidateVimConfig(c);
  if (!valid.ok()) return valid;
  if (classes < 0) return absl::InvalidArgumentError("classes: must be >= 0");
  // Parameters stay uninitialised: only shapes matter here.
  model::VisionMamba backbone(c);
  for (auto& p : backbone->parameters()) p.set_requires_grad(false);
  absl::StatusOr<PeftInstance> peft = CreatePeft(combination, backbone, PeftDefaults());
  if (!peft.ok()) return peft.status();
  CountReport r;
  for (const std::string& m : MethodNames()) {
    auto it = peft->trainable_by_method.find(m);
    if (it != peft->trainable_by_method.end()) r.by_method.emplace_back(m, it->second);
  }
  for (const std::string& m : ExtendedMethodNames()) {
    auto it = peft->trainable_by_method.find(m);
    if (it != peft->trainable_by_method.end()) r.by_method.emplace_back(m, it->second);
  }
  for (const std::string& m : BaselineNames()) {
    auto it = peft->trainable_by_method.find(m);
    if (it != peft->trainable_by_method.end()) r.by_method.emplace_back(m, it->second);
  }
  r.peft_total = peft->trainable_total;
  r.head = classes * c.embed_dim + classes;
  r.total_with_head = r.peft_total + r.head;
  return r;
}

std::string FormatCount(const CountReport& r) {
  std::ostringstream out;
  char line[128];
  for (const auto& [m, n] : r.by_method) {
    std::snprintf(line, sizeof(line), "%-20s %15s\n", m.c_str(), Thousands(n).c_str());
    out << line;
  }
  std::snprintf(line, sizeof(line), "%-20s %15s\n", "total (no head)",
                Thousands(r.peft_total).c_str());
  out << line;
  std::snprintf(line, sizeof(line), "%-20s %15s\n", "head", Thousands(r.head).c_str());
  out << line;
  std::snprintf(line, sizeof(line), "%-20s %15s\n", "total with head",
                Thousands(r.total_with_head).c_str());
  out << line;
  return out.str();
}

std::string FormatCountMarkdown(const CountReport& r) {
  std::ostringstream out;
  out << "| method | trainable |\n|---|---:|\n";
  for (const auto& [m, n] : r.by_method) out << "| " << m << " | " << Thousands(n) << " |\n";
  out << "| total (no head) | " << Thousands(r.peft_total) << " |\n";
  out << "| head | " << Thousands(r.head) << " |\n";
  out << "| total with head | " << Thousands(r.total_with_head) << " |\n";
  return out.str();
}

const std::vector<Table1Row>& Table1Rows() {
  static const std::vector<Table1Row>* rows = new std::vector<Table1Row>(BuildRows());
  return *rows;
}

absl::StatusOr<std::vector<Table1Result>> ComputeTable1() {
  absl::StatusOr<model::VimConfig> vim_s = model::VimPreset("vim_small");
  if (!vim_s.ok()) return vim_s.status();
  std::vector<Table1Result> out;
  for (const Table1Row& row : Table1Rows()) {
    absl::StatusOr<CountReport> count = CountTrainable(row.combination, *vim_s, kTable1Classes);
    if (!count.ok()) return count.status();
    Table1Result r{row, *count};
    const double paper = row.paper_k * 1000.0;
    r.diff = (count->total_with_head - paper) / paper;
    r.match = std::fabs(r.diff) <= kTable1Tolerance;
    r.within_rounding = std::fabs(count->total_with_head - paper) <= kTable1Rounding;
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::string> Table1Markdown() {
  absl::StatusOr<std::vector<Table1Result>> rows = ComputeTable1();
  if (!rows.ok()) return rows.status();
  return FormatTable1(*rows);
}

std::string FormatTable1(const std::vector<Table1Result>& rows) {
  std::ostringstream out;
  out << "| Table 1 row (Vim-S) | hyperparameters | source | ours: PEFT | ours: + head | "
         "ours (K) | paper (K) | diff | within 1% | within ±0.5K |\n";
  out << "|---|---|---|---:|---:|---:|---:|---:|:---:|:---:|\n";
  for (const Table1Result& r : rows) {
    out << "| " << r.row.row << " | " << r.row.shown << " | " << r.row.source << " | "
        << Thousands(r.count.peft_total) << " | " << Thousands(r.count.total_with_head) << " | "
        << Kilo(r.count.total_with_head) << " | " << Thousands(static_cast<int64_t>(r.row.paper_k))
        << " | " << (r.diff >= 0 ? "+" : "") << Fixed(100.0 * r.diff, 2) << "% | "
        << (r.match ? "yes" : "**no**") << " | " << (r.within_rounding ? "yes" : "no") << " |\n";
  }
  return out.str();
}

}  // namespace peft
}  // namespace peftsearch
