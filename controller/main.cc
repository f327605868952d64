// peftsearch-controller: serves StudyService and WorkerService over gRPC with
// every study kept in one SQLite file. SIGTERM or SIGINT drains and exits.
//
//   peftsearch-controller [--listen ADDR] [--db FILE] [--tls-cert F --tls-key F
//                         [--tls-client-ca F]] [--require-auth] [--insecure] ...
//   peftsearch-controller token create --role admin|submit|read|worker [--name N] --db FILE
//   peftsearch-controller token list --db FILE
//   peftsearch-controller token revoke NAME_OR_ID --db FILE
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "controller/server.h"
#include "controller/token_command.h"

int main(int argc, char** argv) {
  peftsearch::controller::ServerOptions options;
  CLI::App app{"peftsearch controller: studies, trials and workers over gRPC"};
  app.add_option("--listen", options.listen, "address to serve on, host:port (port 0 = any)")
      ->capture_default_str();
  app.add_option("--db", options.db_path, "SQLite database file (created if missing)")
      ->capture_default_str();
  app.add_option("--address-file", options.address_file,
                 "write the bound host:port here once serving");
  app.add_option("--http", options.http_address,
                 "serve the dashboard and Prometheus /metrics on host:port (port 0 = any); "
                 "off when empty");
  app.add_option("--http-address-file", options.http_address_file,
                 "write the bound HTTP host:port here once serving");
  app.add_option("--sweep-interval-ms", options.engine.sweep_interval_ms,
                 "how often expired leases are returned to the queue")
      ->capture_default_str();
  app.add_option("--heartbeat-interval-ms", options.engine.heartbeat_interval_ms,
                 "heartbeat interval told to workers")
      ->capture_default_str();
  app.add_option("--restart-grace-ms", options.engine.restart_grace_ms,
                 "after a restart, running trials keep their lease at least this long")
      ->capture_default_str();
  app.add_option("--finished-studies-in-memory", options.engine.max_finished_studies_in_memory,
                 "finished studies cached in memory; older ones are read back from --db")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_option("--drain-seconds", options.drain_seconds, "graceful shutdown budget")
      ->capture_default_str();
  app.add_option("--tls-cert", options.tls_cert, "PEM server certificate chain (enables TLS)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", options.tls_key, "PEM private key of --tls-cert")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-client-ca", options.tls_client_ca,
                 "PEM CA: verify client certificates; worker calls must present one")
      ->check(CLI::ExistingFile);
  app.add_flag("--require-auth", options.require_auth,
               "require bearer tokens even before any token exists");
  app.add_flag("--insecure", options.insecure,
               "allow a non-loopback address without TLS and tokens");

  app.add_option("--executor", options.executor,
                 "none, or slurm: submit worker jobs with sbatch to fill each study's "
                 "parallelism, scancel them when it ends")
      ->check(CLI::IsMember({"none", "slurm"}));
  app.add_option("--slurm-script", options.slurm.script,
                 "batch script of a worker job (deploy/slurm/worker.sbatch)")
      ->check(CLI::ExistingFile);
  app.add_option("--slurm-sbatch-arg", options.slurm.sbatch_args,
                 "extra sbatch argument, repeatable (e.g. --slurm-sbatch-arg=--partition=gpu)");
  app.add_option("--slurm-poll-ms", options.slurm.poll_ms, "how often squeue is read")
      ->capture_default_str();
  app.add_option("--executor-controller-address", options.slurm.controller_address,
                 "the address worker jobs dial (default: the bound address)");
  // Worker jobs get this token as PEFTSEARCH_TOKEN; from the environment only,
  // so that it never shows in ps.
  if (const char* t = std::getenv("PEFTSEARCH_WORKER_TOKEN"); t != nullptr) {
    options.slurm.worker_token = t;
  }

  CLI::App* token = app.add_subcommand("token", "create, list or revoke bearer tokens");
  token->require_subcommand(1);
  std::string token_role, token_name, token_ref;
  CLI::App* token_create = token->add_subcommand("create", "print a new token (shown once)");
  token_create->add_option("--role", token_role, "admin, submit, read or worker")
      ->required()
      ->check(CLI::IsMember({"admin", "submit", "read", "worker"}));
  token_create->add_option("--name", token_name, "a unique name (default: <role>-<hash prefix>)");
  token_create->add_option("--db", options.db_path, "SQLite database file")
      ->capture_default_str();
  CLI::App* token_list = token->add_subcommand("list", "list tokens (never their secrets)");
  token_list->add_option("--db", options.db_path, "SQLite database file")->capture_default_str();
  CLI::App* token_revoke = token->add_subcommand("revoke", "revoke a token by name or id");
  token_revoke->add_option("TOKEN", token_ref, "token name or id")->required();
  token_revoke->add_option("--db", options.db_path, "SQLite database file")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (*token) {
    absl::Status s;
    if (*token_create) {
      s = peftsearch::controller::CreateTokenCommand(options.db_path, token_role, token_name,
                                                     &std::cout, &std::cerr);
    } else if (*token_list) {
      s = peftsearch::controller::ListTokensCommand(options.db_path, &std::cout);
    } else {
      s = peftsearch::controller::RevokeTokenCommand(options.db_path, token_ref, &std::cerr);
    }
    if (!s.ok()) {
      std::fprintf(stderr, "peftsearch-controller: %s\n", s.ToString().c_str());
      return 1;
    }
    return 0;
  }

  // Block the stop signals in every thread; one waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::Status status = peftsearch::controller::RunServer(options, [&] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    std::fprintf(stderr, "component=controller event=signal signal=%d\n", signal_number);
  });
  if (!status.ok()) {
    std::fprintf(stderr, "peftsearch-controller: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
