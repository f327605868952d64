// Runs one objective as a child process in its own process group, streaming
// its stdout line by line to the caller while copying every byte to a file;
// its stderr goes straight to a second file. The child is stopped (SIGTERM to
// the whole group, SIGKILL after a grace period) when it runs past its
// timeout, when the line callback asks for it, or when `should_stop` says so.
// Processes the child leaves behind in its group are killed once it exits, so
// no trial outlives its slot; and the child gets SIGKILL if the daemon dies
// (PR_SET_PDEATHSIG), so no trial outlives its worker either.
//
// Thread safety: RunChild may run on several threads at once (one per slot);
// it waits only for its own pid.
#ifndef PEFTSEARCH_WORKER_DAEMON_CHILD_PROCESS_H_
#define PEFTSEARCH_WORKER_DAEMON_CHILD_PROCESS_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace peftsearch::daemon {

struct ChildOptions {
  // argv[0] is a path, or a name looked up in PATH. REQUIRES: non-empty.
  std::vector<std::string> argv;
  // "KEY=VALUE" entries added to (or replacing in) the daemon's environment.
  std::vector<std::string> extra_env;
  // REQUIRES: both set; truncated and created if missing.
  std::string stdout_path;
  std::string stderr_path;
  // 0 = no limit.
  std::chrono::milliseconds timeout{0};
  // Time between SIGTERM and SIGKILL when the child is stopped.
  std::chrono::milliseconds kill_grace{5000};
  // How often should_stop and the timeout are checked.
  std::chrono::milliseconds poll_interval{50};
};

struct ChildResult {
  enum class StopCause { kNone, kTimeout, kLineCallback, kShouldStop };
  bool exited = false;  // true: exit_code is valid; false: killed by term_signal
  int exit_code = 0;
  int term_signal = 0;
  StopCause stopped_by = StopCause::kNone;  // why we stopped it, if we did
  std::chrono::milliseconds elapsed{0};
};

// "exit code 3" or "killed by signal 9 (Killed)".
std::string DescribeExit(const ChildResult& result);

// Called with each complete stdout line (no newline); return false to stop
// the child. Called on the RunChild thread.
using LineCallback = std::function<bool(const std::string& line)>;

// Starts the child and waits for it. On success the child has ended (by
// itself or stopped by us, see ChildResult). Errors, all before anything ran:
//   NOT_FOUND         argv[0] is not an executable file (nor found in PATH);
//   INTERNAL / other  the output files or the pipe could not be created, or
//                     the spawn itself failed (message carries errno text).
absl::StatusOr<ChildResult> RunChild(const ChildOptions& options, const LineCallback& on_line,
                                     const std::function<bool()>& should_stop);

// Returns the last `max_bytes` of the file at `path`, starting at a line
// boundary when one is inside the window; empty if unreadable.
std::string ReadFileTail(const std::string& path, size_t max_bytes);

}  // namespace peftsearch::daemon

#endif  // PEFTSEARCH_WORKER_DAEMON_CHILD_PROCESS_H_
