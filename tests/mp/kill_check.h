// How worker ranks ended: the checks the multi-process tests make, over whatever transport the
// ranks use.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "worker_group.h"

namespace strata::mptest {

// True when a wait status says the process exited with `code`.
bool exitedWith(int status, int code);

// Every rank exited 0 after printing "OK rank R"; one failure message with all the output.
void expectAllSucceeded(const WorkerGroup& group);

// Waits for every started rank until `deadline` and expects all to have succeeded
// (expectAllSucceeded).
void waitExpectingSuccess(WorkerGroup& group, Clock::time_point deadline);

// Starts every rank of `group` with `args` and a library timeout of timeoutMs (a hang fails with
// a message), then waitExpectingSuccess.
void runExpectingSuccess(WorkerGroup& group, const std::vector<std::string>& args,
                         Clock::time_point deadline, const std::string& timeoutMs = "60000");

// Once every rank printed READY (before `deadline`) and ran a little longer, SIGKILLs `victim`,
// keeping it a zombie as a crashed peer is until reaped. Then expects every other rank to exit
// with strataRemoteError or strataTimeout (codes 10 + result) within `limit` of the kill, and
// the victim to have died of the signal.
void expectSurvivorsFailAfterKill(WorkerGroup& group, int victim, Clock::time_point deadline,
                                  std::chrono::milliseconds limit);

// Starts `nranks` ranks of `worker` with `args` and a 60 s library timeout, so that only a
// detected death can end the survivors' waits in time; SIGKILLs `victim` mid-loop
// (expectSurvivorsFailAfterKill, 10 s limit) and expects every survivor to exit with
// strataRemoteError and a message naming the victim.
void expectKilledRankNamed(const char* worker, int nranks, int victim,
                           const std::vector<std::string>& args);

}  // namespace strata::mptest
