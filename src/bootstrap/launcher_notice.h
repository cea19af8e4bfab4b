// What the launcher tells a rank about the others. strata-run hands every rank the read end of a
// pipe (its descriptor in STRATA_RUN_NOTICE_FD) and writes one line to it for each rank that
// ends, however it ends: "exit <rank> <how>\n", e.g. "exit 1 exited with code 3". A rank waiting
// in the bootstrap for one that will never come learns it at once instead of at its deadline: the
// root rank 0 hosts fails the job when a rank that never joined has ended, and a rank connecting
// to rank 0's root gives up when rank 0 has ended.
#pragma once

#include <map>
#include <string>

namespace strata {

// The ranks the launcher says have ended, each with how ("exited with code 3", "was killed by
// signal 9 (Killed)"). Reads whatever the launcher wrote so far, without blocking; safe from any
// thread. Ranks are the launcher's (STRATA_RANK numbering).
std::map<int, std::string> launcherReportedExits();

// Whether this process has a launcher's notice pipe at all.
bool launcherNoticesAvailable();

// Whether notices apply to a communicator in which this process is `rank` of `nranks`: the
// launcher's pipe is here and its STRATA_RANK, STRATA_NRANKS say the same, so the communicator
// numbers its ranks as the launcher does.
bool launcherNoticesApply(int rank, int nranks);

}  // namespace strata
