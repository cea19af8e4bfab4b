// Rescue: how the survivors of a communicator meet again once ranks are gone (strataCommShrink),
// when the communicator's own bootstrap may be gone with them: the TCP root lives in rank 0's
// process, and it fails every later operation once any rank is lost.
//
// Every rank prepares one at init, while every rank is still there, and its blob reaches every
// other rank through the init allgather. To regroup, the survivors name the same list of
// surviving old ranks; the lowest of them hosts a fresh bootstrap and the others learn its id
// from that rank alone, so nothing of a lost rank (nor of the old root) is needed:
//  - TCP: from init on, each rank listens on the interface it reaches its root through (no
//    thread: the kernel queues connections until a shrink accepts them); its blob is that
//    address and a random 128-bit token. The lowest survivor starts a new root with a new secret
//    and hands its id to every survivor that connects with the token and the same survivor list.
//  - in-process (ranks as threads): the new group's id is derived from the lowest survivor's
//    token and the survivor list.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bootstrap/bootstrap.h"

namespace strata {

class Rescue {
 public:
  virtual ~Rescue() = default;

  // What the other ranks must know of this rank's rescue (exchanged at init).
  virtual std::string blob() const = 0;

  // The bootstrap of the survivors: `blobs` holds every old rank's blob, `survivors` the old
  // ranks that go on (ascending, `me` among them); this rank is rank index-of-me of the new one.
  // Every survivor must call it with the same list; a survivor that names another list fails,
  // and so does the lowest survivor, naming both lists.
  virtual Result<std::unique_ptr<Bootstrap>> regroup(const std::vector<std::string>& blobs,
                                                     const std::vector<int>& survivors, int me,
                                                     const BootstrapOptions& opts) = 0;
};

// "0,1,3", for messages and the rendezvous.
std::string rankListString(const std::vector<int>& ranks);

}  // namespace strata
