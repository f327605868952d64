// Runs the controller: opens the store, builds the engine, serves both gRPC
// services until asked to stop, then drains.
#ifndef PEFTSEARCH_CONTROLLER_SERVER_H_
#define PEFTSEARCH_CONTROLLER_SERVER_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "controller/executor/slurm_executor.h"
#include "controller/study_engine.h"

namespace peftsearch::controller {

struct ServerOptions {
  std::string listen = "127.0.0.1:50051";  // port 0 picks a free port
  std::string db_path = "peftsearch.db";
  EngineOptions engine;
  // Written with the bound address ("host:port") once serving, if not empty;
  // tests and scripts read it to find a port chosen with :0.
  std::string address_file;
  int drain_seconds = 10;
  // Threads that run the handlers' engine calls (see handler_pool.h): as
  // many calls can wait for a commit at once, which group commit batches.
  // About the number of workers' slots.
  int handler_threads = 64;
  // HTTP dashboard and Prometheus /metrics (controller/dashboard) on this
  // host:port (port 0 picks a free port); off when empty.
  std::string http_address;
  // Written with the bound HTTP "host:port" once serving, if not empty.
  std::string http_address_file;

  // TLS: PEM files of the server certificate chain and key; both or neither.
  std::string tls_cert;
  std::string tls_key;
  // PEM CA bundle: clients may present certificates signed by it, and
  // WorkerService calls must (workers authenticate twice: certificate and
  // token). REQUIRES tls_cert.
  std::string tls_client_ca;
  // Bearer tokens are required even while the store holds none (otherwise
  // auth turns on with the first token, see auth.h).
  bool require_auth = false;
  // Allows serving a non-loopback address without TLS and tokens.
  bool insecure = false;

  // "" or "none": workers are started by someone else; "slurm": the
  // controller submits worker jobs itself (executor/slurm_executor.h). An
  // empty slurm.controller_address means the bound address (this host's name
  // when bound to a wildcard address).
  std::string executor;
  executor::SlurmExecutorOptions slurm;
};

// Serves until `wait_for_stop` returns (e.g. on SIGTERM), then shuts down
// gracefully: new RPCs are refused, running ones get `drain_seconds`.
absl::Status RunServer(const ServerOptions& options, const std::function<void()>& wait_for_stop);

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_SERVER_H_
