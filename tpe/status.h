// tpe::Status: the error type of the tpe/ library (LevelDB style: OK is
// cheap, errors carry a code and a message). tpe/ has no dependencies, so it
// cannot use absl::Status; the study engine converts once at its boundary.
// Thread safety: a Status is a value; const methods are safe to share.
#ifndef PEFTSEARCH_TPE_STATUS_H_
#define PEFTSEARCH_TPE_STATUS_H_

#include <string>
#include <utility>

namespace peftsearch {
namespace tpe {

class Status {
 public:
  // Codes chosen by what the caller should do (canonical gRPC meanings):
  // kInvalidArgument: the input (search space, options) is wrong; fix it.
  // kFailedPrecondition: the input is fine but the state does not allow it.
  // kInternal: a bug or numerical breakdown inside tpe/.
  enum class Code { kOk, kInvalidArgument, kFailedPrecondition, kInternal };

  Status() = default;  // OK.

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status FailedPrecondition(std::string msg) {
    return Status(Code::kFailedPrecondition, std::move(msg));
  }
  static Status Internal(std::string msg) {
    return Status(Code::kInternal, std::move(msg));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "OK", or "<CODE>: <message>", e.g. "INVALID_ARGUMENT: param 'lr': ...".
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace tpe
}  // namespace peftsearch

#endif  // PEFTSEARCH_TPE_STATUS_H_
