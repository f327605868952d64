// `peftsearch-controller token create|list|revoke`: token administration on
// the controller's SQLite file (the controller may be running; SQLite's WAL
// lets both write). A new token is printed once, on `out`, alone on its line;
// only its SHA-256 is stored.
//
// Thread safety: plain functions, one call at a time per file is enough.
#ifndef PEFTSEARCH_CONTROLLER_TOKEN_COMMAND_H_
#define PEFTSEARCH_CONTROLLER_TOKEN_COMMAND_H_

#include <iosfwd>
#include <string>

#include "absl/status/status.h"

namespace peftsearch::controller {

// Creates a token with `role` (admin, submit, read, worker) and `name`
// (default "<role>-<first 8 hex digits of its hash>"). INVALID_ARGUMENT for a
// bad role, ALREADY_EXISTS for a taken name.
absl::Status CreateTokenCommand(const std::string& db_path, const std::string& role,
                                const std::string& name, std::ostream* out, std::ostream* err);
// One line per token: id, name, role, created, revoked (never the hash).
absl::Status ListTokensCommand(const std::string& db_path, std::ostream* out);
// NOT_FOUND if no valid token has that name or id.
absl::Status RevokeTokenCommand(const std::string& db_path, const std::string& name_or_id,
                                std::ostream* err);

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_TOKEN_COMMAND_H_
