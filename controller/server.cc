#include "controller/server.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "controller/auth.h"
#include "controller/dashboard/http_server.h"
#include "controller/services.h"
#include "storage/trial_store.h"

namespace peftsearch::controller {
namespace {

bool IsLoopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address.rfind("localhost:", 0) == 0 ||
         address.rfind("[::1]:", 0) == 0 || address.rfind("unix:", 0) == 0;
}

absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read '", path, "'"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": '", path, "' is not PEM"));
  }
  return text;
}

// Server credentials from the TLS options: insecure when no certificate is
// given.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerOptions& options) {
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (options.tls_cert.empty()) {
    if (!options.tls_client_ca.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
    }
    return grpc::InsecureServerCredentials();
  }
  auto cert = ReadPem("--tls-cert", options.tls_cert);
  if (!cert.ok()) return cert.status();
  auto key = ReadPem("--tls-key", options.tls_key);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!options.tls_client_ca.empty()) {
    auto ca = ReadPem("--tls-client-ca", options.tls_client_ca);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    // One port serves both services: a certificate is verified when given,
    // and WorkerService calls are refused without one (see auth.h), so the
    // CLI needs no certificate.
    ssl.client_certificate_request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::Status RunServer(const ServerOptions& options, const std::function<void()>& wait_for_stop) {
  auto store = storage::TrialStore::Open(options.db_path);
  if (!store.ok()) return store.status();
  auto engine = StudyEngine::Open(std::move(*store), options.engine);
  if (!engine.ok()) return engine.status();
  auto credentials = MakeServerCredentials(options);
  if (!credentials.ok()) return credentials.status();
  if (options.executor != "" && options.executor != "none" && options.executor != "slurm") {
    return absl::InvalidArgumentError(
        absl::StrCat("--executor: must be none or slurm, got '", options.executor, "'"));
  }
  if (options.executor == "slurm" && options.slurm.script.empty()) {
    return absl::InvalidArgumentError("--executor slurm needs --slurm-script");
  }
  AuthOptions auth_options;
  auth_options.require_auth = options.require_auth;
  auth_options.require_worker_client_cert = !options.tls_client_ca.empty();
  Authorizer authorizer((*engine)->store(), auth_options);
  HandlerPool handler_pool(options.handler_threads, /*max_inline=*/1);
  StudyServiceImpl study_service(engine->get(), &authorizer, &handler_pool);
  WorkerServiceImpl worker_service(engine->get(), &authorizer, &handler_pool);

  const bool tls = !options.tls_cert.empty();
  const bool auth = authorizer.Enabled();
  if (!tls || !auth) {
    const std::string what = !tls && !auth ? "without TLS or tokens"
                             : !tls        ? "without TLS (tokens travel in clear text)"
                                           : "with TLS but no tokens";
    if (!IsLoopback(options.listen) && !options.insecure) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing to listen on ", options.listen, " ", what,
          ": give --tls-cert/--tls-key and create a token (peftsearch-controller token create), "
          "or pass --insecure"));
    }
    std::fprintf(stderr,
                 "component=controller event=warning message=\"listening on %s %s; anyone who "
                 "can reach this address can submit and complete trials\"\n",
                 options.listen.c_str(), what.c_str());
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, *credentials, &port);
  builder.RegisterService(&study_service);
  builder.RegisterService(&worker_service);
  builder.SetMaxReceiveMessageSize(64 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on '", options.listen, "'"));
  }
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  const std::string bound = absl::StrCat(host, ":", port);
  if (!options.address_file.empty()) {
    const std::string tmp = options.address_file + ".tmp";
    std::ofstream(tmp) << bound << "\n";
    std::rename(tmp.c_str(), options.address_file.c_str());
  }
  std::unique_ptr<dashboard::DashboardServer> http;
  if (!options.http_address.empty()) {
    dashboard::DashboardOptions http_options;
    http_options.address = options.http_address;
    // The gRPC API's tokens: viewing needs what GetStudy needs (the read role).
    http_options.authorize = [&authorizer](std::optional<std::string_view> header) {
      return authorizer.Authorize(header, "GetStudy", /*has_client_cert=*/false).status();
    };
    auto started = dashboard::DashboardServer::Start(engine->get(), std::move(http_options));
    if (!started.ok()) {
      server->Shutdown();
      return started.status();
    }
    http = std::move(*started);
    if (!options.http_address_file.empty()) {
      const std::string tmp = options.http_address_file + ".tmp";
      std::ofstream(tmp) << http->address() << "\n";
      std::rename(tmp.c_str(), options.http_address_file.c_str());
    }
    std::fprintf(stderr, "component=controller event=http_serving address=%s\n",
                 http->address().c_str());
  }
  (*engine)->Start();
  std::unique_ptr<executor::SlurmExecutor> slurm;
  if (options.executor == "slurm") {
    executor::SlurmExecutorOptions slurm_options = options.slurm;
    if (slurm_options.controller_address.empty()) {
      std::string reachable = host;
      if (host == "0.0.0.0" || host == "[::]" || host.empty()) {
        char name[256] = {};
        gethostname(name, sizeof(name) - 1);
        reachable = name;
      }
      slurm_options.controller_address = absl::StrCat(reachable, ":", port);
    }
    slurm = std::make_unique<executor::SlurmExecutor>(engine->get(), std::move(slurm_options));
    slurm->Start();
    std::fprintf(stderr, "component=controller event=executor executor=slurm script=%s\n",
                 options.slurm.script.c_str());
  }
  std::fprintf(stderr, "component=controller event=serving address=%s db=%s tls=%s auth=%s\n",
               bound.c_str(), options.db_path.c_str(), tls ? "on" : "off",
               auth ? "on" : "off");
  std::fflush(stderr);

  wait_for_stop();
  if (slurm != nullptr) slurm->Stop();  // its jobs keep running for the next controller

  std::fprintf(stderr, "component=controller event=draining seconds=%d\n", options.drain_seconds);
  if (http) http->Stop();
  (*engine)->Stop();  // answers parked calls so that Shutdown does not wait on them
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::seconds(options.drain_seconds));
  std::fprintf(stderr, "component=controller event=stopped\n");
  return absl::OkStatus();
}

}  // namespace peftsearch::controller
