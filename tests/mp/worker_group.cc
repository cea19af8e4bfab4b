#include "worker_group.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace strata::mptest {

namespace {

// Variables of other launchers: a test run under mpirun or Slurm must not leak them into ranks.
constexpr std::string_view kDroppedPrefixes[] = {
    "STRATA_RANK=",    "STRATA_NRANKS=",      "STRATA_LOCAL_RANK=", "STRATA_LOCAL_SIZE=",
    "STRATA_COMM_ID=", "STRATA_COMM_SECRET=", "OMPI_COMM_WORLD_",   "PMI_",
    "SLURM_PROCID=",   "SLURM_NTASKS=",       "SLURM_LOCALID=",     "RANK=",
    "WORLD_SIZE=",     "LOCAL_RANK=",         "MASTER_ADDR=",       "MASTER_PORT="};

constexpr int kPollSliceMs = 10;

}  // namespace

std::string commIdFor(int port) { return "127.0.0.1:" + std::to_string(port); }

int pickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  if (port < 0) throw std::runtime_error("cannot find a free port on 127.0.0.1");
  return port;
}

int connectToLocalPort(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
  ::close(fd);
  return -1;
}

std::string randomSecretHex() {
  unsigned char bytes[16];
  if (::getrandom(bytes, sizeof(bytes), 0) != static_cast<ssize_t>(sizeof(bytes))) {
    throw std::runtime_error("getrandom failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : bytes) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  return hex;
}

std::string describeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = strsignal(WTERMSIG(status));
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + (name ? name : "?") +
           ")";
  }
  return "wait status " + std::to_string(status);
}

WorkerGroup::WorkerGroup(std::string program, int nranks, std::string commId, std::string secret)
    : program_(std::move(program)),
      commId_(std::move(commId)),
      secret_(std::move(secret)),
      workers_(nranks) {}

WorkerGroup::~WorkerGroup() {
  held_.clear();
  killAll();
  for (Worker& w : workers_) {
    if (w.pid > 0 && !w.reaped) {
      ::waitpid(w.pid, &w.status, 0);
      w.reaped = true;
    }
    if (w.outFd >= 0) ::close(w.outFd);
  }
}

void WorkerGroup::setEnv(const std::string& key, const std::string& value) {
  for (auto& kv : extraEnv_) {
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  }
  extraEnv_.emplace_back(key, value);
}

std::vector<std::string> WorkerGroup::baseEnv(int rank) const {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv = *e;
    bool dropped = std::any_of(std::begin(kDroppedPrefixes), std::end(kDroppedPrefixes),
                               [&](std::string_view p) { return kv.substr(0, p.size()) == p; });
    for (const auto& extra : extraEnv_) {
      if (kv.substr(0, extra.first.size() + 1) == extra.first + "=") dropped = true;
    }
    if (!dropped) env.emplace_back(kv);
  }
  env.push_back("STRATA_RANK=" + std::to_string(rank));
  env.push_back("STRATA_NRANKS=" + std::to_string(size()));
  env.push_back("STRATA_LOCAL_RANK=" + std::to_string(rank));
  env.push_back("STRATA_LOCAL_SIZE=" + std::to_string(size()));
  env.push_back("STRATA_COMM_ID=" + commId_);
  env.push_back("STRATA_COMM_SECRET=" + secret_);
  for (const auto& [key, value] : extraEnv_) env.push_back(key + "=" + value);
  return env;
}

bool WorkerGroup::start(int rank, const std::vector<std::string>& args) {
  Worker& w = workers_.at(rank);
  if (w.pid > 0) {
    error_ = "rank " + std::to_string(rank) + " already started";
    return false;
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    error_ = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  std::vector<std::string> env = baseEnv(rank);
  std::vector<std::string> argStrings = {program_};
  argStrings.insert(argStrings.end(), args.begin(), args.end());
  std::vector<char*> envp, argv;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (auto& s : argStrings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGCHLD, SIGINT, SIGTERM}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  int err = posix_spawn(&pid, program_.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (err != 0) {
    ::close(fds[0]);
    error_ = "cannot start " + program_ + ": " + std::strerror(err);
    return false;
  }
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  w.pid = pid;
  w.outFd = fds[0];
  return true;
}

bool WorkerGroup::startAll(const std::vector<std::string>& args) {
  for (int r = 0; r < size(); ++r) {
    if (!start(r, args)) return false;
  }
  return true;
}

void WorkerGroup::kill(int rank, int sig) {
  Worker& w = workers_.at(rank);
  if (w.pid > 0 && !w.reaped) ::kill(w.pid, sig);
}

void WorkerGroup::killAll() {
  for (int r = 0; r < size(); ++r) kill(r, SIGKILL);
}

void WorkerGroup::reap() {
  for (int r = 0; r < size(); ++r) {
    Worker& w = workers_[r];
    if (w.pid <= 0 || w.reaped || held_.count(r)) continue;
    int status = 0;
    if (::waitpid(w.pid, &status, WNOHANG) == w.pid) {
      w.reaped = true;
      w.status = status;
      w.exitedAt = Clock::now();
    }
  }
}

void WorkerGroup::pump(int timeoutMs) {
  std::vector<pollfd> pfds;
  std::vector<int> owners;
  for (int r = 0; r < size(); ++r) {
    if (workers_[r].outFd < 0) continue;
    pfds.push_back({workers_[r].outFd, POLLIN, 0});
    owners.push_back(r);
  }
  // Exits are noticed by polling waitpid, so never sleep long in one poll.
  int slice = std::min(timeoutMs, kPollSliceMs);
  if (pfds.empty()) {
    if (slice > 0) ::poll(nullptr, 0, slice);
  } else if (::poll(pfds.data(), pfds.size(), slice) > 0) {
    for (size_t k = 0; k < pfds.size(); ++k) {
      if (!pfds[k].revents) continue;
      Worker& w = workers_[owners[k]];
      char buf[8192];
      while (true) {
        ssize_t n = ::read(w.outFd, buf, sizeof(buf));
        if (n > 0) {
          w.output.append(buf, static_cast<size_t>(n));
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
          ::close(w.outFd);
          w.outFd = -1;
        }
        break;
      }
    }
  }
  reap();
}

void WorkerGroup::pumpFor(std::chrono::milliseconds timeout) {
  auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    pump(static_cast<int>(std::max<long long>(1, left.count())));
  }
}

bool WorkerGroup::waitForOutput(int rank, std::string_view text, Clock::time_point deadline) {
  while (true) {
    if (workers_.at(rank).output.find(text) != std::string::npos) return true;
    if (workers_[rank].reaped && workers_[rank].outFd < 0) return false;
    if (Clock::now() >= deadline) return false;
    pump(kPollSliceMs);
  }
}

std::optional<int> WorkerGroup::waitExit(int rank, Clock::time_point deadline) {
  while (!workers_.at(rank).reaped) {
    if (Clock::now() >= deadline) return std::nullopt;
    pump(kPollSliceMs);
  }
  // Output written just before the exit may still sit in the pipe.
  while (workers_[rank].outFd >= 0 && Clock::now() < deadline) pump(kPollSliceMs);
  return workers_[rank].status;
}

bool WorkerGroup::waitAll(Clock::time_point deadline, std::vector<int> ranks,
                          std::chrono::milliseconds failGrace) {
  if (ranks.empty()) {
    for (int r = 0; r < size(); ++r) ranks.push_back(r);
  }
  std::optional<Clock::time_point> killAt;
  while (true) {
    bool allDone = true;
    for (int r : ranks) {
      const Worker& w = workers_.at(r);
      if (w.pid <= 0) continue;
      if (!w.reaped) {
        allDone = false;
      } else if (!killAt && !(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 0)) {
        killAt = Clock::now() + failGrace;
      }
    }
    if (allDone) break;
    if (Clock::now() >= deadline) return false;
    if (killAt && Clock::now() >= *killAt) {
      for (int r : ranks) kill(r, SIGKILL);
    }
    pump(kPollSliceMs);
  }
  for (int r : ranks) {
    while (workers_[r].outFd >= 0 && Clock::now() < deadline) pump(kPollSliceMs);
  }
  return true;
}

std::string WorkerGroup::allOutput() const {
  std::string all;
  for (int r = 0; r < size(); ++r) {
    const Worker& w = workers_[r];
    std::string_view out = w.output;
    while (!out.empty()) {
      size_t nl = out.find('\n');
      std::string_view line = out.substr(0, nl);
      all += "[" + std::to_string(r) + "] ";
      all += line;
      all += '\n';
      if (nl == std::string_view::npos) break;
      out.remove_prefix(nl + 1);
    }
    if (w.reaped) all += "[" + std::to_string(r) + "] (" + describeWaitStatus(w.status) + ")\n";
  }
  return all;
}

}  // namespace strata::mptest
