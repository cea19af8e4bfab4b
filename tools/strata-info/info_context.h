// What the strata-info subcommands share: the topology and selection context a communicator on it
// would have (a preset or file on the sim transport, `local` on shared memory), the tune sources
// the environment names (STRATA_ALGO, STRATA_TUNE_FILE), and the parsers of the command line's
// collective, size and dtype.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "plan/coll_args.h"
#include "scheduler/selection_context.h"
#include "scheduler/selector.h"
#include "scheduler/tune_file.h"
#include "scheduler/tune_string.h"

namespace strata::info {

// The selection context and tune sources for one topology, as a communicator on it selects.
struct InfoContext {
  SelectionContext ctx;
  std::string transport;  // "sim" or "shm"
  TuneTable tuneString;   // STRATA_ALGO
  TuneFileUse tuneFile;   // STRATA_TUNE_FILE (refused: refusal says why)
  TuneSources sources() const { return {&tuneString, tuneFile.table.get()}; }
};

// `spec`: a preset ("hccs-2x8"), a topology JSON file, or "local" (this host, `localRanks` ranks,
// on the shm transport).
Result<InfoContext> makeInfoContext(const std::string& spec, int localRanks);

// "allreduce", ... (case-insensitive); the error lists the collectives that have algorithms.
Result<CollType> parseCollective(const std::string& text);
// "float", "bf16", "bfloat16", "half", "fp16", "int8", ...
Result<strataDataType_t> parseDtype(const std::string& text);
// "16K", "1M", "4096" (K, M, G: powers of 1024); at least 1 byte.
Result<size_t> parseSize(const std::string& text);

// The call of `bytes` (as nccl-tests counts a call's size) of `coll` in `dtype` on n ranks; at
// least one element per rank.
CollArgs callOfSize(CollType coll, size_t bytes, strataDataType_t dtype, int n);

// "8 B", "16 KiB", "1 MiB".
std::string sizeLabel(size_t bytes);
// "1.58 us", "2.3 ms".
std::string timeLabel(double seconds);

}  // namespace strata::info
