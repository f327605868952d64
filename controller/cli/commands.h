// The `peftsearch` subcommands: each makes its StudyService calls through a
// stub, prints with format.h and returns the process exit status:
//   0 success; 1 an RPC failed (one line "error: <CODE>: <message>" on err);
//   2 bad usage or input, including a spec the controller rejects with
//     INVALID_ARGUMENT (its message names the field).
// main.cc parses flags and calls exactly one of these.
//
// Thread safety: a Commands object is used by one thread.
#ifndef PEFTSEARCH_CONTROLLER_CLI_COMMANDS_H_
#define PEFTSEARCH_CONTROLLER_CLI_COMMANDS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "proto/peftsearch.grpc.pb.h"

namespace peftsearch::cli {

constexpr int kExitOk = 0;
constexpr int kExitRpcError = 1;
constexpr int kExitUsage = 2;

struct CommandOptions {
  std::string controller;                       // for error hints only
  std::chrono::milliseconds rpc_timeout{30000};  // unary RPCs
  bool interactive = false;  // stdout is a terminal: watch redraws one line
  int bar_width = 30;
  // Time between WatchStudy reconnects after the controller went away.
  std::chrono::milliseconds watch_retry{1000};
  // Gives up reconnecting after this long without a controller.
  std::chrono::milliseconds watch_give_up{std::chrono::minutes(5)};
};

class Commands {
 public:
  // `stub` and the streams must outlive this object.
  Commands(v1::StudyService::StubInterface* stub, const CommandOptions& options,
           std::ostream* out, std::ostream* err);

  int Submit(const std::string& spec_path);
  int Studies();
  int Status(const std::string& study);
  // `state`: "" for all; `format`: table, json or csv.
  int Trials(const std::string& study, const std::string& state, const std::string& format);
  int Best(const std::string& study, int count);
  // Streams WatchStudy until the study ends; reconnects (resuming after the
  // last event seen) if the controller goes away mid-watch.
  int Watch(const std::string& study);
  int Cancel(const std::string& study);
  int Ask(const std::string& study);
  // `state`: complete (default), pruned or failed; complete needs a value.
  int Tell(const std::string& study, int64_t number, std::optional<double> value,
           const std::string& state);
  int Workers();

 private:
  int RpcError(const grpc::Status& status);
  int UsageError(const std::string& message);
  void SetDeadline(grpc::ClientContext* context) const;

  v1::StudyService::StubInterface* stub_;
  CommandOptions options_;
  std::ostream& out_;
  std::ostream& err_;
};

}  // namespace peftsearch::cli

#endif  // PEFTSEARCH_CONTROLLER_CLI_COMMANDS_H_
