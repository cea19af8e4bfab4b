// The TCP bootstrap's root: one listener per communicator that every rank connects to (a star).
// It relays allgathers and point-to-point messages, and tells every rank when one of them dies.
//
// A root runs on its own thread with a Boost.Asio io_context and lives in a process-wide
// registry until all its ranks have joined and left (BYE or disconnect), so a root created by
// strataGetUniqueId outlives that call; one whose ranks never all arrive stays until process
// exit, telling late ranks why the job failed. At process exit, roots that still serve ranks get a
// short grace period to deliver what they hold, then every root thread is stopped and joined.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "bootstrap/unique_id.h"
#include "base/status.h"

namespace strata {

struct TcpRootOptions {
  SockAddr bind;                    // port 0: an ephemeral port
  BootstrapSecret secret{};         // every hello must carry it
  bool fallbackToWildcard = false;  // bind the wildcard address when `bind` is not local
  long helloTimeoutMs = 5000;       // a connection must say hello within this time
  // Connections that have not proved the secret yet, past which the oldest is closed (after a
  // BUSY frame) to make room; 0: 1024, or a quarter of the descriptor limit when lower.
  size_t maxUnauthenticated = 0;
  // The root of the launcher's job (ranks numbered as the launcher numbers them): a rank the
  // launcher reports ended before joining fails the job at once (launcher_notice.h).
  bool watchLauncher = false;
};

// Starts a root listening on opts.bind and returns the address it listens on (port filled in).
Result<SockAddr> startTcpRoot(const TcpRootOptions& opts);

// What a root in this process is still waiting for, for the timeout messages of the ranks in the
// process that hosts it.
struct TcpRootProgress {
  int nranks = 0;                // 0: no rank has said hello yet
  std::vector<int> notJoined;    // ranks that never said hello
  std::vector<int> behindRound;  // joined ranks that have not sent allgather round `round`
};
// The root of this process listening on `port`, seen when this rank's allgather round `round`
// (or its connect, round < 0) gave up; nothing when no such root lives here.
std::optional<TcpRootProgress> tcpRootProgress(uint16_t port, long long round);

// Roots of this process still serving (threads of finished roots are joined here).
size_t liveTcpRootCount();

}  // namespace strata
