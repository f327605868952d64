#include "worker/daemon/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "absl/status/status.h"

extern char** environ;

namespace peftsearch::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// Lines longer than this are passed through to the file but not parsed; a
// runaway child must not grow the daemon's memory without bound.
constexpr size_t kMaxLineBytes = 1 << 20;

std::string ErrnoText(int err) { return std::strerror(err); }

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// Resolves argv[0] the way execvp would, but here in the parent, so that a
// missing program is a clear error rather than a child exiting 127.
absl::StatusOr<std::string> ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (IsExecutableFile(name)) return name;
    return absl::NotFoundError("cannot execute '" + name + "': not an executable file");
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (IsExecutableFile(candidate)) return candidate;
    start = end + 1;
  }
  return absl::NotFoundError("cannot execute '" + name + "': not found in PATH");
}

std::vector<std::string> MergedEnvironment(const std::vector<std::string>& extra) {
  std::map<std::string, std::string> by_key;
  std::vector<std::string> order;
  auto add = [&](const std::string& entry) {
    std::string key = entry.substr(0, entry.find('='));
    if (by_key.count(key) == 0) order.push_back(key);
    by_key[key] = entry;
  };
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) add(*e);
  for (const std::string& e : extra) add(e);
  std::vector<std::string> env;
  for (const std::string& key : order) env.push_back(by_key[key]);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// dup2 for the child, between fork and exec (async-signal-safe). When the
// daemon was started with 0, 1 or 2 closed, our descriptor may already sit
// on the target number; dup2 would then keep its close-on-exec flag.
bool MoveFd(int from, int to) {
  if (from == to) return fcntl(to, F_SETFD, 0) == 0;
  return dup2(from, to) == to;
}

// Reaps `pid` if it has ended; returns true and fills status if so.
bool TryReap(pid_t pid, int* status) {
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r == -1 && errno == EINTR) continue;
    return false;
  }
}

// Splits bytes from the pipe into lines, copies them to the stdout file.
class LineSplitter {
 public:
  LineSplitter(int file_fd, const LineCallback& on_line) : file_fd_(file_fd), on_line_(on_line) {}

  // Returns false once the callback asked to stop (later lines are still
  // copied to the file but not passed on).
  bool Feed(const char* data, size_t n) {
    WriteAll(data, n);
    for (size_t i = 0; i < n; ++i) {
      if (data[i] == '\n') {
        Emit();
      } else if (pending_.size() < kMaxLineBytes) {
        pending_ += data[i];
      } else {
        overlong_ = true;
      }
    }
    return keep_going_;
  }

  // A last line without a newline still counts.
  bool Finish() {
    if (!pending_.empty()) Emit();
    return keep_going_;
  }

 private:
  void Emit() {
    if (keep_going_ && !overlong_) keep_going_ = on_line_(pending_);
    pending_.clear();
    overlong_ = false;
  }

  void WriteAll(const char* data, size_t n) {
    while (n > 0) {
      ssize_t w = write(file_fd_, data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;  // disk full: keep parsing, the file is best effort
      data += w;
      n -= static_cast<size_t>(w);
    }
  }

  int file_fd_;
  const LineCallback& on_line_;
  std::string pending_;
  bool overlong_ = false;
  bool keep_going_ = true;
};

}  // namespace

std::string DescribeExit(const ChildResult& result) {
  if (result.exited) return "exit code " + std::to_string(result.exit_code);
  return "killed by signal " + std::to_string(result.term_signal) + " (" +
         strsignal(result.term_signal) + ")";
}

absl::StatusOr<ChildResult> RunChild(const ChildOptions& options, const LineCallback& on_line,
                                     const std::function<bool()>& should_stop) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty argv");
  absl::StatusOr<std::string> program = ResolveProgram(options.argv[0]);
  if (!program.ok()) return program.status();

  Fd out_file(open(options.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out_file.get() < 0) {
    return absl::InternalError("cannot create " + options.stdout_path + ": " + ErrnoText(errno));
  }
  Fd err_file(open(options.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (err_file.get() < 0) {
    return absl::InternalError("cannot create " + options.stderr_path + ": " + ErrnoText(errno));
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe2: " + ErrnoText(errno));
  }
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);

  Fd dev_null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (dev_null.get() < 0) return absl::InternalError("cannot open /dev/null: " + ErrnoText(errno));
  // The child reports a failed exec through this pipe; a successful exec
  // closes it (O_CLOEXEC), so the parent reads EOF.
  int exec_fds[2];
  if (pipe2(exec_fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2: " + ErrnoText(errno));
  Fd exec_read(exec_fds[0]);
  Fd exec_write(exec_fds[1]);

  // Everything the child needs is prepared here: between fork and exec only
  // async-signal-safe calls are allowed (the daemon has gRPC threads that may
  // hold malloc or other locks at the moment of fork).
  std::vector<std::string> argv_strings = options.argv;
  std::vector<std::string> env_strings = MergedEnvironment(options.extra_env);
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<char*> envp = CStrings(env_strings);
  const char* path = program->c_str();
  const pid_t parent = getpid();
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof(default_action));
  default_action.sa_handler = SIG_DFL;
  const int in_fd = dev_null.get(), out_fd = write_end.get(), err_fd = err_file.get();
  const int exec_fd = exec_write.get();

  const Clock::time_point start = Clock::now();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork: " + ErrnoText(errno));
  if (pid == 0) {
    // Own process group, so that one kill(-pgid) reaches the trainer's own
    // children too.
    setpgid(0, 0);
    // If the daemon dies (even by SIGKILL) the trial must not run on as an
    // orphan: its lease expires and the trial is retried elsewhere.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the daemon died before prctl
    // The daemon blocks SIGTERM/SIGINT in every thread and ignores SIGPIPE;
    // both would be inherited across exec.
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT}) {
      sigaction(sig, &default_action, nullptr);
    }
    sigprocmask(SIG_SETMASK, &empty_mask, nullptr);
    if (!MoveFd(in_fd, 0) || !MoveFd(out_fd, 1) || !MoveFd(err_fd, 2)) {
      int err = errno;
      (void)!write(exec_fd, &err, sizeof(err));
      _exit(127);
    }
    execve(path, argv.data(), envp.data());
    int err = errno;
    (void)!write(exec_fd, &err, sizeof(err));
    _exit(127);
  }
  // Also from the parent: kill(-pid) must work even if we get there before
  // the child ran setpgid (EACCES after its exec is harmless: it did).
  setpgid(pid, pid);
  exec_write.Reset();
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(exec_read.get(), &exec_errno, sizeof(exec_errno));
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof(exec_errno))) {
    int ignored;
    while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
    }
    return absl::InternalError("cannot execute '" + *program + "': " + ErrnoText(exec_errno));
  }
  // Our copy of the write end must go, or the pipe never reports EOF.
  write_end.Reset();
  err_file.Reset();
  fcntl(read_end.get(), F_SETFL, fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);

  ChildResult result;
  LineSplitter splitter(out_file.get(), on_line);
  int status = 0;
  bool reaped = false;
  bool pipe_open = true;
  Clock::time_point term_sent_at;
  bool term_sent = false, kill_sent = false;
  auto request_stop = [&](ChildResult::StopCause cause) {
    if (term_sent) return;
    result.stopped_by = cause;
    kill(-pid, SIGTERM);
    term_sent = true;
    term_sent_at = Clock::now();
  };

  char buf[65536];
  while (!reaped) {
    if (pipe_open) {
      pollfd pfd{read_end.get(), POLLIN, 0};
      int n = poll(&pfd, 1, static_cast<int>(options.poll_interval.count()));
      if (n > 0) {
        for (;;) {
          ssize_t r = read(read_end.get(), buf, sizeof(buf));
          if (r > 0) {
            if (!splitter.Feed(buf, static_cast<size_t>(r))) {
              request_stop(ChildResult::StopCause::kLineCallback);
            }
            continue;
          }
          if (r == 0) pipe_open = false;  // every writer closed stdout
          break;                          // EAGAIN, EINTR or EOF
        }
      }
    } else {
      std::this_thread::sleep_for(options.poll_interval);
    }
    reaped = TryReap(pid, &status);
    if (reaped) break;
    Clock::time_point now = Clock::now();
    if (options.timeout.count() > 0 && now - start >= options.timeout) {
      request_stop(ChildResult::StopCause::kTimeout);
    }
    if (should_stop && should_stop()) request_stop(ChildResult::StopCause::kShouldStop);
    if (term_sent && !kill_sent && now - term_sent_at >= options.kill_grace) {
      kill(-pid, SIGKILL);
      kill_sent = true;
    }
  }
  // The leader is gone; whatever it left in its group goes too, so that
  // nothing keeps the pipe (or a GPU) after the trial ends.
  kill(-pid, SIGKILL);
  for (;;) {
    ssize_t r = read(read_end.get(), buf, sizeof(buf));
    if (r > 0) {
      if (!splitter.Feed(buf, static_cast<size_t>(r)) &&
          result.stopped_by == ChildResult::StopCause::kNone) {
        result.stopped_by = ChildResult::StopCause::kLineCallback;
      }
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) {
      // A killed straggler may not have closed the pipe yet; give it a moment.
      pollfd pfd{read_end.get(), POLLIN, 0};
      if (poll(&pfd, 1, 200) > 0) continue;
    }
    break;
  }
  if (!splitter.Finish() && result.stopped_by == ChildResult::StopCause::kNone) {
    result.stopped_by = ChildResult::StopCause::kLineCallback;
  }
  if (WIFEXITED(status)) {
    result.exited = true;
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return result;
}

std::string ReadFileTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  std::streamoff size = in.tellg();
  std::streamoff from = size > static_cast<std::streamoff>(max_bytes)
                            ? size - static_cast<std::streamoff>(max_bytes)
                            : 0;
  in.seekg(from);
  std::string tail(static_cast<size_t>(size - from), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  if (from > 0) {
    size_t nl = tail.find('\n');
    if (nl != std::string::npos && nl + 1 < tail.size()) tail = tail.substr(nl + 1);
  }
  return tail;
}

}  // namespace peftsearch::daemon
