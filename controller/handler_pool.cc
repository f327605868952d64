#include "controller/handler_pool.h"

#include <algorithm>
#include <utility>

namespace peftsearch::controller {

HandlerPool::HandlerPool(int threads, int max_inline) : max_inline_(max_inline) {
  threads = std::max(threads, 1);
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

HandlerPool::~HandlerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void HandlerPool::Run(absl::AnyInvocable<void() &&> task) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
    // A thread that is still busy takes the task when it finishes; waking one
    // costs a futex call, so only when one sleeps.
    wake = idle_ > 0;
  }
  if (wake) cv_.notify_one();
}

void HandlerPool::RunHereOrQueue(absl::AnyInvocable<void() &&> task) {
  if (inline_running_.fetch_add(1) < max_inline_) {
    std::move(task)();
    inline_running_.fetch_sub(1);
    return;
  }
  inline_running_.fetch_sub(1);
  Run(std::move(task));
}

void HandlerPool::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (tasks_.empty()) {
      if (stopping_) return;
      ++idle_;
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      --idle_;
      continue;
    }
    absl::AnyInvocable<void()&&> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    std::move(task)();
    lock.lock();
  }
}

}  // namespace peftsearch::controller
