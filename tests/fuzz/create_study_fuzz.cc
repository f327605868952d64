// The CreateStudy RPC handler end to end below gRPC's transport: the bytes are
// a serialized CreateStudyRequest (or, failing that, the spec text itself);
// the handler validates, stores in an in-memory SQLite store and samples.
#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "controller/services.h"
#include "storage/trial_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace peftsearch;
  auto store = storage::TrialStore::Open(":memory:");
  if (!store.ok()) __builtin_trap();
  auto engine = controller::StudyEngine::Open(std::move(*store), controller::EngineOptions{});
  if (!engine.ok()) __builtin_trap();
  controller::StudyServiceImpl service(engine->get());
  v1::CreateStudyRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) {
    request.set_spec_json(std::string(reinterpret_cast<const char*>(data), size));
  }
  grpc::ServerContext context;
  v1::Study reply;
  grpc::Status status = service.CreateStudy(&context, &request, &reply);
  if (status.ok()) {
    // A stored study must be readable back.
    v1::GetStudyRequest get;
    get.set_study(reply.name());
    v1::Study again;
    grpc::ServerContext ctx2;
    if (!service.GetStudy(&ctx2, &get, &again).ok()) __builtin_trap();
  }
  return 0;
}
