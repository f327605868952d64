// vim_step: forward + backward time of one batch of the C++ Vim (fused CPU
// selective scan) against the Python reference (vim_step_ref.py, python3-torch
// ops) with the same weights, input, labels and thread count, in the same run.
// Prints both times, the ratio, peak RSS, and checks that the losses agree.
//   vim_step --model vim_tiny --batch 8 --threads 2
//   vim_step --model vim_custom --img-size 32 --patch-size 8 --embed-dim 64 --depth 4
// Drop path is off (rate 0) so that both sides compute the same function.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "worker/model/model_cli.h"
#include "worker/model/model_init.h"
#include "worker/model/safetensors.h"
#include "worker/model/state_dict.h"
#include "worker/model/vim_model.h"

namespace {

using peftsearch::model::VisionMamba;

double PeakRssMb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

// CPU seconds of the whole process (all threads): far less sensitive than
// wall time to other jobs on a shared machine (run with
// OMP_WAIT_POLICY=passive so that idle OpenMP threads do not spin).
double CpuSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  if (pclose(p) != 0) out.clear();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vim_step: C++ vs Python reference, forward+backward of one batch"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  peftsearch::model::ModelSpec spec;
  spec.model = "vim_tiny";
  int64_t batch = 8;
  int iters = 3, warmup = 1, threads = 2;
  uint64_t seed = 1;
  std::string python = "/usr/bin/python3";
  std::string peer = "tests/bench/vim_step_ref.py";
  bool skip_python = false;
  std::string scan = "loop";
  bool checkpoint = false;
  app.add_option("--model", spec.model, "vim_tiny | vim_small | vim_base | vim_custom");
  app.add_option("--img-size", spec.img_size);
  app.add_option("--patch-size", spec.patch_size);
  app.add_option("--embed-dim", spec.embed_dim);
  app.add_option("--depth", spec.depth);
  app.add_option("--num-classes", spec.num_classes);
  app.add_option("--batch", batch);
  app.add_option("--threads", threads);
  app.add_option("--iters", iters);
  app.add_option("--warmup", warmup);
  app.add_option("--seed", seed);
  app.add_option("--python", python);
  app.add_option("--peer", peer, "path of vim_step_ref.py");
  app.add_flag("--skip-python", skip_python, "time the C++ side only");
  app.add_flag("--py-checkpoint", checkpoint,
               "Python peer recomputes each block in backward (its graph for Vim-T batch 8 "
               "exceeds 13 GB otherwise)");
  app.add_option("--scan", scan,
                 "Python scan: loop (unbind-based, fast autograd) or ref (official "
                 "selective_scan_ref transcription; its backward is very slow)");
  CLI11_PARSE(app, argc, argv);

  spec.drop_path_rate = 0.0;
  auto config = peftsearch::model::ResolveVimConfig(spec);
  if (!config.ok()) {
    std::cerr << config.status() << "\n";
    return 1;
  }
  torch::set_num_threads(threads);
  VisionMamba model(*config);
  peftsearch::model::InitVim(model.get(), seed);
  model->train();  // drop path rate is 0: train mode == eval function

  torch::manual_seed(seed);
  torch::Tensor images = torch::randn({batch, 3, config->img_size, config->img_size});
  torch::Tensor labels = torch::randint(0, config->num_classes, {batch}, torch::kLong);

  char tmpl[] = "/tmp/vim_step.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string weights = dir + "/w.safetensors", input = dir + "/x.safetensors";
  auto s = peftsearch::model::WriteSafetensors(
      weights, peftsearch::model::StateDict(*model),
      {{"peftsearch.vim_config", peftsearch::model::VimConfigToJson(*config)}});
  if (s.ok()) s = peftsearch::model::WriteSafetensors(input, {{"images", images}, {"labels", labels}});
  if (!s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }

  const double base_rss = PeakRssMb();
  std::vector<double> times, cpu_times;
  double loss_v = 0;
  for (int i = 0; i < warmup + iters; ++i) {
    model->zero_grad();
    auto t0 = std::chrono::steady_clock::now();
    const double c0 = CpuSeconds();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(images), labels);
    loss.backward();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i >= warmup) {
      times.push_back(dt);
      cpu_times.push_back(CpuSeconds() - c0);
    }
    loss_v = loss.item<double>();
  }
  const double cpp_s = Median(times), cpp_min = *std::min_element(times.begin(), times.end());
  const double cpp_rss = PeakRssMb(), cpp_cpu = Median(cpu_times);
  auto params = model->named_parameters();
  std::fflush(stdout);
  std::printf("config: %s img %ld patch %ld D %ld depth %ld tokens %ld, batch %ld, threads %d\n",
              spec.model.c_str(), (long)config->img_size, (long)config->patch_size,
              (long)config->embed_dim, (long)config->depth, (long)config->seq_len(), (long)batch,
              threads);
  std::printf("C++     : fwd+bwd %.4f s wall (median of %d, min %.4f), %.4f CPU-s  peak RSS %.0f MB (%.0f MB before the steps)  loss %.6f\n",
              cpp_s, iters, cpp_min, cpp_cpu, cpp_rss, base_rss, loss_v);
  std::fflush(stdout);
  int rc = 0;
  if (!skip_python) {
    const std::string cmd = python + " " + peer + " --weights " + weights + " --input " + input +
                            " --threads " + std::to_string(threads) + " --iters " +
                            std::to_string(iters) + " --warmup " + std::to_string(warmup) + " --scan " + scan +
                            (checkpoint ? " --checkpoint" : "");
    const std::string out = RunCommand(cmd);
    if (out.empty()) {
      std::printf("python  : failed to run: %s\n", cmd.c_str());
      rc = 1;
    } else {
      // The peer prints one JSON object on its last line.
      std::string last = out.substr(0, out.find_last_not_of("\n") + 1);
      last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
      auto j = nlohmann::json::parse(last);
      const double py_s = j["step_s"].get<double>();
      const double py_loss = j["loss"].get<double>();
      std::printf("python (%s scan%s): fwd+bwd %.4f s wall (median of %d, min %.4f), %.4f CPU-s  peak RSS %.0f MB (%.0f MB before the steps)  loss %.6f\n",
                  scan.c_str(), checkpoint ? ", block checkpointing" : "", py_s, iters, j["min_s"].get<double>(), j["cpu_s"].get<double>(),
                  j["peak_rss_mb"].get<double>(), j["base_rss_mb"].get<double>(), py_loss);
      std::printf("speed-up: %.2fx wall (medians), %.2fx wall (minima), %.2fx CPU time\n",
                  py_s / cpp_s, j["min_s"].get<double>() / cpp_min,
                  j["cpu_s"].get<double>() / cpp_cpu);
      const double loss_err = std::fabs(py_loss - loss_v);
      double worst = 0;
      for (auto it = j["grad_norms"].begin(); it != j["grad_norms"].end(); ++it) {
        const double c = params[it.key()].grad().norm().item<double>();
        worst = std::max(worst, std::fabs(c - it.value().get<double>()) / (1e-12 + std::fabs(c)));
      }
      std::printf("agreement: |loss diff| %.2e, max rel grad-norm diff %.2e\n", loss_err, worst);
      if (loss_err > 1e-4 || worst > 1e-3) rc = 2;
    }
  }
  std::remove(weights.c_str());
  std::remove(input.c_str());
  rmdir(dir.c_str());
  return rc;
}
