// peftsearch-controller: serves StudyService and WorkerService over gRPC with
// every study kept in one SQLite file. SIGTERM or SIGINT drains and exits.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "controller/server.h"

int main(int argc, char** argv) {
  peftsearch::controller::ServerOptions options;
  CLI::App app{"peftsearch controller: studies, trials and workers over gRPC"};
  app.add_option("--listen", options.listen, "address to serve on, host:port (port 0 = any)")
      ->capture_default_str();
  app.add_option("--db", options.db_path, "SQLite database file (created if missing)")
      ->capture_default_str();
  app.add_option("--address-file", options.address_file,
                 "write the bound host:port here once serving");
  app.add_option("--sweep-interval-ms", options.engine.sweep_interval_ms,
                 "how often expired leases are returned to the queue")
      ->capture_default_str();
  app.add_option("--heartbeat-interval-ms", options.engine.heartbeat_interval_ms,
                 "heartbeat interval told to workers")
      ->capture_default_str();
  app.add_option("--restart-grace-ms", options.engine.restart_grace_ms,
                 "after a restart, running trials keep their lease at least this long")
      ->capture_default_str();
  app.add_option("--drain-seconds", options.drain_seconds, "graceful shutdown budget")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

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
