#include "controller/server.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "controller/services.h"
#include "storage/trial_store.h"

namespace peftsearch::controller {
namespace {

bool IsLoopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address.rfind("localhost:", 0) == 0 ||
         address.rfind("[::1]:", 0) == 0 || address.rfind("unix:", 0) == 0;
}

}  // namespace

absl::Status RunServer(const ServerOptions& options, const std::function<void()>& wait_for_stop) {
  auto store = storage::TrialStore::Open(options.db_path);
  if (!store.ok()) return store.status();
  auto engine = StudyEngine::Open(std::move(*store), options.engine);
  if (!engine.ok()) return engine.status();
  StudyServiceImpl study_service(engine->get());
  WorkerServiceImpl worker_service(engine->get());

  if (!IsLoopback(options.listen)) {
    std::fprintf(stderr,
                 "component=controller event=warning message=\"listening on %s without TLS or "
                 "tokens; anyone who can reach this address can submit and complete trials\"\n",
                 options.listen.c_str());
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port);
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
  (*engine)->Start();
  std::fprintf(stderr, "component=controller event=serving address=%s db=%s\n", bound.c_str(),
               options.db_path.c_str());
  std::fflush(stderr);

  wait_for_stop();

  std::fprintf(stderr, "component=controller event=draining seconds=%d\n", options.drain_seconds);
  (*engine)->Stop();  // wakes long polls so that Shutdown does not wait on them
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::seconds(options.drain_seconds));
  std::fprintf(stderr, "component=controller event=stopped\n");
  return absl::OkStatus();
}

}  // namespace peftsearch::controller
