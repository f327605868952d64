// Rendezvous<T>: one value handed from a callback, on whatever thread it
// runs, to one thread that waits for it. The blocking form of a call that
// answers through a callback (TrialStore::Write over WriteAsync, the engine's
// synchronous calls over their ...Async forms).
//
// Thread safety: Callback() may be called on any thread, once; Wait* on one.
// The callback keeps the shared state alive, so it may run after the
// Rendezvous is gone.
#ifndef PEFTSEARCH_STORAGE_RENDEZVOUS_H_
#define PEFTSEARCH_STORAGE_RENDEZVOUS_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace peftsearch::storage {

template <typename T>
class Rendezvous {
 public:
  Rendezvous() : state_(std::make_shared<State>()) {}

  // What the asynchronous call gets; call it exactly once.
  std::function<void(T)> Callback() const {
    return [state = state_](T value) {
      std::lock_guard<std::mutex> lock(state->mu);
      state->value = std::move(value);
      state->cv.notify_all();
    };
  }

  // Waits for the value and takes it.
  T Wait() {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->cv.wait(lock, [this] { return state_->value.has_value(); });
    return std::move(*state_->value);
  }

  // True once the value is there, waiting at most `timeout` for it.
  bool WaitFor(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(state_->mu);
    return state_->cv.wait_for(lock, timeout, [this] { return state_->value.has_value(); });
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<T> value;
  };
  std::shared_ptr<State> state_;
};

// Calls `start(callback)` and waits for the value the callback is given.
template <typename T, typename Start>
T Await(Start start) {
  Rendezvous<T> rendezvous;
  start(rendezvous.Callback());
  return rendezvous.Wait();
}

}  // namespace peftsearch::storage

#endif  // PEFTSEARCH_STORAGE_RENDEZVOUS_H_
