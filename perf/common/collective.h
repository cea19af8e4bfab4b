// What a perf tool measures: one collective, described the way nccl-tests describes its tests —
// buffer layout per message size, bus-bandwidth factor, inputs, expected outputs, and the call.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/datatypes.h"
#include "common/seeded_values.h"
#include "strata/strata.h"

namespace CLI {
class App;
}

namespace strata::perf {

struct PerfOptions;

// One rank's part of one test case.
struct TestCase {
  strataDataType_t type = strataFloat32;
  strataRedOp_t op = strataSum;  // strataSum for collectives that do not reduce
  int root = -1;                 // -1 for collectives without a root
  int rank = 0;
  int nranks = 1;
};

// The buffers of one call for a message size, as nccl-tests lays them out. Counts in elements.
struct CallShape {
  size_t count = 0;              // the count argument of the call: the "count" column
  size_t bytes = 0;              // the "size" column; algbw is bytes / time
  size_t sendElems = 0;          // read from sendbuff
  size_t recvElems = 0;          // written to recvbuff: the region the check compares
  size_t sendInPlaceOffset = 0;  // in place, sendbuff = recvbuff + rank * sendInPlaceOffset
  size_t recvInPlaceOffset = 0;  // in place, the output is at recvbuff + rank * recvInPlaceOffset
  // AllToAllv only: this rank's counts and displacements, and for every source rank the offset
  // in that rank's sendbuff of the block it sends here.
  std::vector<size_t> sendcounts, sdispls, recvcounts, rdispls, sourceOffsets;

  // Elements of the single buffer an in-place call uses.
  size_t inPlaceElems(int rank) const {
    const auto r = static_cast<size_t>(rank);
    return std::max(r * sendInPlaceOffset + sendElems, r * recvInPlaceOffset + recvElems);
  }
};

class Collective {
 public:
  virtual ~Collective() = default;

  // "AllReduce", as printed in the header and the JSON file.
  virtual const char* name() const = 0;
  virtual bool reduces() const { return false; }
  virtual bool rooted() const { return false; }
  // False when the in-place variant has no defined result; its #wrong column shows N/A.
  virtual bool checksInPlace() const { return true; }
  virtual double busBwFactor(int nranks) const = 0;
  // The collective as tune strings and strataSimTimingOnly name it ("allgather"); nullptr when
  // it has no timing-only evaluation (--timing-only is then a usage error).
  virtual const char* simKey() const { return nullptr; }

  // By default one buffer of count elements in and one out (AllReduce, Broadcast, Reduce,
  // SendRecv); collectives whose buffers differ by rank count or rank override it.
  virtual CallShape shape(size_t bytes, strataDataType_t type, int /*rank*/,
                          int /*nranks*/) const {
    CallShape s;
    s.count = bytes / typeSize(type);
    s.sendElems = s.recvElems = s.count;
    s.bytes = s.count * typeSize(type);
    return s;
  }

  // Writes this rank's input, shape.sendElems elements, at send.
  virtual void fillInput(void* send, const CallShape& shape, const TestCase& tc,
                         const ValueSpec& values) const {
    perf::fillInput(send, values, tc.rank, 0, shape.sendElems);
  }

  // Writes the shape.recvElems elements the output must hold. The receive buffer was zeroed
  // before the inputs were written.
  virtual void fillExpected(void* expected, const CallShape& shape, const TestCase& tc,
                            const ValueSpec& values, bool inPlace) const = 0;

  virtual strataResult_t run(const void* send, void* recv, const CallShape& shape,
                             const TestCase& tc, strataComm_t comm,
                             strataStream_t stream) const = 0;

  // The number of wrong elements among shape.recvElems of got against expected: by default the
  // elements whose bit patterns differ. A tool whose results are approximate by design
  // (all_gather_perf -q) counts the elements beyond its documented error bound and sets
  // *maxAbsError to the largest absolute difference; reportsError() then adds its column.
  virtual size_t countWrong(const void* got, const void* expected, const CallShape& shape,
                            const TestCase& tc, double* /*maxAbsError*/) const {
    return countMismatches(got, expected, shape.recvElems, tc.type);
  }
  virtual bool reportsError() const { return false; }

  // Options of this tool beyond the common ones; their values as (name, value) pairs for the
  // JSON file; and header lines describing them for a run whose largest size is maxBytes.
  virtual void addOptions(CLI::App&) {}
  // After parsing: a usage error message when this tool's options do not fit the common ones.
  virtual std::optional<std::string> checkOptions(const PerfOptions&) const { return std::nullopt; }
  virtual std::vector<std::pair<std::string, std::string>> parameters() const { return {}; }
  virtual std::vector<std::string> describe(size_t /*maxBytes*/, int /*nranks*/) const {
    return {};
  }
};

}  // namespace strata::perf
