#include "common/rank_blocks.h"

namespace strata::perf {

CallShape gatheredShape(size_t bytes, strataDataType_t type, int nranks) {
  const auto n = static_cast<size_t>(nranks);
  CallShape s;
  s.count = bytes / typeSize(type) / n;
  s.sendElems = s.count;
  s.recvElems = s.count * n;
  s.sendInPlaceOffset = s.count;  // in place: rank r's block of recvbuff is its input
  s.bytes = s.recvElems * typeSize(type);
  return s;
}

CallShape scatteredShape(size_t bytes, strataDataType_t type, int nranks) {
  const auto n = static_cast<size_t>(nranks);
  CallShape s;
  s.count = bytes / typeSize(type) / n;
  s.sendElems = s.count * n;
  s.recvElems = s.count;
  s.recvInPlaceOffset = s.count;  // in place: rank r's output lands on its block of sendbuff
  s.bytes = s.sendElems * typeSize(type);
  return s;
}

void fillRankBlocks(void* out, size_t count, const TestCase& tc, const ValueSpec& values,
                    size_t first) {
  auto* blocks = static_cast<char*>(out);
  const size_t blockBytes = count * typeSize(tc.type);
  for (int j = 0; j < tc.nranks; ++j)
    fillInput(blocks + static_cast<size_t>(j) * blockBytes, values, j, first, count);
}

}  // namespace strata::perf
