// The leases this worker holds: one per running trial, plus those whose
// result still waits for delivery while the controller is away. The
// heartbeat thread reads the tokens and marks leases the controller reports
// invalid or cancelled; the slot that owns a lease polls StopReason() and
// kills its child. Tokens are credentials: they are never logged.
//
// Thread safety: all methods may be called from any thread.
#ifndef PEFTSEARCH_WORKER_DAEMON_LEASE_REGISTRY_H_
#define PEFTSEARCH_WORKER_DAEMON_LEASE_REGISTRY_H_

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace peftsearch::daemon {

class LeaseRegistry {
 public:
  LeaseRegistry() = default;
  LeaseRegistry(const LeaseRegistry&) = delete;
  LeaseRegistry& operator=(const LeaseRegistry&) = delete;

  void Add(const std::string& token);
  void Remove(const std::string& token);

  // Tokens to send in the next heartbeat.
  std::vector<std::string> Tokens() const;

  // Records why the controller wants this lease stopped ("cancelled",
  // "lease_invalid"); the first reason wins. Unknown tokens are ignored.
  void RequestStop(const std::string& token, const std::string& reason);

  // Returns the recorded reason, or "" if the lease may continue.
  std::string StopReason(const std::string& token) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> stop_reason_by_token_;  // guarded by mu_
};

}  // namespace peftsearch::daemon

#endif  // PEFTSEARCH_WORKER_DAEMON_LEASE_REGISTRY_H_
