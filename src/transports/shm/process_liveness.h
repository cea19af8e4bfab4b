// Whether a peer process on this host is still running.
#pragma once

namespace strata {

// True when pid no longer runs: /proc/<pid>/stat is missing, or its state is Z (zombie) or X
// (dead). A SIGKILLed process stays a zombie until its parent reaps it, so kill(pid, 0) alone
// would still call it alive. pid <= 0 counts as exited.
bool processExited(int pid);

}  // namespace strata
