#include "worker/daemon/worker_client.h"

#include "proto/client_channel.h"

namespace peftsearch::daemon {
namespace {

// Unary RPCs other than the long poll are small; a controller that needs
// longer is as good as away, and the caller retries.
constexpr std::chrono::milliseconds kRpcTimeout{10000};
constexpr std::chrono::milliseconds kLongPollMargin{10000};

// Heartbeat and registration wait for a connection (up to this long) instead
// of failing fast: a queued call makes the channel keep reconnecting, while
// fail-fast calls on a channel in TRANSIENT_FAILURE were seen to leave it
// idle for seconds after the controller was back.
constexpr std::chrono::milliseconds kConnectWait{2000};

template <typename Response, typename Call>
absl::StatusOr<Response> Invoke(std::chrono::milliseconds timeout, Call call,
                                bool wait_for_ready = false) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  context.set_wait_for_ready(wait_for_ready);
  Response response;
  grpc::Status status = call(&context, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

absl::Status LoadPemFiles(ChannelSecurity* security) {
  if (absl::Status s =
          client::CheckTlsFlags(security->tls_ca, security->tls_cert, security->tls_key);
      !s.ok()) {
    return s;
  }
  absl::Status s = client::ReadPemFile("--tls-ca", security->tls_ca, &security->ca_pem);
  if (s.ok()) s = client::ReadPemFile("--tls-cert", security->tls_cert, &security->cert_pem);
  if (s.ok()) s = client::ReadPemFile("--tls-key", security->tls_key, &security->key_pem);
  return s;
}

std::shared_ptr<grpc::Channel> MakeWorkerChannel(const std::string& target,
                                                 std::chrono::milliseconds max_reconnect,
                                                 const ChannelSecurity& security) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(max_reconnect.count()));
  return client::CreateChannel(
      target, client::MakeCredentials(security.ca_pem, security.cert_pem, security.key_pem), args,
      security.token);
}

WorkerClient::WorkerClient(std::shared_ptr<grpc::Channel> channel)
    : stub_(v1::WorkerService::NewStub(std::move(channel))) {}

absl::StatusOr<v1::RegisterWorkerResponse> WorkerClient::RegisterWorker(
    const v1::RegisterWorkerRequest& req) {
  return Invoke<v1::RegisterWorkerResponse>(
      kConnectWait,
      [&](auto* ctx, auto* resp) { return stub_->RegisterWorker(ctx, req, resp); },
      /*wait_for_ready=*/true);
}

absl::StatusOr<v1::HeartbeatResponse> WorkerClient::Heartbeat(const v1::HeartbeatRequest& req) {
  return Invoke<v1::HeartbeatResponse>(
      kConnectWait, [&](auto* ctx, auto* resp) { return stub_->Heartbeat(ctx, req, resp); },
      /*wait_for_ready=*/true);
}

absl::StatusOr<v1::AcquireTrialResponse> WorkerClient::AcquireTrial(
    const v1::AcquireTrialRequest& req, grpc::ClientContext* context) {
  grpc::ClientContext local;
  if (context == nullptr) context = &local;
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(req.wait_ms()) + kLongPollMargin);
  v1::AcquireTrialResponse response;
  grpc::Status status = stub_->AcquireTrial(context, req, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::ReportProgressResponse> WorkerClient::ReportProgress(
    const v1::ReportProgressRequest& req) {
  return Invoke<v1::ReportProgressResponse>(
      kRpcTimeout, [&](auto* ctx, auto* resp) { return stub_->ReportProgress(ctx, req, resp); });
}

absl::StatusOr<v1::CompleteTrialResponse> WorkerClient::CompleteTrial(
    const v1::CompleteTrialRequest& req) {
  return Invoke<v1::CompleteTrialResponse>(
      kRpcTimeout, [&](auto* ctx, auto* resp) { return stub_->CompleteTrial(ctx, req, resp); });
}

absl::StatusOr<v1::FailTrialResponse> WorkerClient::FailTrial(const v1::FailTrialRequest& req) {
  return Invoke<v1::FailTrialResponse>(
      kRpcTimeout, [&](auto* ctx, auto* resp) { return stub_->FailTrial(ctx, req, resp); });
}

}  // namespace peftsearch::daemon
