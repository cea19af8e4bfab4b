// WorkerGroup: the ranks of one multi-process test, each a child process started with the
// environment strataCommInitFromEnv reads. Collects each rank's output, notes when each rank
// exited, and never outlives the test: whatever still runs is killed on destruction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::mptest {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A TCP port on 127.0.0.1 that was free when asked.
int pickFreePort();
// The bootstrap address "127.0.0.1:port".
std::string commIdFor(int port);
// A connection to 127.0.0.1:port (a close-on-exec socket), or -1 when nobody listens there.
int connectToLocalPort(int port);
// 32 hex digits (128 bits) from the kernel's generator.
std::string randomSecretHex();
// "exited with code 3", "killed by signal 9 (Killed)".
std::string describeWaitStatus(int status);

class WorkerGroup {
 public:
  // nranks ranks of `program` meeting at commId ("host:port") with the given hex secret.
  WorkerGroup(std::string program, int nranks, std::string commId, std::string secret);
  ~WorkerGroup();
  WorkerGroup(const WorkerGroup&) = delete;
  WorkerGroup& operator=(const WorkerGroup&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }

  // Extra environment for ranks started after the call.
  void setEnv(const std::string& key, const std::string& value);

  // Starts rank with `program args...`; false (see error()) when it could not be spawned.
  bool start(int rank, const std::vector<std::string>& args);
  bool startAll(const std::vector<std::string>& args);
  const std::string& error() const { return error_; }

  // Sends sig to rank's process (which must not have been reaped).
  void kill(int rank, int sig);
  // While held, rank is not reaped: once it dies it stays a zombie, as a crashed peer does
  // until its parent gets round to it.
  void hold(int rank) { held_.insert(rank); }
  void release(int rank) { held_.erase(rank); }

  // Reads output and reaps exited ranks for about timeout.
  void pumpFor(std::chrono::milliseconds timeout);
  // Until rank's output contains `text`; false at the deadline or when rank exited first.
  bool waitForOutput(int rank, std::string_view text, Clock::time_point deadline);
  // Until rank exited; its wait status, or nullopt at the deadline.
  std::optional<int> waitExit(int rank, Clock::time_point deadline);
  // Until every started rank in `ranks` (all when empty) exited. Once one fails, the others get
  // failGrace before they are killed. False at the deadline.
  bool waitAll(Clock::time_point deadline, std::vector<int> ranks = {},
               std::chrono::milliseconds failGrace = std::chrono::milliseconds(5000));

  bool exited(int rank) const { return workers_[rank].reaped; }
  int status(int rank) const { return workers_[rank].status; }
  Clock::time_point exitTime(int rank) const { return workers_[rank].exitedAt; }
  pid_t pid(int rank) const { return workers_[rank].pid; }
  const std::string& output(int rank) const { return workers_[rank].output; }
  // Every rank's output, each line prefixed "[rank] ", for failure messages.
  std::string allOutput() const;

 private:
  struct Worker {
    pid_t pid = -1;
    int outFd = -1;  // stdout and stderr, merged
    bool reaped = false;
    int status = 0;
    Clock::time_point exitedAt{};
    std::string output;
  };

  std::vector<std::string> baseEnv(int rank) const;
  void pump(int timeoutMs);
  void reap();
  void killAll();

  std::string program_;
  std::string commId_;
  std::string secret_;
  std::vector<std::pair<std::string, std::string>> extraEnv_;
  std::vector<Worker> workers_;
  std::set<int> held_;
  std::string error_;
};

}  // namespace strata::mptest
