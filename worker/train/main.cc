// peftsearch-train --trial TRIAL.json [--output-dir DIR] [--device cpu|cuda]
//                  [--amp fp32|bf16]
// Runs one PEFT trial (trial_spec.h) and prints JSON lines (trainer.h); the
// last stdout line is the result or {"error": ...}. Exit 0 ok, 1 failed,
// 2 bad trial.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "worker/train/peft_registry_provider.h"
#include "worker/train/train_cli.h"

int main(int argc, char** argv) {
  // A trial shares its cores with other trials and with its own task threads.
  // OpenMP's default active wait then spins on cores other threads need: a
  // 1-task run on this 2-core VM under load took 10 s instead of 2 s
  // (docs/BENCHMARKS.md (trial)). libgomp reads the policy when it is loaded, so set
  // it and re-execute once; a policy set by the caller is kept.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
    ::execv("/proc/self/exe", argv);  // returns only on failure: run as is
  }
  peftsearch::train::CliOptions options;
  CLI::App app{"Train one Vim PEFT trial over several VTAB tasks in parallel"};
  app.add_option("--trial", options.trial_path, "trial spec (JSON)")->required();
  app.add_option("--output-dir", options.output_dir,
                 "where per-task safetensors and result.json go (default: the trial's folder)");
  app.add_option("--device", options.device,
                 "cpu | cuda: overrides the trial's device (cuda needs a CUDA build)");
  app.add_option("--amp", options.amp,
                 "fp32 | bf16: overrides recipe.precision (bf16 autocast, CUDA only)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      std::cout << nlohmann::json{{"error", std::string("command line: ") + e.what()}}.dump()
                << std::endl;
    }
    return app.exit(e) == 0 ? 0 : peftsearch::train::kExitBadTrial;
  }
  std::unique_ptr<peftsearch::train::PeftProvider> peft =
      peftsearch::train::NewPeftRegistryProvider();
  return peftsearch::train::RunTrainCli(options, *peft, std::cout, std::cerr);
}
