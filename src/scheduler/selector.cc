#include "scheduler/selector.h"

#include "base/logging.h"

namespace strata {

Result<const Algorithm*> selectAlgorithm(const CollArgs& args, const CommShape& shape,
                                         const TuneTable& tune) {
  const size_t bytes = args.messageBytes(shape.nranks);
  const std::string pinned = tune.lookup(args.coll, bytes);
  if (!pinned.empty()) {
    const Algorithm* a = findAlgorithm(args.coll, pinned);
    if (!a || !a->supports(args, shape)) {
      return makeError(strataInvalidArgument, "%s: pinned algorithm '%s' does not support %zu bytes on %d ranks",
                       collName(args.coll), pinned.c_str(), bytes, shape.nranks);
    }
    return a;
  }
  const Algorithm* best = nullptr;
  double bestCost = 0;
  // Direct algorithms (buffers in registered windows) are preferred whenever one is eligible.
  for (const bool direct : {true, false}) {
    if (direct && !args.windowed) continue;
    for (const Algorithm* a : algorithmRegistry()) {
      if (a->coll() != args.coll || a->direct() != direct || !a->supports(args, shape)) continue;
      const double c = a->estimate(args, shape);
      if (!best || c < bestCost) {
        best = a;
        bestCost = c;
      }
    }
    if (best) break;
  }
  if (!best) {
    return makeError(strataInternalError, "%s: no algorithm supports this call",
                     collName(args.coll));
  }
  return best;
}

}  // namespace strata
