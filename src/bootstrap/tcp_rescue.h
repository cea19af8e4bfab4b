// The TCP bootstrap's Rescue (bootstrap/rescue.h): a listener opened at init on `local` (the
// address this rank reaches its root from; port 0) and a random token.
//
// Rendezvous, one connection per survivor to the lowest survivor's listener:
//   survivor -> host  "strata-rescue/1 <host's token> <survivors, e.g. 0,2,3> <old rank>\n"
//   host -> survivor  "ok <new bootstrap id, hex>\n"  or  "error <why>\n"
// A connection without the host's token is closed unanswered (only members of the communicator
// learned it, through its authenticated bootstrap). The new id carries a new secret.
#pragma once

#include <memory>

#include "bootstrap/rescue.h"
#include "bootstrap/unique_id.h"

namespace strata {

Result<std::unique_ptr<Rescue>> openTcpRescue(const SockAddr& local);

}  // namespace strata
