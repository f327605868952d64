// peftsearch-worker: the worker daemon (see daemon.h), and its hidden
// `eval-builtin` subcommand, which the daemon re-executes as the child
// process of builtin objectives (see eval_builtin.h).
//
//   peftsearch-worker --controller HOST:PORT --slots N --workdir DIR
//                     [--name NAME] [--trainer PATH]
//                     [--tls-ca CA.pem [--tls-cert C.pem --tls-key K.pem]] [--token T]
//
// The token may come from the environment (PEFTSEARCH_TOKEN) instead, which
// keeps it out of `ps` output.
//
// Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 when the daemon
// cannot start or the controller refuses it, 2 for bad flags.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "worker/daemon/daemon.h"
#include "worker/daemon/eval_builtin.h"
#include "worker/daemon/log.h"

namespace {

using peftsearch::daemon::Daemon;
using peftsearch::daemon::DaemonOptions;
using peftsearch::daemon::EvalBuiltinOptions;
using peftsearch::daemon::Log;
using peftsearch::daemon::LogLevel;

int RunDaemon(DaemonOptions options) {
  // Signals are taken by one thread with sigwait, so every other thread
  // (gRPC's included, created later) must have them blocked.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Create(std::move(options));
  if (!daemon.ok()) {
    std::cerr << "peftsearch-worker: " << daemon.status().message() << "\n";
    return 1;
  }
  std::atomic<bool> done{false};
  std::thread signal_thread([&] {
    while (!done.load()) {
      timespec timeout{0, 200 * 1000 * 1000};
      int sig = sigtimedwait(&stop_signals, nullptr, &timeout);
      if (sig > 0) {
        Log(LogLevel::kInfo, "signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
        (*daemon)->Shutdown();
      }
    }
  });
  absl::Status status = (*daemon)->Run();
  done.store(true);
  signal_thread.join();
  if (!status.ok()) {
    std::cerr << "peftsearch-worker: " << absl::StatusCodeToString(status.code()) << ": "
              << status.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"peftsearch worker daemon: runs trials leased from a peftsearch controller"};
  app.set_version_flag("--version", "peftsearch-worker 0.1");

  DaemonOptions options;
  const char* env_controller = std::getenv("PEFTSEARCH_CONTROLLER");
  options.controller = env_controller != nullptr ? env_controller : "localhost:50051";
  int64_t acquire_wait_ms = options.acquire_wait.count();
  int64_t kill_grace_ms = options.kill_grace.count();
  int64_t shutdown_grace_s = 30;
  app.add_option("--controller", options.controller,
                 "controller address HOST:PORT (env PEFTSEARCH_CONTROLLER)")
      ->capture_default_str();
  app.add_option("--slots", options.slots, "trials run at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--workdir", options.workdir,
                 "directory for trial files: <workdir>/<study>/trial-<n>-a<attempt>/");
  app.add_option("--name", options.name, "worker name shown by `peftsearch workers` (default: hostname)");
  app.add_option("--trainer", options.trainer,
                 "PEFT trainer binary; enables the peft_vim objective type")
      ->check(CLI::ExistingFile);
  app.add_option("--acquire-wait-ms", acquire_wait_ms, "long-poll wait of each AcquireTrial")
      ->check(CLI::Range(int64_t{100}, int64_t{30000}))
      ->capture_default_str();
  app.add_option("--kill-grace-ms", kill_grace_ms, "time between SIGTERM and SIGKILL for a child")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  const char* env_token = std::getenv("PEFTSEARCH_TOKEN");
  if (env_token != nullptr) options.security.token = env_token;
  app.add_option("--token", options.security.token,
                 "bearer token (role worker; env PEFTSEARCH_TOKEN, preferred)");
  app.add_option("--tls-ca", options.security.tls_ca,
                 "PEM CA that signed the controller's certificate (enables TLS)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", options.security.tls_cert, "PEM client certificate")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", options.security.tls_key, "PEM key of --tls-cert")
      ->check(CLI::ExistingFile);
  app.add_option("--shutdown-grace-s", shutdown_grace_s,
                 "on SIGTERM, how long running trials may finish before they are killed")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

  // Hidden (empty group): the child process of a builtin objective.
  CLI::App* eval = app.add_subcommand("eval-builtin", "evaluate a builtin function (internal)");
  eval->group("");
  EvalBuiltinOptions eval_options;
  eval->add_option("--function", eval_options.function, "builtin function name")->required();
  eval->add_option("--params", eval_options.params_json, "params as a JSON object")->required();
  eval->add_option("--sleep-ms", eval_options.sleep_ms, "total sleep, spread over the steps")
      ->check(CLI::NonNegativeNumber);
  eval->add_option("--steps", eval_options.steps, "progress lines before the result")
      ->check(CLI::NonNegativeNumber);
  eval->add_option("--fail-if", eval_options.fail_if_json, "fail on purpose (JSON, for tests)");

  CLI11_PARSE(app, argc, argv);

  if (*eval) {
    return peftsearch::daemon::RunEvalBuiltin(
        eval_options, std::cout, std::cerr,
        [](int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); });
  }
  if (options.workdir.empty()) {
    std::cerr << "peftsearch-worker: --workdir is required\nRun with --help for more "
                 "information.\n";
    return 2;
  }
  // Not the resolved path: in the child, /proc/self/exe is still this very
  // binary even if a rebuild replaced the file on disk since we started.
  options.self_exe = "/proc/self/exe";
  options.acquire_wait = std::chrono::milliseconds(acquire_wait_ms);
  options.kill_grace = std::chrono::milliseconds(kill_grace_ms);
  options.shutdown_grace = std::chrono::seconds(shutdown_grace_s);
  return RunDaemon(std::move(options));
}
