// strata-info status PID: asks a running Strata process what each of its communicators is doing
// (SIGUSR1, docs/errors.md) and prints the report the process appends to its status file. Only
// a process that catches SIGUSR1 is signalled (SIGUSR1's default action would end any other).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include "base/status_signal.h"
#include "commands.h"

namespace strata::info {
namespace {

// Whether process pid catches SIGUSR1, from the SigCgt mask of /proc/PID/status; false when the
// process does not exist or cannot be read.
bool catchesSigusr1(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("SigCgt:", 0) != 0) continue;
    const uint64_t mask = std::strtoull(line.c_str() + 7, nullptr, 16);
    return (mask >> (SIGUSR1 - 1)) & 1;
  }
  return false;
}

off_t sizeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

int showStatus(long pid, int waitMs) {
  if (pid <= 0) {
    std::fprintf(stderr, "strata-info status: %ld is not a process id\n", pid);
    return 2;
  }
  if (::kill(static_cast<pid_t>(pid), 0) != 0) {
    std::fprintf(stderr, "strata-info status: process %ld: %s\n", pid,
                 errno == ESRCH ? "no such process" : std::strerror(errno));
    return 1;
  }
  if (!catchesSigusr1(pid)) {
    std::fprintf(stderr,
                 "strata-info status: process %ld does not catch SIGUSR1 (not a Strata process, "
                 "no communicator yet, or STRATA_SIGUSR1=0): not signalled, since SIGUSR1 would "
                 "end it\n",
                 pid);
    return 1;
  }
  // Only this request's reports: what an earlier request left is removed first.
  const std::string path = statusFilePath(pid);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    std::fprintf(stderr, "strata-info status: cannot remove the old %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  if (::kill(static_cast<pid_t>(pid), SIGUSR1) != 0) {
    std::fprintf(stderr, "strata-info status: cannot signal process %ld: %s\n", pid,
                 std::strerror(errno));
    return 1;
  }
  // Each communicator reports within about a millisecond of its next idle pass; the report is
  // complete once the file has stopped growing for a while.
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(waitMs);
  off_t last = 0;
  auto steadySince = Clock::now();
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const off_t now = sizeOf(path);
    if (now != last) {
      last = now;
      steadySince = Clock::now();
    } else if (now > 0 && Clock::now() - steadySince > std::chrono::milliseconds(300)) {
      break;
    }
  }
  std::ifstream in(path);
  const std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(path.c_str());
  if (report.empty()) {
    std::fprintf(stderr, "strata-info status: process %ld wrote no report within %d ms\n", pid,
                 waitMs);
    return 1;
  }
  std::fwrite(report.data(), 1, report.size(), stdout);
  return 0;
}

}  // namespace

void addStatusCommand(CLI::App& app, int* rc) {
  struct StatusOptions {
    long pid = 0;
    int waitMs = 2000;
  };
  auto o = std::make_shared<StatusOptions>();
  auto* cmd = app.add_subcommand(
      "status", "What each communicator of a running Strata process is doing (SIGUSR1)");
  cmd->add_option("pid", o->pid, "The process")->required();
  cmd->add_option("--wait-ms", o->waitMs, "How long to wait for the report")
      ->check(CLI::Range(1, 600000));
  cmd->callback([o, rc] { *rc = showStatus(o->pid, o->waitMs); });
}

}  // namespace strata::info
