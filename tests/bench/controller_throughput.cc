// controller_throughput: how many trials per second a real controller hands
// out and takes back. W simulated workers (each its own gRPC channel and
// thread) loop AcquireTrial + CompleteTrial on no-op trials against a
// peftsearch-controller process on loopback with its SQLite file on disk
// (WAL, synchronous=FULL). The same number of trials then goes through
// python3-optuna's ask/tell with SQLite storage, in the same run, and the
// ratio is printed.
//
//   bazel run -c opt //tests/bench:controller_throughput -- --trials 5000 --workers 64
//
// With --seconds S it is a load test instead: the workers run for S seconds
// through consecutive studies of --trials trials each, the controller's RSS is
// sampled, and the run fails on any RPC error or if RSS keeps growing after
// warm-up: the max over the last half above 1.25 x the RSS at the end of the
// first quarter + 8 MiB, or more than 1 MiB above it at over 8 KiB per study
// submitted since (a per-study leak once grew it ~16 KiB per study, which the
// first test alone let through).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "proto/peftsearch.grpc.pb.h"

namespace {

namespace v1 = peftsearch::v1;
using Clock = std::chrono::steady_clock;

std::string Runfile(const char* argv0, const std::string& path) {
  const char* srcdir = getenv("RUNFILES_DIR");
  std::string base = srcdir ? srcdir : std::string(argv0) + ".runfiles";
  return base + "/peftsearch/" + path;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// utime + stime of a process, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string field;
  for (int i = 1; i <= 13 && stat >> field; ++i) {
  }
  long utime = 0, stime = 0;
  stat >> utime >> stime;
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

long PeakRssKb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int trials = 5000, workers = 64;
  std::string dir = "/tmp/peftsearch_bench";
  std::string python = "/usr/bin/python3";
  bool skip_optuna = false;
  double load_seconds = 0;
  CLI::App app{"controller throughput vs Optuna+SQLite"};
  app.add_option("--trials", trials)->capture_default_str();
  app.add_option("--workers", workers)->capture_default_str();
  app.add_option("--dir", dir, "where the databases go")->capture_default_str();
  app.add_flag("--skip-optuna", skip_optuna);
  int empty_rpcs = 0;
  app.add_option("--empty-rpcs", empty_rpcs,
                 "also time this many GetStudy calls for a missing study per worker thread: "
                 "the controller's CPU for an RPC that does no work (gRPC's floor)");
  app.add_option("--seconds", load_seconds, "load-test mode: run this long, check RSS");
  CLI11_PARSE(app, argc, argv);

  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const std::string db = dir + "/bench.db", addr_file = dir + "/addr";
  const std::string controller = Runfile(argv[0], "controller/peftsearch-controller");
  pid_t pid = fork();
  if (pid == 0) {
    freopen((dir + "/controller.log").c_str(), "w", stderr);
    execl(controller.c_str(), controller.c_str(), "--listen", "127.0.0.1:0", "--db", db.c_str(),
          "--address-file", addr_file.c_str(), nullptr);
    _exit(127);
  }
  std::string addr;
  for (int i = 0; i < 200 && addr.empty(); ++i) {
    std::ifstream(addr_file) >> addr;
    if (addr.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (addr.empty()) {
    std::fprintf(stderr, "controller did not start; see %s/controller.log\n", dir.c_str());
    return 1;
  }

  auto study_stub = v1::StudyService::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  auto create_study = [&](const std::string& name) {
    v1::CreateStudyRequest create;
    create.set_spec_json(R"({"name": ")" + name + R"(", "direction": "minimize",
        "space": {"x": {"type": "float", "low": 0, "high": 1}},
        "sampler": {"type": "random", "seed": 1},
        "objective": {"type": "builtin", "function": "sphere"},
        "max_trials": )" + std::to_string(trials) + R"(, "parallelism": )" +
                         std::to_string(workers) + "}");
    v1::Study study;
    grpc::ClientContext ctx;
    grpc::Status s = study_stub->CreateStudy(&ctx, create, &study);
    if (!s.ok()) std::fprintf(stderr, "CreateStudy: %s\n", s.error_message().c_str());
    return s.ok();
  };
  if (empty_rpcs > 0) {
    // The same threads and channels as below, each RPC answered NOT_FOUND from
    // memory: what gRPC, the kernel's loopback TCP and the handler's
    // scaffolding cost per call, with no store and no engine work.
    const double cpu0 = CpuSeconds(pid);
    const auto t0 = Clock::now();
    std::vector<std::thread> callers;
    for (int w = 0; w < workers; ++w) {
      callers.emplace_back([&] {
        grpc::ChannelArguments args;
        args.SetInt("grpc.use_local_subchannel_pool", 1);
        auto stub = v1::StudyService::NewStub(
            grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args));
        for (int i = 0; i < empty_rpcs; ++i) {
          v1::GetStudyRequest get;
          get.set_study("no-such-study");
          v1::Study reply;
          grpc::ClientContext ctx;
          stub->GetStudy(&ctx, get, &reply);
        }
      });
    }
    for (auto& t : callers) t.join();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double n = static_cast<double>(empty_rpcs) * workers;
    std::printf("empty RPCs: %.0f calls, %d threads, %.2f s -> %.0f calls/s; controller CPU "
                "%.1f us/call\n",
                n, workers, secs, n / secs, 1e6 * (CpuSeconds(pid) - cpu0) / n);
  }
  if (!create_study("throughput-0")) return 1;
  const bool load_mode = load_seconds > 0;
  std::atomic<bool> stop{false};
  struct RssSample {
    double seconds;
    long kib;
    int studies;  // submitted so far
  };
  std::vector<RssSample> rss_samples;

  std::atomic<int> completed{0}, rpc_errors{0};
  std::vector<std::vector<double>> latencies(workers);
  // CPU from here on: the trials alone (not startup or the empty-RPC probe).
  const double controller_cpu_start = CpuSeconds(pid), self_cpu_start = CpuSeconds(getpid());
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      // Own channel per worker, as separate processes would have.
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);
      auto stub = v1::WorkerService::NewStub(
          grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args));
      v1::RegisterWorkerRequest reg;
      reg.set_name("bench-" + std::to_string(w));
      reg.set_slots(1);
      v1::RegisterWorkerResponse reg_reply;
      {
        grpc::ClientContext ctx;
        // A new channel's first connect on a busy loopback now and then fails
        // at once (UNAVAILABLE, "failed to connect to all addresses"); the
        // worker daemon retries that, and so does this worker, by waiting for
        // the channel instead of failing fast.
        ctx.set_wait_for_ready(true);
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        grpc::Status s = stub->RegisterWorker(&ctx, reg, &reg_reply);
        if (!s.ok()) {
          std::fprintf(stderr, "RegisterWorker (worker %d): code %d: %s\n", w,
                       static_cast<int>(s.error_code()), s.error_message().c_str());
          rpc_errors++;
          return;
        }
      }
      while (load_mode ? !stop.load() : completed.load() < trials) {
        v1::AcquireTrialRequest acquire;
        acquire.set_worker_id(reg_reply.worker_id());
        acquire.set_wait_ms(200);
        v1::AcquireTrialResponse got;
        auto t0 = Clock::now();
        {
          grpc::ClientContext ctx;
          if (!stub->AcquireTrial(&ctx, acquire, &got).ok()) {
            rpc_errors++;
            continue;
          }
        }
        latencies[w].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!got.has_trial()) continue;
        v1::CompleteTrialRequest complete;
        complete.set_lease_token(got.assignment().lease().token());
        complete.set_value(0.5);
        v1::CompleteTrialResponse done;
        t0 = Clock::now();
        grpc::ClientContext ctx;
        if (!stub->CompleteTrial(&ctx, complete, &done).ok()) {
          rpc_errors++;
          continue;
        }
        latencies[w].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        completed++;
      }
    });
  }
  if (load_mode) {
    // Keep a study running: when one completes, the next is submitted.
    int next_study = 1;
    int done_before = 0;
    while (std::chrono::duration<double>(Clock::now() - start).count() < load_seconds) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      rss_samples.push_back({std::chrono::duration<double>(Clock::now() - start).count(),
                             [&] {
                               std::ifstream status("/proc/" + std::to_string(pid) + "/status");
                               std::string line;
                               while (std::getline(status, line)) {
                                 if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
                               }
                               return 0L;
                             }(),
                             next_study});
      // An RSS sample on stdout every minute, for the record of long runs.
      if (static_cast<int>(rss_samples.back().seconds / 60) !=
          static_cast<int>((rss_samples.size() > 1 ? rss_samples[rss_samples.size() - 2].seconds
                                                   : 0) / 60)) {
        std::printf("load: t=%.0f s, controller RSS %.1f MiB, %d trials done, %d studies, RPC "
                    "errors %d\n",
                    rss_samples.back().seconds, rss_samples.back().kib / 1024.0,
                    completed.load(), next_study, rpc_errors.load());
        std::fflush(stdout);
      }
      if (completed.load() - done_before >= trials) {
        done_before += trials;
        if (!create_study("throughput-" + std::to_string(next_study++))) rpc_errors++;
      }
    }
    stop.store(true);
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const int total_trials = load_mode ? completed.load() : trials;
  const double ours = total_trials / seconds;
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  const long rss_kb = PeakRssKb(pid);
  const double controller_cpu = CpuSeconds(pid) - controller_cpu_start;
  const double self_cpu = CpuSeconds(getpid()) - self_cpu_start;
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);

  std::printf("peftsearch: %d trials, %d workers, %.2f s -> %.0f trials/s "
              "(rpc p50 %.2f ms, p99 %.2f ms, errors %d, controller peak RSS %.0f MiB; CPU: "
              "controller %.2f s = %.0f us/trial, simulated workers %.2f s)\n",
              total_trials, workers, seconds, ours, Percentile(all, 0.5), Percentile(all, 0.99),
              rpc_errors.load(), rss_kb / 1024.0, controller_cpu, 1e6 * controller_cpu / total_trials,
              self_cpu);
  if (load_mode) {
    long warm = 0, late_max = 0;
    int warm_studies = 0, studies = 0;
    for (const RssSample& sample : rss_samples) {
      if (sample.seconds <= load_seconds / 4) {
        warm = sample.kib;
        warm_studies = sample.studies;
      }
      if (sample.seconds >= load_seconds / 2) late_max = std::max(late_max, sample.kib);
      studies = sample.studies;
    }
    const long growth = late_max - warm;
    const double per_study = growth / std::max(1.0, double(studies - warm_studies));
    const bool grew = late_max > warm * 1.25 + 8 * 1024 || (growth > 1024 && per_study > 8);
    std::printf("load: controller RSS %.1f MiB after warm-up, max %.1f MiB in the second half "
                "(%+.1f KiB per study over %d studies): %s; RPC errors %d\n",
                warm / 1024.0, late_max / 1024.0, per_study, studies - warm_studies,
                grew ? "GROWING" : "flat", rpc_errors.load());
    return (grew || rpc_errors.load() > 0) ? 1 : 0;
  }
  if (skip_optuna) return rpc_errors.load() == 0 ? 0 : 1;

  const std::string script = Runfile(argv[0], "tests/bench/optuna_asktell.py");
  const std::string cmd = python + " " + script + " --trials " + std::to_string(trials) +
                          " --db " + dir + "/optuna.db";
  FILE* p = popen(cmd.c_str(), "r");
  double optuna = 0;
  char line[512];
  while (p && fgets(line, sizeof(line), p)) {
    std::fputs(line, stdout);
    std::sscanf(line, "optuna: %*d trials, %*f s -> %lf trials/s", &optuna);
  }
  if (p) pclose(p);
  if (optuna > 0) std::printf("ratio peftsearch / optuna+sqlite: %.1fx\n", ours / optuna);
  return rpc_errors.load() == 0 ? 0 : 1;
}
