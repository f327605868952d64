#include "worker/model/vim_config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace peftsearch {
namespace model {

double VimConfig::BlockDropPath(int64_t i) const {
  // Block 0 gets inter_dpr[0] = 0; block i > 0 gets dpr[i-1] of linspace(0, rate, depth).
  if (i <= 0 || depth <= 1) return 0.0;
  return drop_path_rate * static_cast<double>(i - 1) / static_cast<double>(depth - 1);
}

std::vector<std::string> VimPresetNames() { return {"vim_tiny", "vim_small", "vim_base"}; }

absl::StatusOr<VimConfig> VimPreset(const std::string& name) {
  VimConfig c;
  if (name == "vim_tiny") {
    c.embed_dim = 192;
  } else if (name == "vim_small") {
    c.embed_dim = 384;
  } else if (name == "vim_base") {
    c.embed_dim = 768;
  } else {
    return absl::NotFoundError(absl::StrCat("unknown Vim preset '", name, "'; known: ",
                                            absl::StrJoin(VimPresetNames(), ", ")));
  }
  return c;
}

absl::Status ValidateVimConfig(const VimConfig& c) {
  auto bad = [](const char* field, auto value, const char* why) {
    return absl::InvalidArgumentError(absl::StrCat("VimConfig.", field, " = ", value, ": ", why));
  };
  if (c.img_size <= 0) return bad("img_size", c.img_size, "must be > 0");
  if (c.patch_size <= 0) return bad("patch_size", c.patch_size, "must be > 0");
  if (c.patch_size > c.img_size) return bad("patch_size", c.patch_size, "must be <= img_size");
  if (c.stride <= 0) return bad("stride", c.stride, "must be > 0");
  if (c.in_chans <= 0) return bad("in_chans", c.in_chans, "must be > 0");
  if (c.embed_dim <= 0) return bad("embed_dim", c.embed_dim, "must be > 0");
  if (c.depth <= 0) return bad("depth", c.depth, "must be > 0");
  if (c.d_state <= 0) return bad("d_state", c.d_state, "must be > 0");
  if (c.d_conv <= 0) return bad("d_conv", c.d_conv, "must be > 0");
  if (c.expand <= 0) return bad("expand", c.expand, "must be > 0");
  if (c.num_classes < 0) return bad("num_classes", c.num_classes, "must be >= 0");
  if (c.drop_path_rate < 0 || c.drop_path_rate >= 1) {
    return bad("drop_path_rate", c.drop_path_rate, "must be in [0, 1)");
  }
  if (c.norm_eps <= 0) return bad("norm_eps", c.norm_eps, "must be > 0");
  return absl::OkStatus();
}

absl::StatusOr<MambaLMConfig> MambaLMPreset(const std::string& name) {
  if (name == "mamba_130m") return MambaLMConfig{};
  return absl::NotFoundError(
      absl::StrCat("unknown Mamba LM preset '", name, "'; known: mamba_130m"));
}

absl::Status ValidateMambaLMConfig(const MambaLMConfig& c) {
  auto bad = [](const char* field, int64_t value) {
    return absl::InvalidArgumentError(absl::StrCat("MambaLMConfig.", field, " = ", value,
                                                   ": must be > 0"));
  };
  if (c.d_model <= 0) return bad("d_model", c.d_model);
  if (c.n_layer <= 0) return bad("n_layer", c.n_layer);
  if (c.vocab_size <= 0) return bad("vocab_size", c.vocab_size);
  if (c.pad_vocab_size_multiple <= 0) return bad("pad_vocab_size_multiple", c.pad_vocab_size_multiple);
  if (c.d_state <= 0) return bad("d_state", c.d_state);
  if (c.d_conv <= 0) return bad("d_conv", c.d_conv);
  if (c.expand <= 0) return bad("expand", c.expand);
  return absl::OkStatus();
}

}  // namespace model
}  // namespace peftsearch
