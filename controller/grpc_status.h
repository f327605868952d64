// The one place absl::Status becomes grpc::Status. Codes are kept as they are
// (both use the canonical codes), so INVALID_ARGUMENT from spec validation and
// FAILED_PRECONDITION from a stale lease reach the client unchanged.
#ifndef PEFTSEARCH_CONTROLLER_GRPC_STATUS_H_
#define PEFTSEARCH_CONTROLLER_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"

namespace peftsearch::controller {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_GRPC_STATUS_H_
