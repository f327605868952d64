#include "worker/daemon/child_process.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace peftsearch::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

class ChildProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/childXXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
  }

  ChildOptions Shell(const std::string& script) {
    ChildOptions o;
    o.argv = {"/bin/sh", "-c", script};
    o.stdout_path = dir_ + "/stdout";
    o.stderr_path = dir_ + "/stderr";
    o.kill_grace = 300ms;
    o.poll_interval = 10ms;
    return o;
  }

  absl::StatusOr<ChildResult> Run(const ChildOptions& o,
                                  std::function<bool()> should_stop = nullptr) {
    lines_.clear();
    return RunChild(
        o,
        [this](const std::string& line) {
          lines_.push_back(line);
          return stop_after_line_.empty() || line != stop_after_line_;
        },
        should_stop);
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
  std::vector<std::string> lines_;
  std::string stop_after_line_;
};

TEST_F(ChildProcessTest, StreamsLinesAndKeepsOutputFiles) {
  ChildOptions o = Shell(
      "echo '{\"step\": 1, \"value\": 0.5}'; echo oops >&2; echo \"$PEFT_X\"; "
      "printf '{\"value\": 2}'");
  o.extra_env = {"PEFT_X=hello"};
  absl::StatusOr<ChildResult> r = Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->exited);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stopped_by, ChildResult::StopCause::kNone);
  EXPECT_THAT(lines_, ElementsAre("{\"step\": 1, \"value\": 0.5}", "hello", "{\"value\": 2}"));
  EXPECT_EQ(Slurp(dir_ + "/stdout"), "{\"step\": 1, \"value\": 0.5}\nhello\n{\"value\": 2}");
  EXPECT_EQ(Slurp(dir_ + "/stderr"), "oops\n");
  EXPECT_EQ(DescribeExit(*r), "exit code 0");
}

TEST_F(ChildProcessTest, ExitCodeAndSignal) {
  absl::StatusOr<ChildResult> r = Run(Shell("exit 7"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->exited);
  EXPECT_EQ(r->exit_code, 7);

  r = Run(Shell("kill -9 $$"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->exited);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_THAT(DescribeExit(*r), HasSubstr("killed by signal 9"));
}

TEST_F(ChildProcessTest, MissingProgramIsNotFound) {
  ChildOptions o = Shell("");
  o.argv = {"no-such-program-peftsearch"};
  EXPECT_EQ(Run(o).status().code(), absl::StatusCode::kNotFound);
  o.argv = {"/nonexistent/prog"};
  EXPECT_EQ(Run(o).status().code(), absl::StatusCode::kNotFound);
  o.argv = {"sh", "-c", "exit 0"};  // found through PATH
  EXPECT_TRUE(Run(o).ok());
}

TEST_F(ChildProcessTest, TimeoutSendsSigterm) {
  ChildOptions o = Shell("echo started; exec sleep 30");
  o.timeout = 200ms;
  absl::StatusOr<ChildResult> r = Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stopped_by, ChildResult::StopCause::kTimeout);
  EXPECT_FALSE(r->exited);
  EXPECT_EQ(r->term_signal, SIGTERM);
  EXPECT_LT(r->elapsed, 5s);
  EXPECT_THAT(lines_, ElementsAre("started"));
}

TEST_F(ChildProcessTest, SigkillAfterGraceWhenSigtermIgnored) {
  ChildOptions o = Shell("trap '' TERM; echo ready; sleep 30; echo survived");
  absl::StatusOr<ChildResult> r = Run(o, [this] { return !lines_.empty(); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stopped_by, ChildResult::StopCause::kShouldStop);
  EXPECT_FALSE(r->exited);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_GE(r->elapsed, 300ms);
  EXPECT_LT(r->elapsed, 5s);
  EXPECT_THAT(lines_, ElementsAre("ready"));
}

TEST_F(ChildProcessTest, LineCallbackStopsChildAndWholeGroup) {
  // The shell's own child (sleep) must die too: the kill goes to the group.
  stop_after_line_ = "{\"step\": 1, \"value\": 1}";
  ChildOptions o = Shell("echo '{\"step\": 1, \"value\": 1}'; sleep 30; echo never");
  absl::StatusOr<ChildResult> r = Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stopped_by, ChildResult::StopCause::kLineCallback);
  EXPECT_LT(r->elapsed, 5s);
  EXPECT_THAT(lines_, ElementsAre("{\"step\": 1, \"value\": 1}"));
}

TEST_F(ChildProcessTest, LeftoverGroupMembersAreKilled) {
  // The background sleep inherits stdout; without the group kill the pipe
  // would stay open for 30 s.
  std::string pid_file = dir_ + "/bg.pid";
  ChildOptions o = Shell("sleep 30 & echo $! > " + pid_file + "; echo '{\"value\": 1}'");
  absl::StatusOr<ChildResult> r = Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->exited);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_LT(r->elapsed, 5s);
  EXPECT_THAT(lines_, ElementsAre("{\"value\": 1}"));
  pid_t bg = std::stoi(Slurp(pid_file));
  // Killed, then reaped by whoever inherits it; a zombie counts as gone.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::string stat = Slurp("/proc/" + std::to_string(bg) + "/stat");
    size_t paren = stat.rfind(')');
    gone = paren == std::string::npos || stat.compare(paren + 2, 1, "Z") == 0;
    if (!gone) usleep(20000);
  }
  EXPECT_TRUE(gone);
}

// True once `pid` has exited (gone, or a zombie waiting for its reaper).
bool ProcessGone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || stat.compare(paren + 2, 1, "Z") == 0;
}

TEST_F(ChildProcessTest, ChildDiesWithTheDaemon) {
  // A stand-in daemon (a forked copy of this test) runs a long child and is
  // SIGKILLed; the child must not live on as an orphan.
  std::string pid_file = dir_ + "/child.pid";
  ChildOptions o = Shell("echo $$ > " + pid_file + "; exec sleep 30");
  pid_t daemon = fork();
  ASSERT_GE(daemon, 0);
  if (daemon == 0) {
    RunChild(o, [](const std::string&) { return true; }, nullptr).IgnoreError();
    _exit(0);
  }
  pid_t child = 0;
  for (int i = 0; i < 250 && child == 0; ++i) {
    std::string text = Slurp(pid_file);
    if (!text.empty() && text.back() == '\n') child = std::stoi(text);
    if (child == 0) usleep(20000);
  }
  ASSERT_NE(child, 0);
  EXPECT_FALSE(ProcessGone(child));
  kill(daemon, SIGKILL);
  int status;
  waitpid(daemon, &status, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ProcessGone(child);
    if (!gone) usleep(20000);
  }
  EXPECT_TRUE(gone);
  if (!gone) kill(child, SIGKILL);
}

TEST_F(ChildProcessTest, ExecFailureIsAnError) {
  std::string not_a_program = dir_ + "/data.txt";
  std::ofstream(not_a_program) << "\x01\x02 not an executable format\n";
  chmod(not_a_program.c_str(), 0755);
  ChildOptions o = Shell("");
  o.argv = {not_a_program};
  absl::StatusOr<ChildResult> r = Run(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("Exec format error"));
}

TEST_F(ChildProcessTest, StdinIsEmpty) {
  absl::StatusOr<ChildResult> r = Run(Shell("cat; echo done"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(lines_, ElementsAre("done"));
}

TEST_F(ChildProcessTest, ReadFileTailStartsAtLineBoundary) {
  std::string path = dir_ + "/f";
  std::ofstream(path) << "first line\nsecond line\nthird\n";
  EXPECT_EQ(ReadFileTail(path, 1000), "first line\nsecond line\nthird\n");
  EXPECT_EQ(ReadFileTail(path, 15), "third\n");
  EXPECT_EQ(ReadFileTail(dir_ + "/missing", 10), "");
}

}  // namespace
}  // namespace peftsearch::daemon
