// UnaryCall: the scaffolding every unary callback handler shares.
//
// Thread safety: a free function; runs on the calling gRPC thread.
#ifndef PEFTSEARCH_CONTROLLER_UNARY_CALL_H_
#define PEFTSEARCH_CONTROLLER_UNARY_CALL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string_view>
#include <utility>

#include "controller/auth.h"
#include "controller/grpc_status.h"
#include "controller/handler_pool.h"
#include "controller/metrics.h"

namespace peftsearch::controller {

// Times the call under `metric` (a string literal), authorises the caller for
// `method`, runs `body(caller)` (one engine call, returning a grpc::Status)
// and finishes the call with its status on the context's DefaultReactor().
// All of it runs on `pool` (inline when null), not on gRPC's thread; `body`
// must capture by value what it needs (request and reply stay valid until
// the call finishes).
template <typename Body>
grpc::ServerUnaryReactor* UnaryCall(grpc::CallbackServerContext* context, HandlerPool* pool,
                                    const char* metric, Authorizer* auth, std::string_view method,
                                    Body body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto run = [timer = std::make_unique<RpcTimer>(metric), context, reactor, auth, method,
              body = std::move(body)]() mutable {
    absl::StatusOr<Principal> caller = AuthorizeCall(auth, context, method);
    reactor->Finish(caller.ok() ? body(*caller) : ToGrpcStatus(caller.status()));
  };
  if (pool == nullptr) {
    run();
  } else {
    pool->RunHereOrQueue(std::move(run));
  }
  return reactor;
}

// UnaryCall for an engine call that answers through a callback: `body(caller,
// finish)` starts it and returns; `finish(status)` ends the RPC on whatever
// thread the answer comes (usually the store's commit thread), so no thread
// waits for the commit. `finish` must be called exactly once. This runs on
// gRPC's thread, not on a pool: nothing in it waits for a commit, and the
// hand-off to a pool thread cost more than the call (see services.h).
template <typename Body>
grpc::ServerUnaryReactor* UnaryCallAsync(grpc::CallbackServerContext* context, const char* metric,
                                         Authorizer* auth, std::string_view method, Body body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Shared: `finish` is a std::function, copied on its way; the last copy
  // records the call's time.
  auto timer = std::make_shared<RpcTimer>(metric);
  absl::StatusOr<Principal> caller = AuthorizeCall(auth, context, method);
  if (!caller.ok()) {
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  body(*caller, [reactor, timer](const grpc::Status& status) { reactor->Finish(status); });
  return reactor;
}

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_UNARY_CALL_H_
