#include "worker/peft/peft.h"

#include <set>

#include "worker/model/safetensors.h"
#include "worker/peft/additional_scan.h"
#include "worker/peft/dora.h"
#include "worker/peft/low_rank.h"
#include "worker/peft/memba.h"
#include "worker/peft/method_extension.h"
#include "worker/peft/method_table.h"
#include "worker/peft/partial_tuning.h"
#include "worker/peft/prodial.h"
#include "worker/peft/sdlora.h"
#include "worker/peft/soft_tokens.h"

namespace peftsearch {
namespace peft {
namespace {

using nlohmann::json;

std::vector<std::string> NamesOf(bool baselines) {
  std::vector<std::string> out;
  for (const MethodSpec& m : MethodSpecs()) {
    if (!m.extended && (m.family == Family::kBaseline) == baselines) out.push_back(m.name);
  }
  return out;
}

// Builds one method. REQUIRES: hp resolved by ResolveMethod.
std::shared_ptr<MethodExtension> Build(const MethodSpec& spec, const json& hp,
                                       const BackboneInfo& info) {
  switch (spec.family) {
    case Family::kPartial:
      return std::make_shared<PartialTuningExtension>(spec.name, info);
    case Family::kPrompt:
      return std::make_shared<PromptExtension>(hp.at("n").get<int64_t>(),
                                               hp.at("projection").get<bool>(),
                                               hp.at("position").get<std::string>(), info);
    case Family::kAffix:
      return std::make_shared<AffixExtension>(hp.at("n").get<int64_t>(),
                                              hp.at("projection").get<bool>(), info);
    case Family::kAdditionalScan:
      return std::make_shared<AdditionalScanExtension>(hp.at("n").get<int64_t>(),
                                                       hp.at("position").get<std::string>(),
                                                       hp.at("copy_a").get<bool>(), info);
    case Family::kLowRank:
      return std::make_shared<LowRankExtension>(spec.name, hp.at("r").get<int64_t>(),
                                                hp.at("s").get<double>(), info);
    case Family::kProDiaL: {
      ProDiaLOptions o;
      o.blocks_in = hp.at("blocks_in").get<int64_t>();
      o.blocks_out = hp.at("blocks_out").get<int64_t>();
      o.rank = hp.at("r").get<int64_t>();
      o.alpha = hp.at("alpha").get<double>();
      o.diag_learnable = hp.at("mode").get<std::string>() == "diag_learnable";
      return std::make_shared<ProDiaLExtension>(o, info);
    }
    case Family::kSdLora: {
      SdLoraOptions o;
      o.rank = hp.at("r").get<int64_t>();
      o.scale = hp.at("s").get<double>();
      o.channel_fraction = hp.at("channel_fraction").get<double>();
      o.state_fraction = hp.at("state_fraction").get<double>();
      o.warmup_steps = hp.at("warmup_steps").get<int64_t>();
      o.lr = hp.at("lr").get<double>();
      return std::make_shared<SdLoraExtension>(o, info);
    }
    case Family::kMemba: {
      MembaOptions o;
      o.rank = hp.at("r").get<int64_t>();
      o.scale = hp.at("s").get<double>();
      o.tau = hp.at("tau").get<double>();
      o.v_th = hp.at("v_th").get<double>();
      o.chunks = hp.at("chunks").get<int64_t>();
      o.transfer = hp.at("transfer").get<bool>();
      return std::make_shared<MembaExtension>(o, info);
    }
    case Family::kDora:
      return std::make_shared<DoRAExtension>(hp.at("target").get<std::string>(),
                                             hp.at("r").get<int64_t>(), hp.at("s").get<double>(),
                                             hp.at("norm").get<std::string>(), info);
    case Family::kBaseline:
      break;
  }
  return nullptr;
}

}  // namespace

const std::vector<std::string>& MethodNames() {
  static const std::vector<std::string>* names = new std::vector<std::string>(NamesOf(false));
  return *names;
}

const std::vector<std::string>& BaselineNames() {
  static const std::vector<std::string>* names = new std::vector<std::string>(NamesOf(true));
  return *names;
}

const std::vector<std::string>& ExtendedMethodNames() {
  // Weight transforms of in_proj (ProDiaL, then DoRA on the result) come
  // before Memba, which recomputes z from the in_proj weight the mixer uses;
  // SDT's deltas are defined on the pre-trained A_log / x_proj layout, so
  // before additional_scan re-lays them.
  static const std::vector<std::string>* names =
      new std::vector<std::string>{"prodial", "dora", "sdlora", "memba"};
  return *names;
}

absl::StatusOr<json> ResolveCombination(const json& combination, const PeftDefaults& defaults) {
  if (!combination.is_object()) {
    return absl::InvalidArgumentError(
        "combination: must be a JSON object {method: {hyperparameters}}, got " +
        combination.dump());
  }
  json out = json::object();
  std::string baseline;
  for (auto it = combination.begin(); it != combination.end(); ++it) {
    const MethodSpec* spec = FindMethod(it.key());
    if (spec == nullptr) {
      std::string known;
      for (const MethodSpec& m : MethodSpecs()) known += (known.empty() ? "" : ", ") + m.name;
      return absl::InvalidArgumentError(it.key() + ": unknown PEFT method (known: " + known + ")");
    }
    json given = it.value();
    if (given.is_boolean()) {
      if (!given.get<bool>()) continue;  // step 1's "off"
      given = json::object();
    }
    absl::StatusOr<json> hp = ResolveMethod(*spec, given, defaults.lr, defaults.weight_decay);
    if (!hp.ok()) return hp.status();
    if (spec->family == Family::kBaseline) baseline = spec->name;
    out[spec->name] = *hp;
  }
  // Linear probing trains the head only and full fine-tuning everything:
  // neither has a meaning beside PEFT methods (Table 1 baselines).
  if (!baseline.empty() && out.size() > 1) {
    std::string others;
    for (auto it = out.begin(); it != out.end(); ++it) {
      if (it.key() != baseline) others += (others.empty() ? "" : ", ") + it.key();
    }
    return absl::InvalidArgumentError(baseline +
                                      ": a baseline cannot be combined with other methods (got " +
                                      others + ")");
  }
  return out;
}

absl::Status ValidateCombination(const json& combination) {
  return ResolveCombination(combination, PeftDefaults()).status();
}

absl::StatusOr<PeftInstance> CreatePeft(const json& combination, const model::VisionMamba& backbone,
                                        const PeftDefaults& defaults) {
  absl::StatusOr<json> resolved = ResolveCombination(combination, defaults);
  if (!resolved.ok()) return resolved.status();
  PeftInstance peft;
  peft.resolved = *resolved;

  if (resolved->contains("full")) {
    const json& hp = resolved->at("full");
    ParamGroup group{"full", {}, hp.at("lr").get<double>(), hp.at("wd").get<double>()};
    for (const auto& item : backbone->named_parameters(/*recurse=*/true)) {
      // The backbone's own 1000-class head is not the task's head.
      if (item.key().rfind("head.", 0) == 0) continue;
      torch::Tensor p = item.value();
      p.set_requires_grad(true);
      group.params.push_back(p);
      peft.named_parameters.emplace_back(item.key(), p);
      peft.trainable_total += p.numel();
    }
    peft.trainable_by_method["full"] = peft.trainable_total;
    peft.groups.push_back(std::move(group));
    peft.trains_backbone = true;
    return peft;
  }
  if (resolved->empty() || resolved->contains("linear_probing")) {
    peft.trainable_by_method["linear_probing"] = 0;
    return peft;
  }

  // Application order: Table 1 order, except that additional_scan goes last,
  // because Param() chains children and forward_mamba_peft concatenates the
  // extra A columns and x_proj rows after A-tuning's delta and every x_proj
  // LoRA merge (those are defined on the pre-trained shapes).
  std::vector<std::string> order;
  for (const std::string& m : MethodNames()) {
    if (m != "additional_scan") order.push_back(m);
  }
  for (const std::string& m : ExtendedMethodNames()) order.push_back(m);
  order.push_back("additional_scan");

  std::vector<std::shared_ptr<model::VimExtension>> children;
  try {
    const BackboneInfo info = BackboneInfo::Of(backbone);
    std::set<std::string> names;
    for (const std::string& m : order) {
      if (!resolved->contains(m)) continue;
      const json& hp = resolved->at(m);
      std::shared_ptr<MethodExtension> ext = Build(*FindMethod(m), hp, info);
      const double lr = hp.at("lr").get<double>(), wd = hp.at("wd").get<double>();
      ParamGroup decayed{m, {}, lr, wd}, not_decayed{m, {}, lr, 0.0};
      const std::set<std::string> no_decay(ext->no_decay().begin(), ext->no_decay().end());
      for (const auto& [name, tensor] : ext->named_parameters()) {
        if (!names.insert(name).second) {
          return absl::InternalError("two PEFT methods register " + name);
        }
        (no_decay.count(name) ? not_decayed : decayed).params.push_back(tensor);
        peft.named_parameters.emplace_back(name, tensor);
      }
      if (!decayed.params.empty()) peft.groups.push_back(std::move(decayed));
      if (!not_decayed.params.empty()) peft.groups.push_back(std::move(not_decayed));
      peft.trainable_by_method[m] = ext->numel();
      peft.trainable_total += ext->numel();
      children.push_back(std::move(ext));
    }
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(std::string("CreatePeft: ") + e.what_without_backtrace());
  }
  peft.extension = std::make_shared<model::CompositeVimExtension>(std::move(children));
  return peft;
}

absl::Status SaveTrainable(const PeftInstance& peft, const torch::nn::Linear* head,
                           const std::string& path) {
  model::TensorMap tensors;
  for (const auto& [name, tensor] : peft.named_parameters) tensors[name] = tensor.detach();
  if (head != nullptr) {
    tensors["head.weight"] = (*head)->weight.detach();
    tensors["head.bias"] = (*head)->bias.detach();
  }
  model::Metadata meta = {{"format", "peftsearch-peft-trainable-v1"},
                          {"combination", peft.resolved.dump()}};
  return model::WriteSafetensors(path, tensors, meta);
}

absl::Status LoadTrainable(PeftInstance* peft, torch::nn::Linear* head, const std::string& path) {
  absl::StatusOr<model::SafetensorsFile> file = model::ReadSafetensors(path);
  if (!file.ok()) return file.status();
  const model::TensorMap& in = file->tensors;

  std::vector<std::pair<std::string, torch::Tensor>> targets = peft->named_parameters;
  if (head != nullptr) {
    targets.emplace_back("head.weight", (*head)->weight);
    targets.emplace_back("head.bias", (*head)->bias);
  }
  // Check everything before copying anything, so a bad file changes nothing.
  std::set<std::string> expected;
  for (const auto& [name, target] : targets) {
    expected.insert(name);
    auto it = in.find(name);
    if (it == in.end()) {
      return absl::InvalidArgumentError(path + ": missing tensor " + name);
    }
    if (it->second.sizes() != target.sizes()) {
      std::ostringstream msg;
      msg << path << ": tensor " << name << " has shape " << it->second.sizes() << ", expected "
          << target.sizes();
      return absl::InvalidArgumentError(msg.str());
    }
  }
  for (const auto& [name, tensor] : in) {
    const bool is_head = name == "head.weight" || name == "head.bias";
    if (expected.count(name) == 0 && !(is_head && head == nullptr)) {
      return absl::InvalidArgumentError(path + ": unexpected tensor " + name +
                                        " (not a trainable parameter of this combination)");
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) target.copy_(in.at(name));
  return absl::OkStatus();
}

}  // namespace peft
}  // namespace peftsearch
