// Bootstrap: the out-of-band channel ranks use to find each other and exchange small blobs
// (peer info, shared-memory names, split colors). Not a data path.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/deadline.h"
#include "base/status.h"

namespace strata {

class Rescue;

// How long a bootstrap operation may wait, and the flag that cuts it short.
struct BootstrapOptions {
  long timeoutMs = 300000;          // <= 0: no deadline
  const AbortFlag* abort = nullptr;  // may be null
};

class Bootstrap {
 public:
  virtual ~Bootstrap() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Every rank contributes a blob; every rank gets all blobs ordered by rank.
  virtual Result<std::vector<std::string>> allgather(const std::string& mine) = 0;

  // Point-to-point messages between ranks, matched by (source, tag) in order.
  virtual Status send(int peer, int tag, const std::string& data) = 0;
  virtual Result<std::string> recv(int peer, int tag) = 0;

  // Child bootstraps for communicator splits: one member makes an id, every member joins it.
  virtual Result<std::string> newChildId() = 0;
  virtual Result<std::unique_ptr<Bootstrap>> joinChild(const std::string& id, int rank,
                                                       int nranks) = 0;

  // Points later waits at a new abort flag (a child communicator's own, once it exists, so the
  // child never reads the flag of a parent destroyed before it).
  virtual void setAbortFlag(const AbortFlag* abort) = 0;

  // What lets the survivors regroup without the lost ranks (bootstrap/rescue.h), prepared while
  // every rank is there; null when this kind of bootstrap cannot.
  virtual Result<std::unique_ptr<Rescue>> openRescue();

  // Returns once every rank has called it.
  Status barrier();
  // Returns root's data on every rank.
  Result<std::string> bcast(const std::string& data, int root);
};

}  // namespace strata
