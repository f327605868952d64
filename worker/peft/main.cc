// peftsearch-peft: PEFT method counts for Vim.
//   peftsearch-peft count --model vim_small --peft PEFT.json --classes C [--markdown]
//   peftsearch-peft table1      (regenerates the table in docs/PEFT.md)
// Flags live here only; the work is in peft_cli.cc.
#include <CLI/CLI.hpp>

#include <iostream>

#include "worker/peft/peft_cli.h"

int main(int argc, char** argv) {
  CLI::App app{"peftsearch-peft: MambaPEFT methods for Vision Mamba"};
  app.require_subcommand(1);
  peftsearch::peft::CountOptions count;
  CLI::App* count_cmd =
      app.add_subcommand("count", "trainable parameters per method and total (with/without head)");
  count_cmd->add_option("--model", count.model, "vim_tiny | vim_small | vim_base")
      ->capture_default_str();
  count_cmd->add_option("--peft", count.peft_path, "JSON file {method: {hyperparameters}}")
      ->required();
  count_cmd->add_option("--classes", count.classes, "classes of the task head (0: no head)")
      ->capture_default_str();
  count_cmd->add_flag("--markdown", count.markdown, "print a markdown table");
  CLI::App* table1_cmd =
      app.add_subcommand("table1", "MambaPEFT Table 1 (Vim-S): ours vs paper, as markdown");
  CLI11_PARSE(app, argc, argv);

  absl::Status status;
  if (*count_cmd) status = peftsearch::peft::RunCount(count, std::cout);
  if (*table1_cmd) status = peftsearch::peft::RunTable1(std::cout);
  if (!status.ok()) {
    std::cerr << "peftsearch-peft: " << status << "\n";
    return 1;
  }
  return 0;
}
