#include "worker/daemon/worker_client.h"

#include <grpcpp/support/client_interceptor.h>

#include <fstream>
#include <iterator>

namespace peftsearch::daemon {
namespace {

// Adds the bearer token to every call's initial metadata. An interceptor and
// not call credentials: gRPC refuses call credentials on plaintext channels,
// and a loopback controller may run with tokens but without TLS.
class BearerInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(const std::string* value) : value_(value) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *value_});
    }
    methods->Proceed();
  }

 private:
  const std::string* value_;
};

class BearerInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(const std::string& token) : value_("Bearer " + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(&value_);
  }

 private:
  const std::string value_;  // lives as long as the channel
};

absl::Status ReadPem(const char* flag, const std::string& path, std::string* out) {
  if (path.empty()) return absl::OkStatus();
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(std::string(flag) + ": cannot read '" + path + "'");
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (out->find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(std::string(flag) + ": '" + path + "' is not PEM");
  }
  return absl::OkStatus();
}

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
  if (security->tls_cert.empty() != security->tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!security->tls_cert.empty() && security->tls_ca.empty()) {
    return absl::InvalidArgumentError("--tls-cert needs --tls-ca (the controller's CA)");
  }
  absl::Status s = ReadPem("--tls-ca", security->tls_ca, &security->ca_pem);
  if (s.ok()) s = ReadPem("--tls-cert", security->tls_cert, &security->cert_pem);
  if (s.ok()) s = ReadPem("--tls-key", security->tls_key, &security->key_pem);
  return s;
}

std::shared_ptr<grpc::Channel> MakeWorkerChannel(const std::string& target,
                                                 std::chrono::milliseconds max_reconnect,
                                                 const ChannelSecurity& security) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(max_reconnect.count()));
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!security.ca_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = security.ca_pem;
    ssl.pem_cert_chain = security.cert_pem;
    ssl.pem_private_key = security.key_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  if (security.token.empty()) return grpc::CreateCustomChannel(target, credentials, args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<BearerInterceptorFactory>(security.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, credentials, args,
                                                                 std::move(factories));
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
