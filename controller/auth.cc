#include "controller/auth.h"

#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace peftsearch::controller {
namespace {

enum class Access { kStudyRead, kStudyWrite, kWorker };

// Every RPC of both services and what it needs. An RPC missing here is
// admin-only.
struct MethodAccess {
  const char* method;
  Access access;
};
constexpr MethodAccess kMethods[] = {
    {"GetStudy", Access::kStudyRead},        {"ListStudies", Access::kStudyRead},
    {"ListTrials", Access::kStudyRead},      {"GetTrial", Access::kStudyRead},
    {"BestTrials", Access::kStudyRead},      {"WatchStudy", Access::kStudyRead},
    {"ListWorkers", Access::kStudyRead},     {"CreateStudy", Access::kStudyWrite},
    {"CancelStudy", Access::kStudyWrite},    {"AskTrial", Access::kStudyWrite},
    {"TellTrial", Access::kStudyWrite},      {"RegisterWorker", Access::kWorker},
    {"Heartbeat", Access::kWorker},          {"AcquireTrial", Access::kWorker},
    {"ReportProgress", Access::kWorker},     {"CompleteTrial", Access::kWorker},
    {"FailTrial", Access::kWorker},
};

std::optional<Access> AccessOf(std::string_view method) {
  for (const MethodAccess& m : kMethods) {
    if (method == m.method) return m.access;
  }
  return std::nullopt;
}

// The role table.
bool Allows(Role role, Access access) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kSubmit:
      return access == Access::kStudyRead || access == Access::kStudyWrite;
    case Role::kRead:
      return access == Access::kStudyRead;
    case Role::kWorker:
      return access == Access::kWorker;
  }
  return false;
}

// "Bearer <token>" (scheme case-insensitive) -> token; nullopt if malformed.
std::optional<std::string_view> BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kSubmit:
      return "submit";
    case Role::kRead:
      return "read";
    case Role::kWorker:
      return "worker";
  }
  return "?";
}

absl::StatusOr<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kAdmin, Role::kSubmit, Role::kRead, Role::kWorker}) {
    if (name == RoleName(r)) return r;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("role: must be admin, submit, read or worker, got '", std::string(name), "'"));
}

std::string NewBearerToken() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1) {
    // No entropy is not something to paper over with a weaker token.
    std::fprintf(stderr, "peftsearch: RAND_bytes failed\n");
    std::abort();
  }
  unsigned char b64[4 * ((sizeof(raw) + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, raw, sizeof(raw));
  std::string out = "psk_";
  for (int i = 0; i < n; ++i) {
    const char c = static_cast<char>(b64[i]);
    if (c == '=') break;
    out.push_back(c == '+' ? '-' : c == '/' ? '_' : c);
  }
  return out;
}

std::string TokenSha256(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

Authorizer::Authorizer(storage::TrialStore* store, AuthOptions options)
    : store_(store), options_(std::move(options)) {}

int64_t Authorizer::Now() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Authorizer::Enabled() {
  if (options_.require_auth) return true;
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = Now();
  if (!enabled_.has_value() || now - enabled_fetched_ms_ >= options_.cache_ms) {
    // Revoked tokens count: revoking the last token must not open the door.
    absl::StatusOr<int64_t> n = store_->CountTokens();
    // A store error keeps the last answer; with none yet, fail closed.
    if (n.ok()) {
      enabled_ = *n > 0;
    } else if (!enabled_.has_value()) {
      enabled_ = true;
    }
    enabled_fetched_ms_ = now;
  }
  return *enabled_;
}

absl::StatusOr<std::optional<storage::TokenRecord>> Authorizer::Lookup(
    const std::string& sha256) {
  const int64_t now = Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(sha256);
    if (it != tokens_.end() && now - it->second.fetched_ms < options_.cache_ms) {
      return it->second.token;
    }
  }
  absl::StatusOr<storage::TokenRecord> found = store_->FindToken(sha256);
  std::optional<storage::TokenRecord> token;
  if (found.ok()) {
    token = *found;
  } else if (!absl::IsNotFound(found.status())) {
    return found.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Unknown hashes are cached too, but the map must not grow without bound
  // under a stream of made-up tokens.
  if (tokens_.size() > 10000) tokens_.clear();
  tokens_[sha256] = CachedToken{token, now};
  return token;
}

absl::StatusOr<Principal> Authorizer::Authorize(std::optional<std::string_view> authorization,
                                                std::string_view method,
                                                bool has_client_cert) {
  const std::optional<Access> access = AccessOf(method);
  const std::string m(method);  // Debian's absl::StrCat takes no std::string_view
  if (access == Access::kWorker && options_.require_worker_client_cert && !has_client_cert) {
    return absl::UnauthenticatedError(
        absl::StrCat(m, ": worker calls need a verified TLS client certificate"));
  }
  if (!Enabled()) return Principal{};
  if (!authorization.has_value()) {
    return absl::UnauthenticatedError(
        absl::StrCat(m, ": missing bearer token (metadata 'authorization: Bearer <token>')"));
  }
  std::optional<std::string_view> token = BearerToken(*authorization);
  if (!token.has_value()) {
    return absl::UnauthenticatedError(
        absl::StrCat(m, ": malformed authorization metadata, want 'Bearer <token>'"));
  }
  absl::StatusOr<std::optional<storage::TokenRecord>> record = Lookup(TokenSha256(*token));
  if (!record.ok()) return record.status();
  if (!record->has_value()) {
    return absl::UnauthenticatedError(absl::StrCat(m, ": invalid or revoked token"));
  }
  absl::StatusOr<Role> role = ParseRole((*record)->role);
  if (!role.ok()) return absl::UnauthenticatedError(absl::StrCat(m, ": token has no role"));
  if (!access.has_value() ? *role != Role::kAdmin : !Allows(*role, *access)) {
    return absl::PermissionDeniedError(absl::StrCat("token '", (*record)->name, "' (role ",
                                                    RoleName(*role), ") may not call ", m));
  }
  Principal p;
  p.role = *role;
  p.anonymous = false;
  p.token_sha256 = (*record)->sha256;
  p.name = (*record)->name;
  return p;
}

absl::Status Authorizer::CheckReregister(const Principal& caller, const std::string& worker_id) {
  if (caller.anonymous || caller.role == Role::kAdmin || worker_id.empty()) {
    return absl::OkStatus();
  }
  absl::Status s = CheckWorker(caller, worker_id);
  // An id no token ever claimed (registered while auth was off) may be taken.
  if (absl::IsPermissionDenied(s)) {
    absl::StatusOr<std::string> owner = store_->WorkerToken(worker_id);
    if (absl::IsNotFound(owner.status())) return absl::OkStatus();
  }
  return s;
}

absl::Status Authorizer::BindWorker(const Principal& caller, const std::string& worker_id) {
  if (caller.anonymous) return absl::OkStatus();
  absl::Status s = store_->BindWorkerToken(worker_id, caller.token_sha256);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  workers_[worker_id] = caller.token_sha256;
  return absl::OkStatus();
}

absl::Status Authorizer::CheckWorker(const Principal& caller, const std::string& worker_id) {
  if (caller.anonymous || caller.role == Role::kAdmin) return absl::OkStatus();
  std::string owner;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = workers_.find(worker_id);
    if (it != workers_.end()) owner = it->second;
  }
  if (owner.empty()) {
    absl::StatusOr<std::string> stored = store_->WorkerToken(worker_id);
    if (stored.ok()) {
      owner = *stored;
      std::lock_guard<std::mutex> lock(mu_);
      workers_[worker_id] = owner;
    } else if (!absl::IsNotFound(stored.status())) {
      return stored.status();
    }
  }
  if (owner != caller.token_sha256) {
    return absl::PermissionDeniedError(absl::StrCat(
        "token '", caller.name, "' did not register worker '", worker_id, "'"));
  }
  return absl::OkStatus();
}

absl::Status Authorizer::CheckLease(const Principal& caller, const std::string& lease_token) {
  if (caller.anonymous || caller.role == Role::kAdmin) return absl::OkStatus();
  absl::StatusOr<storage::TrialRecord> trial = store_->GetTrialByToken(lease_token);
  if (absl::IsFailedPrecondition(trial.status())) return absl::OkStatus();  // stale: engine says
  if (!trial.ok()) return trial.status();
  absl::Status s = CheckWorker(caller, trial->worker_id);
  if (absl::IsPermissionDenied(s)) {
    return absl::PermissionDeniedError(absl::StrCat("token '", caller.name,
                                                    "' does not hold the lease of trial ",
                                                    trial->number, " of study ",
                                                    trial->study_id));
  }
  return s;
}

absl::StatusOr<Principal> AuthorizeCall(Authorizer* auth,
                                        const grpc::ServerContextBase* context,
                                        std::string_view method) {
  if (auth == nullptr) return Principal{};
  std::optional<std::string_view> authorization;
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) authorization = std::string_view(it->second.data(), it->second.size());
  bool has_client_cert = false;
  if (std::shared_ptr<const grpc::AuthContext> ac = context->auth_context(); ac != nullptr) {
    has_client_cert = !ac->FindPropertyValues("x509_pem_cert").empty() && ac->IsPeerAuthenticated();
  }
  return auth->Authorize(authorization, method, has_client_cert);
}

}  // namespace peftsearch::controller
