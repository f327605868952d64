#include "worker/train/trial_spec.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/pretrain/vim_config_json.h"
#include "worker/model/safetensors.h"

namespace peftsearch::train {
namespace {

using nlohmann::json;

absl::Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

absl::Status CheckKeys(const json& obj, const std::string& where,
                       const std::set<std::string>& known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (known.count(it.key()) == 0) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      return Bad(where.empty() ? it.key() : where + "." + it.key(),
                 "unknown field (known: " + list + ")");
    }
  }
  return absl::OkStatus();
}

// Typed getters: absent keeps *out; present with the wrong type is an error.
absl::Status GetDouble(const json& obj, const char* key, const std::string& field, double* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return absl::OkStatus();
  if (!it->is_number()) return Bad(field, "expected a number, got " + it->dump());
  *out = it->get<double>();
  if (!std::isfinite(*out)) return Bad(field, "must be finite");
  return absl::OkStatus();
}

template <typename Int>
absl::Status GetInt(const json& obj, const char* key, const std::string& field, Int* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return absl::OkStatus();
  if (!it->is_number_integer()) return Bad(field, "expected an integer, got " + it->dump());
  if (std::is_unsigned_v<Int> && it->get<int64_t>() < 0 && !it->is_number_unsigned()) {
    return Bad(field, "must be >= 0, got " + it->dump());
  }
  *out = it->get<Int>();
  return absl::OkStatus();
}

absl::Status GetString(const json& obj, const char* key, const std::string& field,
                       std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return absl::OkStatus();
  if (!it->is_string()) return Bad(field, "expected a string, got " + it->dump());
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status ParseRecipe(const json& r, Recipe* out) {
  if (!r.is_object()) return Bad("recipe", "expected an object, got " + r.dump());
  absl::Status s = CheckKeys(
      r, "recipe",
      {"lr", "weight_decay", "batch_size", "epochs", "warmup_epochs", "warmup_start_factor",
       "min_lr", "grad_clip", "drop_path", "seed", "precision", "eval_batch_size"});
  if (!s.ok()) return s;
  Recipe& o = *out;
  for (absl::Status st :
       {GetDouble(r, "lr", "recipe.lr", &o.lr),
        GetDouble(r, "weight_decay", "recipe.weight_decay", &o.weight_decay),
        GetInt(r, "batch_size", "recipe.batch_size", &o.batch_size),
        GetInt(r, "epochs", "recipe.epochs", &o.epochs),
        GetInt(r, "warmup_epochs", "recipe.warmup_epochs", &o.warmup_epochs),
        GetDouble(r, "warmup_start_factor", "recipe.warmup_start_factor", &o.warmup_start_factor),
        GetDouble(r, "min_lr", "recipe.min_lr", &o.min_lr),
        GetDouble(r, "grad_clip", "recipe.grad_clip", &o.grad_clip),
        GetDouble(r, "drop_path", "recipe.drop_path", &o.drop_path),
        GetInt(r, "seed", "recipe.seed", &o.seed),
        GetString(r, "precision", "recipe.precision", &o.precision),
        GetInt(r, "eval_batch_size", "recipe.eval_batch_size", &o.eval_batch_size)}) {
    if (!st.ok()) return st;
  }
  if (!(o.lr > 0)) return Bad("recipe.lr", absl::StrCat("must be > 0, got ", o.lr));
  if (o.weight_decay < 0) {
    return Bad("recipe.weight_decay", absl::StrCat("must be >= 0, got ", o.weight_decay));
  }
  if (o.batch_size <= 0) {
    return Bad("recipe.batch_size", absl::StrCat("must be > 0, got ", o.batch_size));
  }
  if (o.eval_batch_size <= 0) {
    return Bad("recipe.eval_batch_size", absl::StrCat("must be > 0, got ", o.eval_batch_size));
  }
  if (o.epochs <= 0) return Bad("recipe.epochs", absl::StrCat("must be > 0, got ", o.epochs));
  if (o.warmup_epochs < 0 || o.warmup_epochs > o.epochs) {
    return Bad("recipe.warmup_epochs",
               absl::StrCat("must be in [0, epochs=", o.epochs, "], got ", o.warmup_epochs));
  }
  if (!(o.warmup_start_factor > 0 && o.warmup_start_factor <= 1)) {
    return Bad("recipe.warmup_start_factor",
               absl::StrCat("must be in (0, 1], got ", o.warmup_start_factor));
  }
  if (o.min_lr < 0 || o.min_lr > o.lr) {
    return Bad("recipe.min_lr", absl::StrCat("must be in [0, lr=", o.lr, "], got ", o.min_lr));
  }
  if (o.grad_clip < 0) {
    return Bad("recipe.grad_clip", absl::StrCat("must be >= 0 (0 = off), got ", o.grad_clip));
  }
  if (o.drop_path < 0 || o.drop_path >= 1) {
    return Bad("recipe.drop_path", absl::StrCat("must be in [0, 1), got ", o.drop_path));
  }
  if (o.precision != "fp32" && o.precision != "bf16") {
    return Bad("recipe.precision", "must be \"fp32\" or \"bf16\", got \"" + o.precision + "\"");
  }
  return absl::OkStatus();
}

absl::Status ParseBackbone(const json& doc, TrialSpec* spec) {
  auto it = doc.find("backbone");
  if (it == doc.end()) {
    if (spec->weights_path.empty()) {
      return Bad("backbone", "required with random_init weights (a preset name or a config)");
    }
    absl::StatusOr<model::SafetensorsFile> file = model::ReadSafetensors(spec->weights_path);
    if (!file.ok()) {
      return absl::Status(file.status().code(), absl::StrCat("weights: ", file.status().message()));
    }
    auto meta = file->metadata.find("vim_config");
    if (meta == file->metadata.end()) {
      return Bad("backbone", "absent, and weights " + spec->weights_path +
                                 " has no \"vim_config\" metadata: name a preset or a config");
    }
    absl::StatusOr<model::VimConfig> c = data::VimConfigFromJson(meta->second);
    if (!c.ok()) return Bad("backbone", absl::StrCat("weights metadata: ", c.status().message()));
    spec->backbone = *c;
    spec->backbone_source = "weights";
    return absl::OkStatus();
  }
  if (it->is_string()) {
    absl::StatusOr<model::VimConfig> c = model::VimPreset(it->get<std::string>());
    if (!c.ok()) return Bad("backbone", std::string(c.status().message()));
    spec->backbone = *c;
    spec->backbone_source = "preset:" + it->get<std::string>();
    return absl::OkStatus();
  }
  if (it->is_object()) {
    absl::StatusOr<model::VimConfig> c = data::VimConfigFromJson(it->dump());
    if (!c.ok()) return Bad("backbone", std::string(c.status().message()));
    spec->backbone = *c;
    spec->backbone_source = "custom";
    return absl::OkStatus();
  }
  return Bad("backbone", "expected a preset name or a config object, got " + it->dump());
}

absl::Status ParseWeights(const json& doc, TrialSpec* spec) {
  auto it = doc.find("weights");
  if (it == doc.end()) {
    return Bad("weights", "required: a .safetensors path or {\"random_init\": SEED}");
  }
  if (it->is_string()) {
    spec->weights_path = it->get<std::string>();
    if (spec->weights_path.empty()) return Bad("weights", "empty path");
    if (!IsFile(spec->weights_path)) {
      return absl::NotFoundError("weights: no such file: " + spec->weights_path);
    }
    return absl::OkStatus();
  }
  if (it->is_object()) {
    if (absl::Status s = CheckKeys(*it, "weights", {"random_init"}); !s.ok()) return s;
    if (!it->contains("random_init")) return Bad("weights.random_init", "required");
    return GetInt(*it, "random_init", "weights.random_init", &spec->random_init_seed);
  }
  return Bad("weights", "expected a path or {\"random_init\": SEED}, got " + it->dump());
}

// Unwraps the daemon's trial.json envelope (worker/daemon/trial_runner.cc).
absl::StatusOr<json> Unwrap(const json& doc) {
  if (!doc.contains("objective")) return doc;
  const json& objective = doc["objective"];
  if (!objective.is_object() || !objective.contains("trial") || !objective["trial"].is_object()) {
    return Bad("objective.trial", "the daemon envelope needs an object objective.trial");
  }
  json trial = objective["trial"];
  auto params = doc.find("params");
  if (params == doc.end() || params->is_null()) return trial;
  if (!params->is_object()) return Bad("params", "expected an object, got " + params->dump());
  static const std::set<std::string> kRecipe = {
      "lr",     "weight_decay", "batch_size", "epochs", "warmup_epochs", "warmup_start_factor",
      "min_lr", "grad_clip",    "drop_path",  "seed",   "precision"};
  for (auto it = params->begin(); it != params->end(); ++it) {
    if (it.key() == "peft") {
      trial["peft"] = it.value();
    } else if (it.key() == "eval") {
      trial["mode"] = it.value();
    } else if (kRecipe.count(it.key())) {
      trial["recipe"][it.key()] = it.value();
    }
    // Anything else is the sampler's own record (hybrid step 1's method
    // booleans, step 2's "<method>.<hp>" and "remove"), already folded into
    // "peft" by the strategy (controller/hybrid/hybrid_strategy.h).
  }
  return trial;
}

}  // namespace

const std::vector<std::string>& MiniVtabTasks() {
  static const auto* kTasks = new std::vector<std::string>{
      "fashion_mnist", "digits", "shapes_count", "shapes_loc", "shapes_ori"};
  return *kTasks;
}

absl::StatusOr<TrialSpec> ParseTrialSpec(const json& input) {
  if (!input.is_object()) return Bad("trial", "expected a JSON object");
  absl::StatusOr<json> unwrapped = Unwrap(input);
  if (!unwrapped.ok()) return unwrapped.status();
  const json& doc = *unwrapped;
  if (!doc.is_object()) return Bad("objective.trial", "expected a JSON object");
  absl::Status s =
      CheckKeys(doc, "",
                {"backbone", "weights", "peft", "recipe", "tasks", "data_root", "image_size",
                 "cache_dir", "mode", "device", "threads", "parallel_tasks"});
  if (!s.ok()) return s;

  TrialSpec spec;
  if (s = ParseWeights(doc, &spec); !s.ok()) return s;
  if (s = ParseBackbone(doc, &spec); !s.ok()) return s;
  if (auto it = doc.find("recipe"); it != doc.end()) {
    if (s = ParseRecipe(*it, &spec.recipe); !s.ok()) return s;
  }
  if (auto it = doc.find("peft"); it != doc.end()) {
    if (!it->is_object()) {
      return Bad("peft", "expected an object {method: {hyperparameters}}, got " + it->dump());
    }
    spec.peft = *it;
  }

  // Tasks and data.
  spec.tasks = MiniVtabTasks();
  if (auto it = doc.find("tasks"); it != doc.end()) {
    if (!it->is_array() || it->empty()) return Bad("tasks", "expected a non-empty list of names");
    spec.tasks.clear();
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& t = (*it)[i];
      const std::string field = absl::StrCat("tasks[", i, "]");
      if (!t.is_string() || t.get<std::string>().empty()) {
        return Bad(field, "expected a task folder name, got " + t.dump());
      }
      const std::string name = t.get<std::string>();
      if (name.find('/') != std::string::npos || name == "." || name == "..") {
        return Bad(field, "\"" + name + "\" is not a folder name");
      }
      if (!seen.insert(name).second) return Bad(field, "duplicate task \"" + name + "\"");
      spec.tasks.push_back(name);
    }
  }
  if (s = GetString(doc, "data_root", "data_root", &spec.data_root); !s.ok()) return s;
  if (spec.data_root.empty()) return Bad("data_root", "required");
  if (!IsDir(spec.data_root)) {
    return absl::NotFoundError("data_root: no such directory: " + spec.data_root);
  }
  for (size_t i = 0; i < spec.tasks.size(); ++i) {
    const std::string dir = spec.data_root + "/" + spec.tasks[i];
    if (!IsDir(dir)) {
      return absl::NotFoundError(absl::StrCat("tasks[", i, "]: no such task directory: ", dir));
    }
  }
  if (s = GetString(doc, "cache_dir", "cache_dir", &spec.cache_dir); !s.ok()) return s;

  spec.image_size = static_cast<int>(spec.backbone.img_size);
  if (s = GetInt(doc, "image_size", "image_size", &spec.image_size); !s.ok()) return s;
  if (spec.image_size != spec.backbone.img_size) {
    return Bad("image_size",
               absl::StrCat(spec.image_size, " differs from the backbone's img_size ",
                            spec.backbone.img_size, " (pos_embed is not interpolated)"));
  }

  if (s = GetString(doc, "mode", "mode", &spec.mode); !s.ok()) return s;
  if (spec.mode != "search" && spec.mode != "final") {
    return Bad("mode", "must be \"search\" or \"final\", got \"" + spec.mode + "\"");
  }
  if (s = GetString(doc, "device", "device", &spec.device); !s.ok()) return s;
  if (spec.device != "cpu" && spec.device != "cuda") {
    return Bad("device", "must be \"cpu\" or \"cuda\", got \"" + spec.device + "\"");
  }
  if (spec.device == "cpu" && spec.recipe.precision == "bf16") {
    return Bad("recipe.precision",
               "bf16 needs device \"cuda\": the CPU selective scan (kernels/) is fp32/fp64 only");
  }
  if (s = GetInt(doc, "threads", "threads", &spec.threads); !s.ok()) return s;
  if (spec.threads < 0) return Bad("threads", absl::StrCat("must be >= 0, got ", spec.threads));
  if (spec.threads == 0) {
    spec.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }
  if (s = GetInt(doc, "parallel_tasks", "parallel_tasks", &spec.parallel_tasks); !s.ok()) return s;
  if (spec.parallel_tasks < 0) {
    return Bad("parallel_tasks", absl::StrCat("must be >= 0, got ", spec.parallel_tasks));
  }
  const int num_tasks = static_cast<int>(spec.tasks.size());
  if (spec.parallel_tasks == 0) {
    // On CUDA each task has its own stream; the CPU threads only launch work.
    spec.parallel_tasks = spec.device == "cuda" ? num_tasks : std::min(num_tasks, spec.threads);
  }
  spec.parallel_tasks = std::min(spec.parallel_tasks, num_tasks);

  spec.backbone.num_classes = 0;  // each task has its own head
  spec.backbone.drop_path_rate = spec.recipe.drop_path;
  if (s = model::ValidateVimConfig(spec.backbone); !s.ok()) {
    return Bad("backbone", std::string(s.message()));
  }
  return spec;
}

absl::StatusOr<TrialSpec> LoadTrialSpec(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("trial: cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("trial: malformed JSON in " + path);
  return ParseTrialSpec(doc);
}

}  // namespace peftsearch::train
