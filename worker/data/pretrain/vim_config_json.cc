#include "worker/data/pretrain/vim_config_json.h"

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace peftsearch::data {
namespace {

// One table for both directions, so a new field cannot be forgotten in one.
template <typename Fn>
void ForEachField(model::VimConfig& c, Fn&& fn) {
  fn("img_size", c.img_size);
  fn("patch_size", c.patch_size);
  fn("stride", c.stride);
  fn("in_chans", c.in_chans);
  fn("embed_dim", c.embed_dim);
  fn("depth", c.depth);
  fn("d_state", c.d_state);
  fn("d_conv", c.d_conv);
  fn("expand", c.expand);
  fn("num_classes", c.num_classes);
  fn("drop_path_rate", c.drop_path_rate);
  fn("norm_eps", c.norm_eps);
}

}  // namespace

std::string VimConfigToJson(const model::VimConfig& config) {
  model::VimConfig c = config;
  nlohmann::ordered_json j;
  ForEachField(c, [&](const char* name, auto& value) { j[name] = value; });
  return j.dump();
}

absl::StatusOr<model::VimConfig> VimConfigFromJson(const std::string& json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("vim_config: not a JSON object");
  }
  model::VimConfig c;
  absl::Status status;
  size_t known = 0;
  ForEachField(c, [&](const char* name, auto& value) {
    using T = std::decay_t<decltype(value)>;
    auto it = j.find(name);
    if (it == j.end() || !status.ok()) return;
    ++known;
    const bool ok = std::is_integral_v<T> ? it->is_number_integer() : it->is_number();
    if (!ok) {
      status = absl::InvalidArgumentError(
          absl::StrCat("vim_config.", name, ": expected a number, got ", it->dump()));
      return;
    }
    value = it->template get<T>();
  });
  if (!status.ok()) return status;
  if (known != j.size()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      model::VimConfig probe;
      bool found = false;
      ForEachField(probe, [&](const char* name, auto&) { found |= it.key() == name; });
      if (!found) {
        return absl::InvalidArgumentError(absl::StrCat("vim_config.", it.key(), ": unknown field"));
      }
    }
  }
  if (absl::Status valid = model::ValidateVimConfig(c); !valid.ok()) return valid;
  return c;
}

}  // namespace peftsearch::data
