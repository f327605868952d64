// peftsearch: the command-line client of a peftsearch controller.
//
//   peftsearch [--controller HOST:PORT] <command> ...
//
// The controller address comes from --controller, else the environment
// variable PEFTSEARCH_CONTROLLER, else localhost:50051. Exit status: 0 ok,
// 1 an RPC failed, 2 bad usage or a rejected spec (see commands.h).
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include "controller/cli/channel.h"
#include "controller/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"peftsearch: submit, watch and query hyperparameter studies"};
  app.set_version_flag("--version", "peftsearch 0.1");
  app.require_subcommand(1);
  // Global flags are accepted after the subcommand too.
  app.fallthrough();

  const char* env = std::getenv("PEFTSEARCH_CONTROLLER");
  std::string controller = env != nullptr && *env != '\0' ? env : "localhost:50051";
  app.add_option("--controller", controller,
                 "controller address HOST:PORT (env PEFTSEARCH_CONTROLLER)")
      ->capture_default_str();
  peftsearch::cli::ChannelOptions channel_options;
  const char* env_token = std::getenv("PEFTSEARCH_TOKEN");
  if (env_token != nullptr) channel_options.token = env_token;
  app.add_option("--token", channel_options.token,
                 "bearer token (env PEFTSEARCH_TOKEN, preferred: keeps it out of ps)");
  app.add_option("--tls-ca", channel_options.tls_ca,
                 "PEM CA that signed the controller's certificate (enables TLS)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", channel_options.tls_cert, "PEM client certificate")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", channel_options.tls_key, "PEM key of --tls-cert")
      ->check(CLI::ExistingFile);
  double timeout_s = 30;
  app.add_option("--timeout", timeout_s, "deadline of each call in seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  std::string spec_path, study, state, format = "table", tell_state = "complete";
  int count = 1;
  int64_t number = 0;
  std::optional<double> value;

  CLI::App* submit = app.add_subcommand("submit", "create a study from a JSON spec");
  submit->add_option("SPEC", spec_path, "study spec (JSON file)")->required();

  CLI::App* studies = app.add_subcommand("studies", "list studies, newest first");

  CLI::App* status = app.add_subcommand("status", "show a study's state, counts and best value");
  status->add_option("STUDY", study, "study name or id")->required();

  CLI::App* trials = app.add_subcommand("trials", "list a study's trials");
  trials->add_option("STUDY", study, "study name or id")->required();
  trials->add_option("--state", state, "only trials in this state")
      ->check(CLI::IsMember({"waiting", "running", "complete", "pruned", "failed"},
                            CLI::ignore_case));
  trials->add_option("--format", format, "table, json or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}, CLI::ignore_case))
      ->capture_default_str();

  CLI::App* best = app.add_subcommand("best", "show the best trials and the study summary");
  best->add_option("STUDY", study, "study name or id")->required();
  best->add_option("--count,-k", count, "how many trials")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  CLI::App* watch = app.add_subcommand("watch", "follow a study until it ends");
  watch->add_option("STUDY", study, "study name or id")->required();

  CLI::App* cancel = app.add_subcommand("cancel", "cancel a study");
  cancel->add_option("STUDY", study, "study name or id")->required();

  CLI::App* ask = app.add_subcommand("ask", "get a trial to evaluate yourself (external objective)");
  ask->add_option("STUDY", study, "study name or id")->required();

  CLI::App* tell = app.add_subcommand("tell", "report the result of an asked trial");
  tell->add_option("STUDY", study, "study name or id")->required();
  tell->add_option("TRIAL", number, "trial number")->required()->check(CLI::NonNegativeNumber);
  tell->add_option("VALUE", value, "objective value (required for complete)");
  tell->add_option("--state", tell_state, "complete, pruned or failed")
      ->check(CLI::IsMember({"complete", "pruned", "failed"}, CLI::ignore_case))
      ->capture_default_str();

  CLI::App* workers = app.add_subcommand("workers", "list registered workers");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every real usage error exits 2.
    return app.exit(e) == 0 ? 0 : peftsearch::cli::kExitUsage;
  }

  auto channel = peftsearch::cli::MakeChannel(controller, channel_options);
  if (!channel.ok()) {
    std::cerr << "error: " << channel.status().message() << "\n";
    return peftsearch::cli::kExitUsage;
  }
  std::unique_ptr<peftsearch::v1::StudyService::Stub> stub =
      peftsearch::v1::StudyService::NewStub(*channel);
  peftsearch::cli::CommandOptions options;
  options.controller = controller;
  options.rpc_timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  options.interactive = isatty(STDOUT_FILENO) != 0;
  peftsearch::cli::Commands commands(stub.get(), options, &std::cout, &std::cerr);

  if (*submit) return commands.Submit(spec_path);
  if (*studies) return commands.Studies();
  if (*status) return commands.Status(study);
  if (*trials) return commands.Trials(study, state, format);
  if (*best) return commands.Best(study, count);
  if (*watch) return commands.Watch(study);
  if (*cancel) return commands.Cancel(study);
  if (*ask) return commands.Ask(study);
  if (*tell) return commands.Tell(study, number, value, tell_state);
  if (*workers) return commands.Workers();
  return peftsearch::cli::kExitUsage;
}
