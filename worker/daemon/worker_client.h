// The daemon's side of WorkerService: one method per RPC, each with its own
// deadline, each returning absl::Status. This is the one place where gRPC
// status becomes absl::Status for the worker.
//
// Thread safety: all methods may be called concurrently (the stub is).
#ifndef PEFTSEARCH_WORKER_DAEMON_WORKER_CLIENT_H_
#define PEFTSEARCH_WORKER_DAEMON_WORKER_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/peftsearch.grpc.pb.h"

namespace peftsearch::daemon {

namespace v1 = ::peftsearch::v1;

// Maps a gRPC status to the same canonical code and message.
absl::Status FromGrpcStatus(const grpc::Status& status);

// True for errors that mean "the controller is away, try again later":
// UNAVAILABLE and DEADLINE_EXCEEDED (also RESOURCE_EXHAUSTED and ABORTED,
// which a busy controller may return).
bool IsRetryable(const absl::Status& status);

// How the worker reaches a controller that has TLS and tokens on.
struct ChannelSecurity {
  // PEM file paths: trust this CA (enables TLS); a client certificate and key
  // (both or neither; controllers started with --tls-client-ca need them).
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  // Bearer token sent as "authorization: Bearer <token>" with every call.
  std::string token;
  // Filled by LoadPemFiles from the paths above.
  std::string ca_pem, cert_pem, key_pem;
};

// Reads the PEM files named in `security`; NOT_FOUND or INVALID_ARGUMENT
// naming the flag (--tls-ca, --tls-cert, --tls-key) otherwise.
absl::Status LoadPemFiles(ChannelSecurity* security);

// A channel whose reconnect backoff is capped at `max_reconnect`: gRPC's
// default (120 s) would keep a worker idle for minutes after a controller
// restart. TLS when `security.ca_pem` is set; the token, when set, goes with
// every call (on a plaintext channel too: loopback controllers allow it).
std::shared_ptr<grpc::Channel> MakeWorkerChannel(const std::string& target,
                                                 std::chrono::milliseconds max_reconnect,
                                                 const ChannelSecurity& security = {});

class WorkerClient {
 public:
  explicit WorkerClient(std::shared_ptr<grpc::Channel> channel);
  WorkerClient(const WorkerClient&) = delete;
  WorkerClient& operator=(const WorkerClient&) = delete;

  absl::StatusOr<v1::RegisterWorkerResponse> RegisterWorker(const v1::RegisterWorkerRequest& req);
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& req);
  // The deadline is the long-poll wait plus a margin. `context`, when given,
  // is fresh and owned by the caller, so that another thread can TryCancel()
  // the long poll (the daemon does so on shutdown).
  absl::StatusOr<v1::AcquireTrialResponse> AcquireTrial(const v1::AcquireTrialRequest& req,
                                                        grpc::ClientContext* context = nullptr);
  absl::StatusOr<v1::ReportProgressResponse> ReportProgress(const v1::ReportProgressRequest& req);
  absl::StatusOr<v1::CompleteTrialResponse> CompleteTrial(const v1::CompleteTrialRequest& req);
  absl::StatusOr<v1::FailTrialResponse> FailTrial(const v1::FailTrialRequest& req);

 private:
  std::unique_ptr<v1::WorkerService::Stub> stub_;
};

}  // namespace peftsearch::daemon

#endif  // PEFTSEARCH_WORKER_DAEMON_WORKER_CLIENT_H_
