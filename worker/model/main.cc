// peftsearch-model: inspect, initialise and run Vim / Mamba models.
//   peftsearch-model info --model vim_small
//   peftsearch-model init --model M --seed S --output W.safetensors
//   peftsearch-model forward --model M --weights W --input X --output Y
//   peftsearch-model count --model vim_small --peft PEFT.json --classes C
// Flags live here only; the work is in model_cli.cc. The binary composes the
// model's CLI with worker/peft's `count`; the model libraries themselves know
// no PEFT method.
#include <CLI/CLI.hpp>

#include "worker/peft/peft_cli.h"

#include <iostream>

#include "worker/model/model_cli.h"

namespace {

void AddModelFlags(CLI::App* cmd, peftsearch::model::ModelSpec* spec) {
  cmd->add_option("--model", spec->model,
                  "vim_tiny | vim_small | vim_base | vim_custom | mamba_130m")
      ->required();
  cmd->add_option("--img-size", spec->img_size, "override: input image size");
  cmd->add_option("--patch-size", spec->patch_size, "override: patch size (stride follows)");
  cmd->add_option("--stride", spec->stride, "override: patch stride");
  cmd->add_option("--embed-dim", spec->embed_dim, "override: width D (d_model for mamba_*)");
  cmd->add_option("--depth", spec->depth, "override: number of layers");
  cmd->add_option("--d-state", spec->d_state, "override: SSM state size");
  cmd->add_option("--num-classes", spec->num_classes, "override: head classes (0: none)");
  cmd->add_option("--vocab-size", spec->vocab_size, "override (mamba_*): vocabulary before padding");
  cmd->add_option("--drop-path", spec->drop_path_rate, "override: drop path rate");
  cmd->add_option("--threads", spec->threads, "intra-op threads (0: LibTorch default)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"peftsearch-model: Vision Mamba / Mamba in LibTorch"};
  app.require_subcommand(1);
  // A later flag overrides an earlier one (scripts append overrides to a preset).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  peftsearch::model::ModelSpec spec;
  uint64_t seed = 0;
  std::string weights, input, output;

  CLI::App* info = app.add_subcommand("info", "parameters per module and total");
  AddModelFlags(info, &spec);
  CLI::App* init = app.add_subcommand("init", "random weights with official names");
  AddModelFlags(init, &spec);
  init->add_option("--seed", seed, "random seed")->required();
  init->add_option("--output", output, "output .safetensors")->required();
  CLI::App* fwd = app.add_subcommand("forward", "logits for images (or input_ids)");
  AddModelFlags(fwd, &spec);
  fwd->add_option("--weights", weights, "weights .safetensors")->required();
  fwd->add_option("--input", input, "input .safetensors with 'images' or 'input_ids'")->required();
  fwd->add_option("--output", output, "output .safetensors with 'logits'")->required();
  peftsearch::peft::CountOptions count_options;
  CLI::App* count = app.add_subcommand("count", "trainable parameters of a PEFT combination");
  count->add_option("--model", count_options.model, "Vim preset")->capture_default_str();
  count->add_option("--peft", count_options.peft_path, "PEFT combination (JSON file)")->required();
  count->add_option("--classes", count_options.classes, "head classes (0: no head)")
      ->capture_default_str();
  count->add_flag("--markdown", count_options.markdown, "print a Markdown table");
  CLI11_PARSE(app, argc, argv);

  absl::Status s;
  if (count->parsed()) {
    s = peftsearch::peft::RunCount(count_options, std::cout);
  } else if (info->parsed()) {
    s = peftsearch::model::RunInfo(spec, std::cout);
  } else if (init->parsed()) {
    s = peftsearch::model::RunInit(spec, seed, output);
  } else {
    s = peftsearch::model::RunForward(spec, weights, input, output);
  }
  if (!s.ok()) {
    std::cerr << "peftsearch-model: " << s << "\n";
    return 1;
  }
  return 0;
}
