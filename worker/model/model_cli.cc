#include "worker/model/model_cli.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "worker/model/mamba_lm.h"
#include "worker/model/model_init.h"
#include "worker/model/safetensors.h"
#include "worker/model/state_dict.h"
#include "worker/model/vim_model.h"

namespace peftsearch {
namespace model {
namespace {

constexpr char kConfigKey[] = "peftsearch.vim_config";

void ApplyThreads(const ModelSpec& spec) {
  if (spec.threads > 0) torch::set_num_threads(spec.threads);
}

// Runs f and converts a c10::Error (shape checks in the forward) to a Status.
template <typename F>
absl::Status Guard(const char* what, F f) {
  try {
    return f();
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", e.what_without_backtrace()));
  }
}

}  // namespace

bool IsMambaLM(const std::string& model) { return model.rfind("mamba_", 0) == 0; }

absl::StatusOr<VimConfig> ResolveVimConfig(const ModelSpec& spec) {
  VimConfig c;
  if (spec.model != "vim_custom") {
    auto preset = VimPreset(spec.model);
    if (!preset.ok()) {
      return absl::NotFoundError(absl::StrCat(preset.status().message(),
                                              ", vim_custom, mamba_130m"));
    }
    c = *preset;
  }
  if (spec.img_size) c.img_size = *spec.img_size;
  if (spec.patch_size) {
    c.patch_size = *spec.patch_size;
    if (!spec.stride) c.stride = *spec.patch_size;
  }
  if (spec.stride) c.stride = *spec.stride;
  if (spec.embed_dim) c.embed_dim = *spec.embed_dim;
  if (spec.depth) c.depth = *spec.depth;
  if (spec.d_state) c.d_state = *spec.d_state;
  if (spec.num_classes) c.num_classes = *spec.num_classes;
  if (spec.drop_path_rate) c.drop_path_rate = *spec.drop_path_rate;
  absl::Status s = ValidateVimConfig(c);
  if (!s.ok()) return s;
  return c;
}

absl::StatusOr<MambaLMConfig> ResolveMambaLMConfig(const ModelSpec& spec) {
  auto c = MambaLMPreset(spec.model);
  if (!c.ok()) return c.status();
  if (spec.embed_dim) c->d_model = *spec.embed_dim;
  if (spec.depth) c->n_layer = *spec.depth;
  if (spec.d_state) c->d_state = *spec.d_state;
  if (spec.vocab_size) c->vocab_size = *spec.vocab_size;
  absl::Status s = ValidateMambaLMConfig(*c);
  if (!s.ok()) return s;
  return c;
}

std::string VimConfigToJson(const VimConfig& c) {
  nlohmann::json j = {{"img_size", c.img_size},     {"patch_size", c.patch_size},
                      {"stride", c.stride},         {"in_chans", c.in_chans},
                      {"embed_dim", c.embed_dim},   {"depth", c.depth},
                      {"d_state", c.d_state},       {"d_conv", c.d_conv},
                      {"expand", c.expand},         {"num_classes", c.num_classes},
                      {"drop_path_rate", c.drop_path_rate}, {"norm_eps", c.norm_eps}};
  return j.dump();
}

absl::Status RunInfo(const ModelSpec& spec, std::ostream& out) {
  std::shared_ptr<torch::nn::Module> m;
  if (IsMambaLM(spec.model)) {
    auto c = ResolveMambaLMConfig(spec);
    if (!c.ok()) return c.status();
    m = MambaLM(*c).ptr();
    out << "model " << spec.model << ": d_model " << c->d_model << ", layers " << c->n_layer
        << ", vocab " << c->vocab_size << " (padded " << c->padded_vocab() << ")\n";
  } else {
    auto c = ResolveVimConfig(spec);
    if (!c.ok()) return c.status();
    m = VisionMamba(*c).ptr();
    out << "model " << spec.model << ": img " << c->img_size << ", patch " << c->patch_size
        << ", stride " << c->stride << ", D " << c->embed_dim << ", depth " << c->depth
        << ", d_state " << c->d_state << ", d_inner " << c->d_inner() << ", dt_rank "
        << c->dt_rank() << ", tokens " << c->seq_len() << ", classes " << c->num_classes
        << "\n";
  }
  int64_t total = 0;
  for (const auto& [group, n] : ParameterCounts(*m, &total)) {
    out << "  " << group << "\t" << n << "\n";
  }
  out << "total\t" << total << "\t(" << absl::StrCat(total / 1e6) << "M)\n";
  return absl::OkStatus();
}

absl::Status RunInit(const ModelSpec& spec, uint64_t seed, const std::string& output) {
  ApplyThreads(spec);
  Metadata meta = {{"format", "pt"}, {"peftsearch.model", spec.model},
                   {"peftsearch.seed", std::to_string(seed)}};
  if (IsMambaLM(spec.model)) {
    auto c = ResolveMambaLMConfig(spec);
    if (!c.ok()) return c.status();
    nlohmann::json j = {{"d_model", c->d_model},     {"n_layer", c->n_layer},
                        {"vocab_size", c->vocab_size}, {"padded_vocab", c->padded_vocab()},
                        {"d_state", c->d_state},     {"d_conv", c->d_conv},
                        {"expand", c->expand},       {"norm_eps", c->norm_eps}};
    meta["peftsearch.mamba_lm_config"] = j.dump();
    MambaLM m(*c);
    InitMambaLM(m.get(), seed);
    return WriteSafetensors(output, StateDict(*m), meta);
  }
  auto c = ResolveVimConfig(spec);
  if (!c.ok()) return c.status();
  VisionMamba m(*c);
  InitVim(m.get(), seed);
  meta[kConfigKey] = VimConfigToJson(*c);
  return WriteSafetensors(output, StateDict(*m), meta);
}

absl::Status RunForward(const ModelSpec& spec, const std::string& weights,
                        const std::string& input, const std::string& output) {
  ApplyThreads(spec);
  auto in = ReadSafetensors(input);
  if (!in.ok()) return in.status();
  torch::NoGradGuard no_grad;
  torch::Tensor logits;
  if (IsMambaLM(spec.model)) {
    auto c = ResolveMambaLMConfig(spec);
    if (!c.ok()) return c.status();
    MambaLM m(*c);
    absl::Status s = LoadCheckpoint(weights, m.get(), LoadOptions{kMambaLMIgnoredKeys});
    if (!s.ok()) return s;
    m->eval();
    auto it = in->tensors.find("input_ids");
    if (it == in->tensors.end()) {
      return absl::InvalidArgumentError(absl::StrCat(input, ": no tensor 'input_ids'"));
    }
    s = Guard("forward", [&] {
      logits = m->forward(it->second.to(torch::kLong));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  } else {
    auto c = ResolveVimConfig(spec);
    if (!c.ok()) return c.status();
    VisionMamba m(*c);
    absl::Status s = LoadCheckpoint(weights, m.get());
    if (!s.ok()) return s;
    m->eval();
    auto it = in->tensors.find("images");
    if (it == in->tensors.end()) {
      return absl::InvalidArgumentError(absl::StrCat(input, ": no tensor 'images'"));
    }
    s = Guard("forward", [&] {
      logits = m->forward(it->second.to(torch::kFloat));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  return WriteSafetensors(output, {{"logits", logits.contiguous()}}, {{"format", "pt"}});
}

}  // namespace model
}  // namespace peftsearch
