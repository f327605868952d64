// The CreateStudy RPC's body (DoCreateStudy, what the callback handler runs
// after authorisation) end to end below gRPC's transport: the bytes are a
// serialized CreateStudyRequest (or, failing that, the spec text itself); it
// validates, stores in an in-memory SQLite store and samples.
//
// One store and engine serve many inputs: opening a store and migrating it
// per input held the target to ~160 executions/s. They are replaced every
// kInputsPerEngine inputs so that memory stays bounded. A spec whose name an
// earlier input already took is stored again under a unique name, so that the
// success path runs for it too.
#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "controller/services.h"
#include "storage/trial_store.h"

namespace {

using namespace peftsearch;
using controller::Json;

constexpr int kInputsPerEngine = 500;

struct Harness {
  std::unique_ptr<controller::StudyEngine> engine;
  int inputs = 0;
};

Harness& Fresh() {
  static Harness h;
  if (h.engine == nullptr || h.inputs >= kInputsPerEngine) {
    h.engine.reset();
    auto store = storage::TrialStore::Open(":memory:");
    if (!store.ok()) __builtin_trap();
    auto engine = controller::StudyEngine::Open(std::move(*store), controller::EngineOptions{});
    if (!engine.ok()) __builtin_trap();
    h.engine = std::move(*engine);
    h.inputs = 0;
  }
  ++h.inputs;
  return h;
}

// The spec with its name made unique, or "" when it has no string name.
std::string Renamed(const std::string& spec_json, int serial) {
  Json spec = Json::parse(spec_json, nullptr, /*allow_exceptions=*/false);
  if (!spec.is_object() || !spec.contains("name") || !spec["name"].is_string()) return "";
  std::string name = spec["name"].get<std::string>();
  spec["name"] = name.substr(0, 100) + "-" + std::to_string(serial);
  try {
    return spec.dump();
  } catch (const Json::exception&) {  // e.g. invalid UTF-8 elsewhere in the spec
    return "";
  }
}

grpc::Status Create(controller::StudyEngine* engine, const std::string& spec_json) {
  v1::CreateStudyRequest request;
  request.set_spec_json(spec_json);
  v1::Study reply;
  grpc::Status status = controller::DoCreateStudy(engine, request, &reply);
  if (status.ok()) {
    // A stored study must be readable back.
    v1::GetStudyRequest get;
    get.set_study(reply.name());
    v1::Study again;
    if (!controller::DoGetStudy(engine, get, &again).ok()) __builtin_trap();
  }
  return status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Harness& h = Fresh();
  v1::CreateStudyRequest request;
  std::string spec_json;
  if (request.ParseFromArray(data, static_cast<int>(size))) {
    spec_json = request.spec_json();
  } else {
    spec_json.assign(reinterpret_cast<const char*>(data), size);
  }
  grpc::Status status = Create(h.engine.get(), spec_json);
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    const std::string renamed = Renamed(spec_json, h.inputs);
    if (!renamed.empty()) Create(h.engine.get(), renamed);
  }
  return 0;
}
