// gpu_step_bench: Vim training-step throughput (images/s): forward, cross
// entropy, backward through every layer, all parameters trainable (the
// upper bound of a PEFT step, which also backpropagates through the whole
// backbone), optionally under bf16 autocast. Used by tools/gpu_check on a GPU;
// also runs on the CPU (small batch) to check the program itself.
//
//   gpu_step_bench [--device cuda|cpu] [--preset vim_small] [--batch 64]
//                  [--steps 10] [--warmup 3] [--precision fp32|bf16|both]
//                  [--json FILE]
// Prints one line per precision; --json writes the same figures.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "worker/model/model_init.h"
#include "worker/model/vim_config.h"
#include "worker/model/vim_model.h"
#ifdef PEFTSEARCH_WITH_CUDA
#include "worker/train/autocast_scope.h"
#endif

namespace {

struct Options {
  std::string device = "cuda", preset = "vim_small", precision = "both", json;
  int64_t batch = 64, steps = 10, warmup = 3;
};

int Usage(const char* argv0, const std::string& why) {
  std::fprintf(stderr,
               "%s: %s\nusage: %s [--device cuda|cpu] [--preset NAME] [--batch N] [--steps N] "
               "[--warmup N] [--precision fp32|bf16|both] [--json FILE]\n",
               argv0, why.c_str(), argv0);
  return 2;
}

void Sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// Seconds per step of forward + loss + backward + a plain SGD update.
double SecondsPerStep(peftsearch::model::VisionMamba& model, const torch::Device& device,
                      const Options& o, bool bf16) {
#ifdef PEFTSEARCH_WITH_CUDA
  peftsearch::train::AutocastScope autocast(bf16 && device.is_cuda());
#else
  (void)bf16;
#endif
  const int64_t size = model->config().img_size;
  torch::Tensor images = torch::randn({o.batch, 3, size, size}, torch::TensorOptions().device(device));
  torch::Tensor labels =
      torch::randint(0, model->config().num_classes, {o.batch},
                     torch::TensorOptions().device(device).dtype(torch::kLong));
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(1e-4));
  auto step = [&] {
    sgd.zero_grad();
    torch::Tensor logits = model->forward(images);
    torch::Tensor loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat), labels);
    loss.backward();
    sgd.step();
  };
  for (int64_t i = 0; i < o.warmup; ++i) step();
  Sync(device);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < o.steps; ++i) step();
  Sync(device);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
         o.steps;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return Usage(argv[0], "missing value after " + a);
    const std::string v = argv[++i];
    try {
      if (a == "--device") o.device = v;
      else if (a == "--preset") o.preset = v;
      else if (a == "--batch") o.batch = std::stoll(v);
      else if (a == "--steps") o.steps = std::stoll(v);
      else if (a == "--warmup") o.warmup = std::stoll(v);
      else if (a == "--precision") o.precision = v;
      else if (a == "--json") o.json = v;
      else return Usage(argv[0], "unknown flag " + a);
    } catch (const std::exception&) {
      return Usage(argv[0], a + ": not a number: " + v);
    }
  }
  if (o.device != "cuda" && o.device != "cpu") return Usage(argv[0], "--device: cuda or cpu");
  if (o.precision != "fp32" && o.precision != "bf16" && o.precision != "both") {
    return Usage(argv[0], "--precision: fp32, bf16 or both");
  }
  if (o.batch < 1 || o.steps < 1 || o.warmup < 0) return Usage(argv[0], "--batch/--steps >= 1");
  if (o.device == "cuda" && !torch::cuda::is_available()) {
    std::fprintf(stderr, "gpu_step_bench: --device cuda but no CUDA device is visible\n");
    return 1;
  }
  auto config = peftsearch::model::VimPreset(o.preset);
  if (!config.ok()) return Usage(argv[0], "--preset: " + std::string(config.status().message()));
  const torch::Device device(o.device == "cuda" ? torch::kCUDA : torch::kCPU);
  peftsearch::model::VisionMamba model(*config);
  peftsearch::model::InitVim(model.get(), 0);
  model->to(device);
  model->train();

  std::vector<std::string> precisions;
  if (o.precision != "bf16") precisions.push_back("fp32");
  if (o.precision != "fp32" && device.is_cuda()) precisions.push_back("bf16");
  std::string json = "{\"preset\":\"" + o.preset + "\",\"device\":\"" + o.device +
                     "\",\"batch\":" + std::to_string(o.batch) + ",\"rows\":[";
  for (size_t i = 0; i < precisions.size(); ++i) {
    const double s = SecondsPerStep(model, device, o, precisions[i] == "bf16");
    const double ips = o.batch / s;
    std::printf("%s %s batch %lld %lldx%lld: %.4f s/step, %.1f images/s (fwd+bwd, all params)\n",
                o.preset.c_str(), precisions[i].c_str(), static_cast<long long>(o.batch),
                static_cast<long long>(config->img_size), static_cast<long long>(config->img_size),
                s, ips);
    char row[256];
    std::snprintf(row, sizeof row, "%s{\"precision\":\"%s\",\"s_per_step\":%.5f,\"images_per_s\":%.2f}",
                  i ? "," : "", precisions[i].c_str(), s, ips);
    json += row;
  }
  json += "]}";
  if (!o.json.empty()) std::ofstream(o.json) << json << "\n";
  return 0;
}
