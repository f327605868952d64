#include "controller/token_command.h"

#include <chrono>
#include <ctime>
#include <ostream>

#include "controller/auth.h"
#include "storage/trial_store.h"

namespace peftsearch::controller {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatTime(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

absl::Status CreateTokenCommand(const std::string& db_path, const std::string& role,
                                const std::string& name, std::ostream* out, std::ostream* err) {
  absl::StatusOr<Role> parsed = ParseRole(role);
  if (!parsed.ok()) return parsed.status();
  auto store = storage::TrialStore::Open(db_path);
  if (!store.ok()) return store.status();
  const std::string token = NewBearerToken();
  const std::string sha = TokenSha256(token);
  const std::string token_name = name.empty() ? role + "-" + sha.substr(0, 8) : name;
  auto record = (*store)->CreateToken(token_name, RoleName(*parsed), sha, NowMs());
  if (!record.ok()) return record.status();
  *err << "created token '" << record->name << "' (id " << record->id << ", role "
       << record->role << "); it is shown only now:\n";
  *out << token << "\n";
  out->flush();
  return absl::OkStatus();
}

absl::Status ListTokensCommand(const std::string& db_path, std::ostream* out) {
  auto store = storage::TrialStore::Open(db_path);
  if (!store.ok()) return store.status();
  auto tokens = (*store)->ListTokens();
  if (!tokens.ok()) return tokens.status();
  *out << "ID\tNAME\tROLE\tCREATED\tREVOKED\n";
  for (const storage::TokenRecord& t : *tokens) {
    *out << t.id << "\t" << t.name << "\t" << t.role << "\t" << FormatTime(t.created_ms) << "\t"
         << FormatTime(t.revoked_ms) << "\n";
  }
  return absl::OkStatus();
}

absl::Status RevokeTokenCommand(const std::string& db_path, const std::string& name_or_id,
                                std::ostream* err) {
  auto store = storage::TrialStore::Open(db_path);
  if (!store.ok()) return store.status();
  absl::Status s = (*store)->RevokeToken(name_or_id, NowMs());
  if (!s.ok()) return s;
  *err << "revoked token '" << name_or_id << "' (a running controller stops accepting it "
       << "within 2 s)\n";
  return absl::OkStatus();
}

}  // namespace peftsearch::controller
