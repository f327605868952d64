// Bearer-token authorisation for both gRPC services.
//
// A token is "psk_" + 43 base64url characters (256 random bits); the
// controller stores only its SHA-256. Each token has one role:
//   admin   every RPC;
//   submit  StudyService writes (CreateStudy, CancelStudy, AskTrial,
//           TellTrial) and reads;
//   read    StudyService reads (Get/List/Best/Watch, ListWorkers);
//   worker  WorkerService only, and only for the worker id it registered
//           (a worker token may touch only trials whose lease it holds).
// Auth is on once the store holds a token (revoked ones included, so that
// revoking the last token does not turn auth off) or `require_auth` is set;
// with it off every call is an anonymous admin. Errors: no or unknown token
// UNAUTHENTICATED, wrong role or someone else's worker/lease
// PERMISSION_DENIED. Tokens never appear in messages or logs.
//
// Thread safety: all methods may be called concurrently.
#ifndef PEFTSEARCH_CONTROLLER_AUTH_H_
#define PEFTSEARCH_CONTROLLER_AUTH_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/trial_store.h"

namespace grpc {
class ServerContextBase;
}

namespace peftsearch::controller {

enum class Role { kAdmin, kSubmit, kRead, kWorker };

const char* RoleName(Role role);
// INVALID_ARGUMENT for anything but admin, submit, read, worker.
absl::StatusOr<Role> ParseRole(std::string_view name);

// A fresh random token (256 bits from OpenSSL's RAND_bytes), "psk_<base64url>".
std::string NewBearerToken();
// Lower-case hex SHA-256 of `token`: what the store keeps.
std::string TokenSha256(std::string_view token);

// Who is calling.
struct Principal {
  Role role = Role::kAdmin;
  bool anonymous = true;     // auth is off
  std::string token_sha256;  // identifies the token (never the token itself)
  std::string name;
};

struct AuthOptions {
  // Require a valid token even while the store holds none.
  bool require_auth = false;
  // WorkerService calls must come with a verified TLS client certificate.
  bool require_worker_client_cert = false;
  // Token lookups are cached this long; a revoked token stops working within
  // it.
  int64_t cache_ms = 2000;
  // Milliseconds since the epoch; replaceable in tests.
  std::function<int64_t()> now_ms;
};

class Authorizer {
 public:
  // `store` must outlive this object.
  Authorizer(storage::TrialStore* store, AuthOptions options);
  Authorizer(const Authorizer&) = delete;
  Authorizer& operator=(const Authorizer&) = delete;

  // True when calls need a token (see above).
  bool Enabled();

  // Checks that the caller may call `method` (the RPC's name, e.g.
  // "CreateStudy"). `authorization` is the call's "authorization" metadata
  // (nullopt if absent); `has_client_cert` whether TLS verified a client
  // certificate. Returns the caller.
  absl::StatusOr<Principal> Authorize(std::optional<std::string_view> authorization,
                                      std::string_view method, bool has_client_cert);

  // RegisterWorker with an existing `worker_id`: PERMISSION_DENIED if another
  // token registered it. OK for an id no token has claimed yet.
  absl::Status CheckReregister(const Principal& caller, const std::string& worker_id);
  // Records that `worker_id` belongs to the caller's token.
  absl::Status BindWorker(const Principal& caller, const std::string& worker_id);
  // Heartbeat/AcquireTrial: the worker must have registered with this token.
  absl::Status CheckWorker(const Principal& caller, const std::string& worker_id);
  // ReportProgress/CompleteTrial/FailTrial: the lease must be held by a
  // worker registered with this token. A stale lease passes here; the engine
  // refuses it with FAILED_PRECONDITION as without auth.
  absl::Status CheckLease(const Principal& caller, const std::string& lease_token);

 private:
  int64_t Now() const;
  absl::StatusOr<std::optional<storage::TokenRecord>> Lookup(const std::string& sha256);

  storage::TrialStore* store_;
  AuthOptions options_;

  std::mutex mu_;
  struct CachedToken {
    std::optional<storage::TokenRecord> token;
    int64_t fetched_ms = 0;
  };
  std::map<std::string, CachedToken> tokens_;      // by sha256; guarded by mu_
  std::map<std::string, std::string> workers_;     // worker id -> sha256; mu_
  std::optional<bool> enabled_;                    // mu_
  int64_t enabled_fetched_ms_ = 0;                 // mu_
};

// For handlers: authorises the call in `context` for `method`. A null `auth`
// means auth is off (an anonymous admin).
absl::StatusOr<Principal> AuthorizeCall(Authorizer* auth,
                                        const grpc::ServerContextBase* context,
                                        std::string_view method);

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_AUTH_H_
