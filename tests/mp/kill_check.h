// The check every "kill a rank mid-collective" test makes, over whatever transport the ranks use.
#pragma once

#include <chrono>

#include "worker_group.h"

namespace strata::mptest {

// True when a wait status says the process exited with `code`.
bool exitedWith(int status, int code);

// Once every rank printed READY (before `deadline`) and ran a little longer, SIGKILLs `victim`,
// keeping it a zombie as a crashed peer is until reaped. Then expects every other rank to exit
// with strataRemoteError or strataTimeout (codes 10 + result) within `limit` of the kill, and
// the victim to have died of the signal.
void expectSurvivorsFailAfterKill(WorkerGroup& group, int victim, Clock::time_point deadline,
                                  std::chrono::milliseconds limit);

}  // namespace strata::mptest
