#include "worker/train/train_cli.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "worker/train/trainer.h"
#include "worker/train/trial_spec.h"

namespace peftsearch::train {
namespace {

absl::Status MakeDirs(const std::string& path) {
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    prefix = path.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::UnavailableError("output_dir: cannot create " + prefix + ": " +
                                    std::strerror(errno));
    }
  }
  return absl::OkStatus();
}

#ifdef PEFTSEARCH_WITH_CUDA
constexpr bool kBuiltWithCuda = true;
#else
constexpr bool kBuiltWithCuda = false;
#endif

absl::Status ApplyOverrides(const CliOptions& o, TrialSpec* spec) {
  if (!o.device.empty()) {
    if (o.device != "cpu" && o.device != "cuda") {
      return absl::InvalidArgumentError("--device: must be \"cpu\" or \"cuda\", got \"" +
                                        o.device + "\"");
    }
    if (o.device == "cuda" && !kBuiltWithCuda) {
      return absl::FailedPreconditionError(
          "--device cuda: this peftsearch-train was built without CUDA; build it with "
          "`bazel build --config=cuda` (a CUDA LibTorch) or tools/gpu_check");
    }
    spec->device = o.device;
  }
  if (!o.amp.empty()) {
    if (o.amp != "fp32" && o.amp != "bf16") {
      return absl::InvalidArgumentError("--amp: must be \"fp32\" or \"bf16\", got \"" + o.amp +
                                        "\"");
    }
    spec->recipe.precision = o.amp;
  }
  if (spec->recipe.precision == "bf16" && spec->device != "cuda") {
    return absl::InvalidArgumentError(
        "--amp bf16 (recipe.precision): bf16 autocast needs device cuda (--device cuda)");
  }
  return absl::OkStatus();
}

int Fail(const absl::Status& status, std::ostream& out, std::ostream& err) {
  const std::string message(status.message());
  out << nlohmann::json{{"error", message}, {"code", absl::StatusCodeToString(status.code())}}
             .dump()
      << std::endl;
  err << "peftsearch-train: " << status.ToString() << std::endl;
  const bool bad_trial = absl::IsInvalidArgument(status) || absl::IsNotFound(status) ||
                         absl::IsFailedPrecondition(status);
  return bad_trial ? kExitBadTrial : kExitFailed;
}

int Run(const CliOptions& options, const PeftProvider& peft, std::ostream& out, std::ostream& err) {
  if (options.trial_path.empty()) {
    return Fail(absl::InvalidArgumentError("--trial: required"), out, err);
  }
  absl::StatusOr<TrialSpec> spec = LoadTrialSpec(options.trial_path);
  if (!spec.ok()) return Fail(spec.status(), out, err);
  if (absl::Status s = ApplyOverrides(options, &*spec); !s.ok()) return Fail(s, out, err);
  if (absl::Status s = peft.Validate(spec->peft); !s.ok()) return Fail(s, out, err);

  TrainerOptions trainer;
  trainer.events = &out;
  trainer.peft = &peft;
  trainer.output_dir = options.output_dir;
  if (trainer.output_dir.empty()) {
    const size_t slash = options.trial_path.rfind('/');
    trainer.output_dir = slash == std::string::npos ? "." : options.trial_path.substr(0, slash);
  }
  if (absl::Status s = MakeDirs(trainer.output_dir); !s.ok()) return Fail(s, out, err);

  absl::StatusOr<TrialResult> result = RunTrial(*spec, trainer);
  if (!result.ok()) return Fail(result.status(), out, err);
  const std::string line = ResultJson(*result).dump();
  {
    std::ofstream file(trainer.output_dir + "/result.json", std::ios::trunc);
    file << line << "\n";
  }
  out << line << std::endl;  // the LAST stdout line: the daemon's result
  return kExitOk;
}

}  // namespace

int RunTrainCli(const CliOptions& options, const PeftProvider& peft, std::ostream& out,
                std::ostream& err) {
  try {
    return Run(options, peft, out, err);
  } catch (const std::exception& e) {
    return Fail(absl::InternalError(std::string("uncaught exception: ") + e.what()), out, err);
  } catch (...) {
    return Fail(absl::InternalError("uncaught non-standard exception"), out, err);
  }
}

}  // namespace peftsearch::train
