// HandlerPool: a fixed set of threads that run the gRPC handlers' engine
// calls.
//
// Why: on gRPC 1.51's callback API the handlers run on gRPC's "nexting"
// threads, and there are only max(2, cores / 2) of them. Most engine calls
// wait for a group-committed fsync; run there, at most two calls would wait
// at once and group commit would batch nothing (measured: half the
// throughput). gRPC's threads hand each call to this pool and go back to
// reading the network; the pool's threads wait for commits together.
//
// Thread safety: Run may be called from any thread.
#ifndef PEFTSEARCH_CONTROLLER_HANDLER_POOL_H_
#define PEFTSEARCH_CONTROLLER_HANDLER_POOL_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"

namespace peftsearch::controller {

class HandlerPool {
 public:
  // Starts `threads` threads (at least 1). RunHereOrQueue runs at most
  // `max_inline` tasks on their callers' threads at once.
  explicit HandlerPool(int threads, int max_inline = 0);
  // Runs what was queued, then joins the threads.
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Queues `task` to run on one of the pool's threads, in arrival order.
  void Run(absl::AnyInvocable<void() &&> task);
  // Runs `task` on the calling thread when fewer than `max_inline` tasks run
  // that way now, else queues it as Run does. One of gRPC's two threads may
  // wait on a commit itself (saving the hand-off and the wake-up of a poller
  // to send the reply) while the other keeps reading the network.
  void RunHereOrQueue(absl::AnyInvocable<void() &&> task);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<absl::AnyInvocable<void() &&>> tasks_;  // guarded by mu_
  int idle_ = 0;                                     // threads waiting on cv_; mu_
  bool stopping_ = false;                            // mu_
  std::vector<std::thread> threads_;
  const int max_inline_;
  std::atomic<int> inline_running_{0};
};

}  // namespace peftsearch::controller

#endif  // PEFTSEARCH_CONTROLLER_HANDLER_POOL_H_
