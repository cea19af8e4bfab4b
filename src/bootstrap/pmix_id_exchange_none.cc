// Built when PMIx is not (see pmix_id_exchange.h).
#include "bootstrap/pmix_id_exchange.h"

namespace strata {

bool pmixBuilt() { return false; }

bool pmixServerInEnvironment() { return false; }

Result<strataUniqueId> shareUniqueIdOverPmix(int, const std::function<Result<strataUniqueId>()>&,
                                             long) {
  return makeError(strataInvalidArgument,
                   "this library was built without PMIx (install libpmix-dev and rebuild, or set "
                   "STRATA_COMM_ID=host:port of rank 0)");
}

}  // namespace strata
