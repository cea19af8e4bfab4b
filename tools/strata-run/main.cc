// strata-run: starts N ranks of a command with the environment that
// strataCommInitFromEnv reads, forwards their output line by line prefixed with the rank, tells
// the ranks when one of them ends, and exits 0 only if every rank did. Plain POSIX on purpose:
// the launcher must not depend on the library it launches.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "binding.h"
#include "options.h"

extern char** environ;

namespace {

using strata::run::BindTo;
using strata::run::Options;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Between SIGTERM and SIGKILL when stopping ranks after a failure.
constexpr milliseconds kTermToKill{3000};
// How long output pipes still held open by grandchildren are drained once every rank exited.
constexpr milliseconds kDrainAfterExit{2000};
// A line longer than this is forwarded in pieces rather than buffered without bound.
constexpr size_t kMaxLineBytes = 1 << 16;

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string errnoText(int err) { return std::strerror(err); }

void replaceAll(std::string& s, std::string_view from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

// Asks the kernel for a port nobody uses on host. Rank 0 binds it shortly after; the window in
// between is the usual cost of launchers that do not pass a listening socket down.
std::optional<int> pickFreePort(const std::string& host, std::string* error) {
  in_addr v4{};
  in6_addr v6{};
  bool isV6 = false;
  if (inet_pton(AF_INET, host.c_str(), &v4) != 1) {
    if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
      isV6 = true;
    } else {
      v4.s_addr = htonl(INADDR_ANY);  // a host name: any local address will do
    }
  }
  Fd sock(::socket(isV6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) {
    *error = "socket: " + errnoText(errno);
    return std::nullopt;
  }
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (isV6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_addr = v6;
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_addr = v4;
    len = sizeof(*a);
  }
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    // The address lives elsewhere (another host, or a network namespace the ranks run in): a
    // port free here is the best guess for a port free there.
    bool elsewhere = errno == EADDRNOTAVAIL;
    if (elsewhere) {
      if (isV6)
        reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr = in6addr_any;
      else
        reinterpret_cast<sockaddr_in*>(&addr)->sin_addr.s_addr = htonl(INADDR_ANY);
    }
    if (!elsewhere || ::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      *error = "bind to " + host + ": " + errnoText(errno);
      return std::nullopt;
    }
  }
  len = sizeof(addr);
  if (::getsockname(sock.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    *error = "getsockname: " + errnoText(errno);
    return std::nullopt;
  }
  return ntohs(isV6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                    : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

std::optional<std::string> randomSecretHex(std::string* error) {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = "getrandom: " + errnoText(errno);
      return std::nullopt;
    }
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : bytes) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  return hex;
}

// Writes all of data to fd; gives up on the fd (for good) when the reader went away.
void writeAll(int fd, std::string_view data, bool* broken) {
  while (!data.empty() && !*broken) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, -1);
    } else {
      *broken = true;
    }
  }
}

// One of a rank's output streams: a pipe whose lines go to one of our own fds with a prefix.
struct OutputStream {
  Fd pipe;
  int target = 1;
  std::string partial;
};

struct Rank {
  pid_t pid = -1;
  bool reaped = false;
  int status = 0;
  bool stoppedByUs = false;
  OutputStream out[2];  // stdout, stderr
  Fd notice;            // write end of the rank's notice pipe
};

// Signals arrive on a self-pipe so the poll loop is the only place that reacts to them.
int g_signalPipeWrite = -1;

void onSignal(int sig) {
  int saved = errno;
  unsigned char byte = static_cast<unsigned char>(sig);
  [[maybe_unused]] ssize_t n = ::write(g_signalPipeWrite, &byte, 1);
  errno = saved;
}

std::string describeStatus(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = strsignal(sig);
    return "was killed by signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")";
  }
  return "ended with wait status " + std::to_string(status);
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

bool failed(int status) { return !(WIFEXITED(status) && WEXITSTATUS(status) == 0); }

class Launcher {
 public:
  explicit Launcher(Options opts) : opts_(std::move(opts)), ranks_(opts_.nranks) {}

  int run() {
    prepareProcess();
    std::string error;
    std::optional<std::string> commId = userValue("STRATA_COMM_ID");
    if (commId) {
      checkUserCommId(*commId);
    } else {
      const std::string host = opts_.host.empty() ? "127.0.0.1" : opts_.host;
      auto port = pickFreePort(host, &error);
      if (!port) return fatal("cannot pick a free port: " + error);
      commId = (host.find(':') != std::string::npos) ? "[" + host + "]:" + std::to_string(*port)
                                                     : host + ":" + std::to_string(*port);
    }
    std::optional<std::string> secret = userValue("STRATA_COMM_SECRET");
    if (secret) {
      checkUserSecret(*secret);
    } else {
      secret = randomSecretHex(&error);
      if (!secret) return fatal("cannot make a secret: " + error);
    }
    if (opts_.bindTo == BindTo::kAuto) {
      // As mpirun does for a small job: one core per rank keeps the scheduler from stacking two
      // spinning ranks on one core. Namespace hosts share this machine's cores, so they and an
      // oversubscribed host are left to the OS.
      cores_ = strata::run::usableCores(&error);
      if (opts_.ranksPerHost != opts_.nranks || opts_.nranks > static_cast<long>(cores_.size()))
        cores_.clear();
    } else if (opts_.bindTo == BindTo::kCore) {
      cores_ = strata::run::usableCores(&error);
      if (cores_.empty()) return fatal("--bind-to core: " + error);
      if (opts_.ranksPerHost > static_cast<long>(cores_.size()))
        std::fprintf(stderr,
                     "strata-run: --bind-to core: %ld ranks per host on %zu cores; ranks share "
                     "cores\n",
                     opts_.ranksPerHost, cores_.size());
    }
    for (long r = 0; r < opts_.nranks; ++r) {
      int err = spawnRank(static_cast<int>(r), *commId, *secret);
      if (err != 0) {
        std::fprintf(
            stderr, "strata-run: cannot start '%s' for rank %ld: %s\n",
            opts_.rankPrefix.empty() ? opts_.command[0].c_str() : opts_.rankPrefix[0].c_str(), r,
            errnoText(err).c_str());
        signalLive(SIGKILL, false);
        reapAll(/*block=*/true);
        return err == ENOENT ? 127 : 126;
      }
    }
    loop();
    return report();
  }

 private:
  int fatal(const std::string& message) {
    std::fprintf(stderr, "strata-run: %s\n", message.c_str());
    return 1;
  }

  // The value a user chose for the ranks: the last -x NAME=VALUE, else strata-run's environment.
  std::optional<std::string> userValue(const std::string& name) const {
    for (auto it = opts_.exports.rbegin(); it != opts_.exports.rend(); ++it)
      if (it->first == name) return it->second;
    const char* v = std::getenv(name.c_str());
    if (v && *v) return std::string(v);
    return std::nullopt;
  }

  // A STRATA_COMM_ID the user set is the root's address; --host would contradict it.
  void checkUserCommId(const std::string& commId) const {
    size_t colon = commId.rfind(':');
    bool ok = colon != std::string::npos && colon > 0 && colon + 1 < commId.size() &&
              commId.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
              commId.size() - colon - 1 <= 5 && std::stol(commId.substr(colon + 1)) >= 1 &&
              std::stol(commId.substr(colon + 1)) <= 65535;
    if (!ok)
      strata::run::usageError("STRATA_COMM_ID=" + commId +
                              " is not host:port (unset it to let strata-run pick a port)");
    if (!opts_.host.empty())
      strata::run::usageError("--host " + opts_.host + " and STRATA_COMM_ID=" + commId +
                              " both name rank 0's address; give one of them");
  }

  static void checkUserSecret(const std::string& secret) {
    bool ok = secret.size() == 32 &&
              secret.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
    if (!ok)
      strata::run::usageError("STRATA_COMM_SECRET must be 32 hex digits (128 bits), got '" +
                              secret + "' (unset it to let strata-run make one)");
  }

  void prepareProcess() {
    // Keep 0..2 open so pipe ends never land on them.
    for (int fd = 0; fd <= 2; ++fd) {
      if (::fcntl(fd, F_GETFD) < 0) ::open("/dev/null", O_RDWR);
    }
    // Three pipes per rank: stdout, stderr and notices.
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 &&
        lim.rlim_cur < static_cast<rlim_t>(3 * opts_.nranks + 64)) {
      lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 3 * opts_.nranks + 64);
      ::setrlimit(RLIMIT_NOFILE, &lim);
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
      signalRead_ = Fd(fds[0]);
      signalWrite_ = Fd(fds[1]);
      g_signalPipeWrite = fds[1];
    }
    struct sigaction sa {};
    sa.sa_handler = onSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    for (int sig : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
  }

  std::vector<std::string> buildEnv(int rank, const std::string& commId, const std::string& secret,
                                    int noticeFd) const {
    static constexpr std::string_view kOwned[] = {
        "STRATA_RANK",    "STRATA_NRANKS",      "STRATA_LOCAL_RANK",   "STRATA_LOCAL_SIZE",
        "STRATA_COMM_ID", "STRATA_COMM_SECRET", "STRATA_RUN_NOTICE_FD"};
    auto named = [](std::string_view kv, std::string_view name) {
      return kv.size() > name.size() && kv.substr(0, name.size()) == name && kv[name.size()] == '=';
    };
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
      std::string_view kv = *e;
      bool replaced = std::any_of(std::begin(kOwned), std::end(kOwned),
                                  [&](std::string_view k) { return named(kv, k); }) ||
                      std::any_of(opts_.exports.begin(), opts_.exports.end(),
                                  [&](const auto& x) { return named(kv, x.first); });
      if (!replaced) env.emplace_back(kv);
    }
    for (const auto& [name, value] : opts_.exports) {
      if (name == "STRATA_COMM_ID" || name == "STRATA_COMM_SECRET") continue;  // set below
      // A later -x of the same name wins.
      std::erase_if(env, [&](const std::string& kv) { return named(kv, name); });
      env.push_back(name + "=" + value);
    }
    env.push_back("STRATA_RUN_NOTICE_FD=" + std::to_string(noticeFd));
    env.push_back("STRATA_RANK=" + std::to_string(rank));
    env.push_back("STRATA_NRANKS=" + std::to_string(opts_.nranks));
    const long host = rank / opts_.ranksPerHost;
    const long firstOnHost = host * opts_.ranksPerHost;
    env.push_back("STRATA_LOCAL_RANK=" + std::to_string(rank - firstOnHost));
    env.push_back("STRATA_LOCAL_SIZE=" +
                  std::to_string(std::min(opts_.ranksPerHost, opts_.nranks - firstOnHost)));
    env.push_back("STRATA_COMM_ID=" + commId);
    env.push_back("STRATA_COMM_SECRET=" + secret);
    return env;
  }

  // Returns 0 or the errno of the failure.
  int spawnRank(int rank, const std::string& commId, const std::string& secret) {
    int outFds[2], errFds[2], noticeFds[2];
    if (::pipe2(outFds, O_CLOEXEC) != 0) return errno;
    Fd outRead(outFds[0]), outWrite(outFds[1]);
    if (::pipe2(errFds, O_CLOEXEC) != 0) return errno;
    Fd errRead(errFds[0]), errWrite(errFds[1]);
    // The rank reads what strata-run says about the other ranks (launcher_notice.h).
    if (::pipe2(noticeFds, O_CLOEXEC) != 0) return errno;
    Fd noticeRead(noticeFds[0]), noticeWrite(noticeFds[1]);

    std::vector<std::string> env = buildEnv(rank, commId, secret, noticeRead.get());
    std::vector<char*> envp, argv;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args;
    for (std::string word : opts_.rankPrefix) {
      replaceAll(word, "{rank}", std::to_string(rank));
      replaceAll(word, "{host}", std::to_string(rank / opts_.ranksPerHost));
      args.push_back(std::move(word));
    }
    args.insert(args.end(), opts_.command.begin(), opts_.command.end());
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, outWrite.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, errWrite.get(), 2);
    // Same descriptor: dup2 onto itself clears close-on-exec, for the rank only.
    posix_spawn_file_actions_adddup2(&actions, noticeRead.get(), noticeRead.get());

    // Each rank leads its own process group so that stopping a rank also stops whatever it
    // started (a shell wrapper, for one), and a terminal's Ctrl-C reaches the ranks only through
    // strata-run.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid = -1;
    int err;
    {
      const long local = rank % opts_.ranksPerHost;
      strata::run::ScopedAffinity pin(
          cores_.empty() ? nullptr : &cores_[static_cast<size_t>(local) % cores_.size()]);
      err = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) return err;

    Rank& r = ranks_[rank];
    r.pid = pid;
    ::fcntl(outRead.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(errRead.get(), F_SETFL, O_NONBLOCK);
    r.out[0].pipe = std::move(outRead);
    r.out[0].target = 1;
    r.out[1].pipe = std::move(errRead);
    r.out[1].target = 2;
    ::fcntl(noticeWrite.get(), F_SETFL, O_NONBLOCK);  // a rank that never reads cannot stall us
    r.notice = std::move(noticeWrite);
    return 0;
  }

  // Tells every rank still running that rank `ended` has ended, and how.
  void noticeExit(size_t ended, int status) {
    std::string line = "exit " + std::to_string(ended) + " " + describeStatus(status) + "\n";
    for (size_t i = 0; i < ranks_.size(); ++i) {
      Rank& r = ranks_[i];
      if (i == ended || !r.notice.valid() || r.reaped) continue;
      if (::write(r.notice.get(), line.data(), line.size()) < 0 && errno != EAGAIN)
        r.notice.reset();
    }
    ranks_[ended].notice.reset();
  }

  // Sends sig to the process group of every rank not reaped yet.
  void signalLive(int sig, bool markStopped) {
    for (Rank& r : ranks_) {
      if (r.pid <= 0 || r.reaped) continue;
      if (::kill(-r.pid, sig) != 0) ::kill(r.pid, sig);
      if (markStopped) r.stoppedByUs = true;
    }
  }

  void reapAll(bool block) {
    for (size_t i = 0; i < ranks_.size(); ++i) {
      Rank& r = ranks_[i];
      if (r.pid <= 0 || r.reaped) continue;
      int status = 0;
      pid_t got;
      do {
        got = ::waitpid(r.pid, &status, block ? 0 : WNOHANG);
      } while (got < 0 && errno == EINTR);
      if (got != r.pid) continue;
      r.reaped = true;
      r.status = status;
      noticeExit(i, status);
      if (failed(status) && !r.stoppedByUs) {
        failures_.push_back(static_cast<int>(i));
        if (!stopAt_ && !interrupted_) {
          stopAt_ = Clock::now() + milliseconds(opts_.graceMs);
          if (live() > 0) {
            std::fprintf(stderr, "strata-run: rank %zu %s; stopping the other ranks in %ld ms\n", i,
                         describeStatus(status).c_str(), opts_.graceMs);
          }
        }
      }
    }
  }

  size_t live() const {
    return static_cast<size_t>(std::count_if(ranks_.begin(), ranks_.end(),
                                             [](const Rank& r) { return r.pid > 0 && !r.reaped; }));
  }

  bool anyPipeOpen() const {
    for (const Rank& r : ranks_) {
      if (r.out[0].pipe.valid() || r.out[1].pipe.valid()) return true;
    }
    return false;
  }

  // Forwards the complete lines of stream (all of it at EOF) with the rank prefix.
  void forward(int rank, OutputStream& s, bool eof) {
    const std::string prefix = opts_.prefixOutput ? "[" + std::to_string(rank) + "] " : "";
    std::string batch;
    size_t start = 0;
    while (true) {
      size_t nl = s.partial.find('\n', start);
      if (nl == std::string::npos) break;
      batch += prefix;
      batch.append(s.partial, start, nl + 1 - start);
      start = nl + 1;
    }
    s.partial.erase(0, start);
    if (!s.partial.empty() && (eof || s.partial.size() >= kMaxLineBytes)) {
      batch += prefix + s.partial + "\n";
      s.partial.clear();
    }
    if (!batch.empty()) {
      bool& broken = s.target == 1 ? stdoutBroken_ : stderrBroken_;
      writeAll(s.target, batch, &broken);
    }
  }

  void readStream(int rank, OutputStream& s) {
    char buf[65536];
    while (true) {
      ssize_t n = ::read(s.pipe.get(), buf, sizeof(buf));
      if (n > 0) {
        s.partial.append(buf, static_cast<size_t>(n));
        forward(rank, s, false);
        if (static_cast<size_t>(n) < sizeof(buf)) return;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
      } else {
        forward(rank, s, true);
        s.pipe.reset();
        return;
      }
    }
  }

  void handleSignals() {
    unsigned char sigs[64];
    ssize_t n;
    while ((n = ::read(signalRead_.get(), sigs, sizeof(sigs))) > 0) {
      for (ssize_t i = 0; i < n; ++i) {
        int sig = sigs[i];
        if (sig == SIGCHLD) continue;  // reaped below in any case
        interrupted_ = true;
        if (++interrupts_ == 1) {
          signalLive(sig, true);
        } else {
          std::fprintf(stderr, "strata-run: signal %d again; killing the ranks\n", sig);
          signalLive(SIGKILL, true);
        }
      }
    }
  }

  static int msUntil(Clock::time_point t) {
    auto ms = std::chrono::duration_cast<milliseconds>(t - Clock::now()).count() + 1;
    return static_cast<int>(std::clamp<long long>(ms, 0, 60000));
  }

  void loop() {
    std::optional<Clock::time_point> drainUntil;
    std::vector<pollfd> pfds;
    std::vector<std::pair<int, int>> owners;  // (rank, stream) of each pollfd after the first
    while (true) {
      reapAll(false);
      if (live() == 0) {
        if (!anyPipeOpen()) break;
        if (!drainUntil) drainUntil = Clock::now() + kDrainAfterExit;
        if (Clock::now() >= *drainUntil) break;
      }
      auto now = Clock::now();
      if (stopAt_ && !termSent_ && now >= *stopAt_) {
        signalLive(SIGTERM, true);
        termSent_ = true;
        killAt_ = now + kTermToKill;
      }
      if (killAt_ && !killSent_ && now >= *killAt_) {
        signalLive(SIGKILL, true);
        killSent_ = true;
      }

      int timeout = -1;
      auto consider = [&](std::optional<Clock::time_point> t, bool done) {
        if (!t || done) return;
        int ms = msUntil(*t);
        timeout = timeout < 0 ? ms : std::min(timeout, ms);
      };
      consider(stopAt_, termSent_);
      consider(killAt_, killSent_);
      consider(drainUntil, false);

      pfds.clear();
      owners.clear();
      pfds.push_back({signalRead_.get(), POLLIN, 0});
      for (size_t i = 0; i < ranks_.size(); ++i) {
        for (int s = 0; s < 2; ++s) {
          if (!ranks_[i].out[s].pipe.valid()) continue;
          pfds.push_back({ranks_[i].out[s].pipe.get(), POLLIN, 0});
          owners.emplace_back(static_cast<int>(i), s);
        }
      }
      int ready = ::poll(pfds.data(), pfds.size(), timeout);
      if (ready < 0) {
        if (errno == EINTR) continue;
        std::fprintf(stderr, "strata-run: poll: %s\n", errnoText(errno).c_str());
        signalLive(SIGKILL, true);
        reapAll(true);
        break;
      }
      if (pfds[0].revents) handleSignals();
      for (size_t k = 1; k < pfds.size(); ++k) {
        if (!pfds[k].revents) continue;
        auto [rank, s] = owners[k - 1];
        readStream(rank, ranks_[rank].out[s]);
      }
    }
    // Whatever is still buffered from pipes held open past the drain window.
    for (size_t i = 0; i < ranks_.size(); ++i) {
      for (OutputStream& s : ranks_[i].out) {
        if (s.pipe.valid()) forward(static_cast<int>(i), s, true);
      }
    }
  }

  int report() {
    size_t nfailed = 0;
    for (const Rank& r : ranks_) nfailed += failed(r.status) ? 1 : 0;
    if (nfailed == 0) return 0;
    for (size_t i = 0; i < ranks_.size(); ++i) {
      const Rank& r = ranks_[i];
      if (!failed(r.status)) continue;
      std::string note = r.stoppedByUs && !interrupted_ ? " (stopped by strata-run)" : "";
      std::fprintf(stderr, "strata-run: rank %zu %s%s\n", i, describeStatus(r.status).c_str(),
                   note.c_str());
    }
    std::fprintf(stderr, "strata-run: %zu of %zu ranks failed\n", nfailed, ranks_.size());
    if (!failures_.empty()) return exitCodeOf(ranks_[failures_.front()].status);
    for (const Rank& r : ranks_) {
      if (failed(r.status)) return exitCodeOf(r.status);
    }
    return 1;
  }

  Options opts_;
  std::vector<Rank> ranks_;
  std::vector<cpu_set_t> cores_;  // --bind-to core: the cores ranks are pinned to
  Fd signalRead_, signalWrite_;
  std::vector<int> failures_;  // ranks that failed on their own, in the order they were reaped
  std::optional<Clock::time_point> stopAt_, killAt_;
  bool termSent_ = false, killSent_ = false;
  bool interrupted_ = false;
  int interrupts_ = 0;
  bool stdoutBroken_ = false, stderrBroken_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  Launcher launcher(strata::run::parseArgs(argc, argv));
  return launcher.run();
}
