// Whether a peer process on this host is still running.
#pragma once

namespace strata {

enum class ProcessState {
  kRunning,  // running or sleeping: it can make progress
  kStopped,  // stopped by a signal (SIGSTOP, SIGTSTP) or a debugger: alive but stuck
  kExited,   // gone, a zombie, or dead
};

// From /proc/<pid>/stat. A SIGKILLed process stays a zombie until its parent reaps it, so
// kill(pid, 0) alone would still call it alive. pid <= 0 counts as exited; an unreadable state
// as running.
ProcessState processState(int pid);

// processState(pid) == kExited.
bool processExited(int pid);

}  // namespace strata
