#include "tpe/status.h"

namespace peftsearch {
namespace tpe {

std::string Status::ToString() const {
  switch (code_) {
    case Code::kOk:
      return "OK";
    case Code::kInvalidArgument:
      return "INVALID_ARGUMENT: " + message_;
    case Code::kFailedPrecondition:
      return "FAILED_PRECONDITION: " + message_;
    case Code::kInternal:
      return "INTERNAL: " + message_;
  }
  return "UNKNOWN: " + message_;
}

}  // namespace tpe
}  // namespace peftsearch
