#include "worker/model/state_dict.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace peftsearch {
namespace model {
namespace {

// Every name is listed (issue 5: name every missing key, unexpected key and
// shape mismatch), even when a wrong depth makes the message long.
std::string Listed(const std::vector<std::string>& items) { return absl::StrJoin(items, ", "); }

std::string Shape(const torch::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes().vec(), ","), "]");
}

}  // namespace

TensorMap StateDict(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out[p.key()] = p.value().detach();
  for (const auto& b : module.named_buffers(/*recurse=*/true)) out[b.key()] = b.value().detach();
  return out;
}

absl::Status LoadStateDict(const TensorMap& tensors, torch::nn::Module* module,
                           const LoadOptions& options) {
  TensorMap params = StateDict(*module);
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, param] : params) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      missing.push_back(name);
      continue;
    }
    const torch::Tensor& t = it->second;
    if (t.sizes() != param.sizes()) {
      mismatched.push_back(absl::StrCat(name, ": file ", Shape(t), " vs model ", Shape(param)));
    } else if (!torch::isFloatingType(t.scalar_type())) {
      mismatched.push_back(absl::StrCat(name, ": file dtype ",
                                        std::string(c10::toString(t.scalar_type())),
                                        ", model needs a floating dtype"));
    }
  }
  for (const auto& [name, t] : tensors) {
    if (params.count(name) == 0 && options.ignore_keys.count(name) == 0) unexpected.push_back(name);
  }
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::vector<std::string> parts;
    if (!missing.empty()) parts.push_back(absl::StrCat(missing.size(), " missing keys: ", Listed(missing)));
    if (!unexpected.empty()) {
      parts.push_back(absl::StrCat(unexpected.size(), " unexpected keys: ", Listed(unexpected)));
    }
    if (!mismatched.empty()) {
      parts.push_back(absl::StrCat(mismatched.size(), " shape/dtype mismatches: ", Listed(mismatched)));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint does not match the model: ", absl::StrJoin(parts, "; ")));
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, param] : params) param.copy_(tensors.at(name));
  return absl::OkStatus();
}

absl::Status LoadCheckpoint(const std::string& path, torch::nn::Module* module,
                            const LoadOptions& options) {
  auto file = ReadSafetensors(path);
  if (!file.ok()) return file.status();
  absl::Status s = LoadStateDict(file->tensors, module, options);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  return s;
}

std::vector<std::pair<std::string, int64_t>> ParameterCounts(const torch::nn::Module& module,
                                                             int64_t* total) {
  std::vector<std::pair<std::string, int64_t>> groups;
  int64_t sum = 0;
  for (const auto& p : module.named_parameters(true)) {
    std::string key = p.key();
    // Group "layers.7.mixer.x" as "layers.N"; "backbone.layers.7.x" likewise.
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      size_t dot = key.find('.', start);
      parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    std::string group = parts[0];
    if (parts.size() > 2 && parts[0] == "backbone") group = parts[0] + "." + parts[1];
    const std::string last = group.substr(group.rfind('.') + 1);
    if (last == "layers") group += ".N";
    const int64_t n = p.value().numel();
    sum += n;
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& g) { return g.first == group; });
    if (it == groups.end()) {
      groups.emplace_back(group, n);
    } else {
      it->second += n;
    }
  }
  if (total != nullptr) *total = sum;
  return groups;
}

}  // namespace model
}  // namespace peftsearch
