// One rank of a fault test, started by fault_test.cc. Uses the public C API only. Modes:
//   cloexec      after init and an AllReduce, every descriptor the library opened must be
//                close-on-exec (the flags in /proc/self/fdinfo); prints "OK rank R", exits 0
//   init         init, one AllReduce, Finalize and Destroy; prints "OK rank R", exits 0
//   loop KIND    after one call of collective KIND (allreduce, broadcast, reduce, allgather,
//                allgatherv, reducescatter, alltoall, alltoallv, sendrecv, barrier), prints
//                READY and repeats it until one fails; prints the result's name and the last
//                error and exits with 10 + its code (after strataCommAbort)
//   finalize-wait R  rank R idles after READY; the others call Finalize and report its result
//   destroy-queued R rank R idles after READY; the others queue an AllReduce on a stream (which
//                needs rank R), then call strataCommDestroy, which waits for it; they report
//                Destroy's result and the queued call's (strataStreamSynchronize), and exit
//                with 10 + the queued call's code (1 when Destroy failed)
//   abort-thread rank 0 blocks in an AllReduce rank 1 never joins and another thread aborts;
//                exits with 10 + what the AllReduce returned
//   cycles       communicators split off, used, then destroyed or aborted, six times: no
//                segment stays named, no descriptor leaks; prints "OK rank R"
//   fork-exec R  rank R starts a child that execs sleep(1) and waits to be killed; the others
//                call strataCommFinalize, whose barrier goes through the bootstrap root that
//                rank 0 hosts; they print the result's name and exit with 10 + its code
//   mismatch     under STRATA_CHECK=1, an AllReduce whose count differs on the last rank: every
//                rank must get strataInvalidUsage (printed as "REFUSED rank R: message"), then
//                an AllReduce with agreeing counts must succeed; prints "OK rank R"
//   shrink K     AllReduces until one fails (rank K is killed after READY); prints "LOST rank R:"
//                and what it returned, shrinks with STRATA_SHRINK_ABORT excluding K, checks its
//                new rank and size and an AllReduce on the new communicator; prints
//                "SHRUNK rank R -> r of n" and "OK rank R", exits 0
// Each mode prints "READY rank R" once the harness may inject its fault. A failed check prints
// "FAIL rank R: ..." and exits 1.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "proc_counts.h"
#include "strata/strata.h"
#include "worker_report.h"

namespace {

using namespace strata::worker;

[[noreturn]] void exitWithResult(strataResult_t r, const char* what);

// faultExpected: a failed init is the expected outcome of a fault, reported like a failed call.
void initComm(bool faultExpected = false) {
  strataResult_t r = strataCommInitFromEnv(&g_comm, nullptr);
  if (faultExpected && r != strataSuccess) exitWithResult(r, "CommInitFromEnv");
  ok(r, "CommInitFromEnv");
  ok(strataCommUserRank(g_comm, &g_rank), "CommUserRank");
  ok(strataCommCount(g_comm, &g_nranks), "CommCount");
}

void ready() {
  std::printf("READY rank %d\n", g_rank);
  std::fflush(stdout);
}

// "RETURNED_AT <steady ns>": when the call under test returned. The steady clock is the
// machine's monotonic clock, which the harness reads too: it times the return itself, not the
// exit (a process hosting a bootstrap root lingers at exit while the root still serves a rank, a
// stopped one say).
void printReturnTime() {
  std::printf("RETURNED_AT %lld\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now().time_since_epoch())
                                         .count()));
}

// Prints what a failed call returned and exits with 10 + its code; exits 1 if it succeeded.
[[noreturn]] void exitWithResult(strataResult_t r, const char* what) {
  if (r == strataSuccess) fail("%s succeeded although a peer was lost", what);
  printReturnTime();
  std::printf("rank %d: %s returned %s: %s\n", g_rank, what, resultName(r),
              strataGetLastError(g_comm));
  std::fflush(stdout);
  if (g_comm != nullptr) strataCommAbort(g_comm);
  std::exit(10 + static_cast<int>(r));
}

void allReduceOnce() {
  std::vector<float> x(1024, 1.0f);
  ok(strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, g_comm, nullptr),
     "AllReduce");
  if (x[0] != static_cast<float>(g_nranks)) fail("AllReduce gave %g, expected %d", x[0], g_nranks);
}

// The "flags:" field of /proc/self/fdinfo/FD (octal), or -1 once the descriptor is gone.
long fdFlags(int fd) {
  const std::string path = "/proc/self/fdinfo/" + std::to_string(fd);
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return -1;
  char line[256];
  long flags = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "flags:", 6) == 0) flags = std::strtol(line + 6, nullptr, 8);
  std::fclose(f);
  return flags;
}

std::string fdTarget(int fd) {
  char buf[512] = {};
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
}

int runCloexec() {
  const std::set<int> before = openFds();
  initComm();
  allReduceOnce();
  ok(strataBarrier(g_comm, nullptr), "Barrier");
  constexpr long kCloexec = 02000000;  // O_CLOEXEC as fdinfo shows it
  int checked = 0;
  std::string leaks;
  for (int fd : openFds()) {
    if (fd <= 2 || before.count(fd)) continue;
    long flags = fdFlags(fd);
    if (flags < 0) continue;  // closed meanwhile by a library thread
    ++checked;
    if ((flags & kCloexec) == 0)
      leaks += " " + std::to_string(fd) + " (" + fdTarget(fd) + ", flags 0" +
               std::to_string(flags) + ")";
  }
  if (!leaks.empty()) fail("descriptors without close-on-exec after init:%s", leaks.c_str());
  if (checked == 0) fail("init opened no descriptor: nothing was checked");
  std::printf("rank %d: %d descriptors opened by the library, all close-on-exec\n", g_rank,
              checked);
  ok(strataCommFinalize(g_comm), "CommFinalize");
  ok(strataCommDestroy(g_comm), "CommDestroy");
  std::printf("OK rank %d\n", g_rank);
  return 0;
}

int runInit() {
  initComm();
  allReduceOnce();
  ok(strataCommFinalize(g_comm), "CommFinalize");
  ok(strataCommDestroy(g_comm), "CommDestroy");
  std::printf("OK rank %d\n", g_rank);
  return 0;
}

int runForkExec(int forker) {
  initComm();
  allReduceOnce();
  if (g_rank == forker) {
    pid_t child = fork();
    if (child < 0) fail("fork: %s", std::strerror(errno));
    if (child == 0) {
      // Not the harness's output pipe: only the library's descriptors are under test.
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
      _exit(127);
    }
    std::printf("CHILD %d\n", static_cast<int>(child));
    ready();
    for (;;) pause();
  }
  ready();
  exitWithResult(strataCommFinalize(g_comm), "CommFinalize");
}

// Buffers for one call of every kind: counts per rank of 64K floats (a few chunks of each
// transport, so a fault lands mid-call), all-ones so any result is checkable.
struct Buffers {
  explicit Buffers(int nranks)
      : n(static_cast<size_t>(nranks)),
        send(kCount * n, 1.0f),
        recv(kCount * n, 0.0f),
        counts(n, kCount),
        displs(n) {
    for (size_t r = 0; r < n; ++r) displs[r] = r * kCount;
  }
  static constexpr size_t kCount = 64 * 1024;
  size_t n;
  std::vector<float> send, recv;
  std::vector<size_t> counts, displs;
};

strataResult_t callOnce(const std::string& kind, Buffers& b) {
  float* s = b.send.data();
  float* r = b.recv.data();
  const size_t c = Buffers::kCount;
  if (kind == "allreduce") return strataAllReduce(s, r, c, strataFloat32, strataSum, g_comm, nullptr);
  if (kind == "broadcast") return strataBroadcast(s, r, c, strataFloat32, 0, g_comm, nullptr);
  if (kind == "reduce") return strataReduce(s, r, c, strataFloat32, strataSum, 0, g_comm, nullptr);
  if (kind == "allgather") return strataAllGather(s, r, c, strataFloat32, g_comm, nullptr);
  if (kind == "allgatherv")
    return strataAllGatherv(s, c, r, b.counts.data(), b.displs.data(), strataFloat32, g_comm,
                            nullptr);
  if (kind == "reducescatter")
    return strataReduceScatter(s, r, c, strataFloat32, strataSum, g_comm, nullptr);
  if (kind == "alltoall") return strataAllToAll(s, r, c, strataFloat32, g_comm, nullptr);
  if (kind == "alltoallv")
    return strataAllToAllv(s, b.counts.data(), b.displs.data(), r, b.counts.data(),
                           b.displs.data(), strataFloat32, g_comm, nullptr);
  if (kind == "sendrecv") {
    const int next = (g_rank + 1) % g_nranks, prev = (g_rank + g_nranks - 1) % g_nranks;
    strataResult_t res = strataGroupStart();
    if (res != strataSuccess) return res;
    strataResult_t sent = strataSend(s, c, strataFloat32, next, g_comm, nullptr);
    strataResult_t got = strataRecv(r, c, strataFloat32, prev, g_comm, nullptr);
    res = strataGroupEnd();
    return sent != strataSuccess ? sent : got != strataSuccess ? got : res;
  }
  if (kind == "barrier") return strataBarrier(g_comm, nullptr);
  fail("unknown collective kind '%s'", kind.c_str());
}

int runLoop(const std::string& kind) {
  initComm(/*faultExpected=*/true);
  Buffers b(g_nranks);
  ok(callOnce(kind, b), kind.c_str());
  ready();
  for (long iter = 1; iter <= 100000000; ++iter) {
    strataResult_t r = callOnce(kind, b);
    if (r != strataSuccess) exitWithResult(r, kind.c_str());
  }
  fail("no %s failed", kind.c_str());
}

// Rank `idle` waits (never calling Finalize); the others call Finalize, whose barrier needs it.
int runFinalizeWait(int idle) {
  initComm();
  allReduceOnce();
  ready();
  if (g_rank == idle)
    for (;;) pause();
  exitWithResult(strataCommFinalize(g_comm), "CommFinalize");
}

// Rank `idle` waits; the others destroy the communicator while an AllReduce that needs it is
// still queued on a stream: Destroy waits for the call, which ends once `idle` is lost.
int runDestroyQueued(int idle) {
  initComm();
  allReduceOnce();
  if (g_rank == idle) {
    ready();
    for (;;) pause();
  }
  strataStream_t stream = nullptr;
  ok(strataStreamCreate(&stream), "StreamCreate");
  std::vector<float> x(64 * 1024, 1.0f);
  ok(strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, g_comm, stream),
     "AllReduce (queued)");
  ready();
  const strataResult_t destroyed = strataCommDestroy(g_comm);
  g_comm = nullptr;
  const strataResult_t queued = strataStreamSynchronize(stream);
  printReturnTime();
  std::printf("rank %d: CommDestroy returned %s; the queued AllReduce returned %s: %s\n", g_rank,
              resultName(destroyed), resultName(queued), strataGetLastError(nullptr));
  std::fflush(stdout);
  std::exit(destroyed == strataSuccess ? 10 + static_cast<int>(queued) : 1);
}

// Rank 0 blocks in an AllReduce that rank 1 never joins; another thread aborts the communicator.
// The AllReduce must return (strataRemoteError), whatever the deadline.
int runAbortThread() {
  initComm();
  allReduceOnce();
  ready();
  if (g_rank != 0)
    for (;;) pause();
  std::atomic<bool> calling{false};
  std::thread aborter([&] {
    while (!calling.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the call settle in its wait
    std::printf("rank 0: aborting from another thread\n");
    std::fflush(stdout);
    strataCommAbort(g_comm);
  });
  std::vector<float> x(1024, 1.0f);
  calling.store(true);
  strataResult_t r =
      strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, g_comm, nullptr);
  aborter.join();
  g_comm = nullptr;  // freed by the abort
  std::printf("rank 0: AllReduce returned %s after the abort\n", resultName(r));
  std::fflush(stdout);
  return 10 + static_cast<int>(r);
}

size_t countSegmentsOfThisProcess() {
  const std::string prefix = "strata-" + std::to_string(getpid()) + "-";
  size_t n = 0;
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d)) n += std::string(e->d_name).rfind(prefix, 0) == 0 ? 1 : 0;
    closedir(d);
  }
  return n;
}

// Communicators split from one parent, used, then finalized and destroyed or aborted, over and
// over: no shared-memory segment of this process stays named and the descriptor count does not
// grow. Rank 0, which hosts each child's bootstrap root, may keep one finished root's event loop
// (3 descriptors) until the next child reaps it.
int runCycles() {
  initComm();
  size_t fdsAfterWarmup = 0;
  for (int cycle = 1; cycle <= 6; ++cycle) {
    strataComm_t child = nullptr;
    ok(strataCommSplit(g_comm, 0, g_rank, &child, nullptr), "CommSplit");
    std::vector<float> x(64 * 1024, 1.0f);
    strataResult_t r =
        strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, child, nullptr);
    if (r != strataSuccess) fail("AllReduce on child %d: %s", cycle, strataGetLastError(child));
    // Every rank is done with the child before any aborts it (an abort ends peers' calls).
    ok(strataBarrier(g_comm, nullptr), "Barrier");
    if (cycle % 2 == 0) {
      ok(strataCommAbort(child), "CommAbort");
    } else {
      ok(strataCommFinalize(child), "CommFinalize");
      ok(strataCommDestroy(child), "CommDestroy");
    }
    ok(strataBarrier(g_comm, nullptr), "Barrier");
    if (size_t segs = countSegmentsOfThisProcess(); segs != 0)
      fail("%zu shared-memory segments of this process still named after cycle %d", segs, cycle);
    size_t fds = openFds().size();
    if (cycle == 2) fdsAfterWarmup = fds;
    const size_t slack = g_rank == 0 ? 3 : 0;
    // Rank 0 hosts the children's bootstrap roots, whose threads close the peers' connections
    // once those ranks have left, after this rank's destroy has returned: a descriptor still
    // being closed goes within moments, a leaked one never does.
    for (int look = 0; cycle > 2 && fds > fdsAfterWarmup + slack && look < 300; ++look) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      fds = openFds().size();
    }
    if (cycle > 2 && fds > fdsAfterWarmup + slack)
      fail("%zu descriptors open after cycle %d, %zu after cycle 2", fds, cycle, fdsAfterWarmup);
  }
  ok(strataCommFinalize(g_comm), "CommFinalize");
  ok(strataCommDestroy(g_comm), "CommDestroy");
  if (size_t segs = countSegmentsOfThisProcess(); segs != 0)
    fail("%zu shared-memory segments of this process still named after destroy", segs);
  std::printf("OK rank %d\n", g_rank);
  return 0;
}

int runMismatch() {
  initComm();
  std::vector<float> x(1024, 1.0f);
  const size_t count = g_rank == g_nranks - 1 ? 512 : 1024;
  const strataResult_t r =
      strataAllReduce(x.data(), x.data(), count, strataFloat32, strataSum, g_comm, nullptr);
  if (r != strataInvalidUsage)
    fail("mismatched AllReduce returned %s: %s", resultName(r), strataGetLastError(g_comm));
  std::printf("REFUSED rank %d: %s\n", g_rank, strataGetLastError(g_comm));
  allReduceOnce();
  ok(strataCommFinalize(g_comm), "CommFinalize");
  ok(strataCommDestroy(g_comm), "CommDestroy");
  std::printf("OK rank %d\n", g_rank);
  return 0;
}

int runShrink(int lost) {
  initComm();
  std::vector<float> x(64 * 1024, 1.0f);
  ok(strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, g_comm, nullptr),
     "AllReduce");
  ready();
  strataResult_t r = strataSuccess;
  while (r == strataSuccess)
    r = strataAllReduce(x.data(), x.data(), x.size(), strataFloat32, strataSum, g_comm, nullptr);
  std::printf("LOST rank %d: AllReduce returned %s: %s\n", g_rank, resultName(r),
              strataGetLastError(g_comm));
  if (r != strataRemoteError && r != strataTimeout) fail("AllReduce returned %s", resultName(r));
  strataComm_t shrunk = nullptr;
  const int exclude[1] = {lost};
  ok(strataCommShrink(g_comm, exclude, 1, &shrunk, nullptr, STRATA_SHRINK_ABORT), "CommShrink");
  int rank = -1, n = 0;
  ok(strataCommUserRank(shrunk, &rank), "CommUserRank (shrunk)");
  ok(strataCommCount(shrunk, &n), "CommCount (shrunk)");
  const int expected = g_rank < lost ? g_rank : g_rank - 1;
  if (n != g_nranks - 1 || rank != expected)
    fail("shrunk communicator: rank %d of %d, expected %d of %d", rank, n, expected, g_nranks - 1);
  std::printf("SHRUNK rank %d -> %d of %d\n", g_rank, rank, n);
  for (int round = 0; round < 3; ++round) {
    std::vector<float> y(4096, static_cast<float>(rank + 1));
    ok(strataAllReduce(y.data(), y.data(), y.size(), strataFloat32, strataSum, shrunk, nullptr),
       "AllReduce (shrunk)");
    const float want = static_cast<float>(n * (n + 1) / 2);
    if (y[0] != want || y[4095] != want) fail("shrunk AllReduce gave %g, expected %g", y[0], want);
  }
  ok(strataCommDestroy(shrunk), "CommDestroy (shrunk)");
  ok(strataCommAbort(g_comm), "CommAbort (old)");
  g_comm = nullptr;
  std::printf("OK rank %d\n", g_rank);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "cloexec") return runCloexec();
  if (mode == "init") return runInit();
  if (mode == "loop" && argc == 3) return runLoop(argv[2]);
  if (mode == "finalize-wait" && argc == 3) return runFinalizeWait(std::atoi(argv[2]));
  if (mode == "destroy-queued" && argc == 3) return runDestroyQueued(std::atoi(argv[2]));
  if (mode == "abort-thread") return runAbortThread();
  if (mode == "cycles") return runCycles();
  if (mode == "mismatch") return runMismatch();
  if (mode == "shrink" && argc == 3) return runShrink(std::atoi(argv[2]));
  if (mode == "fork-exec" && argc == 3) return runForkExec(std::atoi(argv[2]));
  std::fprintf(stderr, "usage: %s cloexec | init | loop KIND | fork-exec R | finalize-wait R | destroy-queued R | abort-thread | cycles\n", argv[0]);
  return 2;
}
