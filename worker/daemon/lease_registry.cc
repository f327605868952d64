#include "worker/daemon/lease_registry.h"

namespace peftsearch::daemon {

void LeaseRegistry::Add(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  stop_reason_by_token_.emplace(token, "");
}

void LeaseRegistry::Remove(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  stop_reason_by_token_.erase(token);
}

std::vector<std::string> LeaseRegistry::Tokens() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> tokens;
  for (const auto& [token, reason] : stop_reason_by_token_) tokens.push_back(token);
  return tokens;
}

void LeaseRegistry::RequestStop(const std::string& token, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stop_reason_by_token_.find(token);
  if (it != stop_reason_by_token_.end() && it->second.empty()) it->second = reason;
}

std::string LeaseRegistry::StopReason(const std::string& token) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = stop_reason_by_token_.find(token);
  return it == stop_reason_by_token_.end() ? "" : it->second;
}

}  // namespace peftsearch::daemon
