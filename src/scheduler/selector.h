// Picks the algorithm for a call, in this order: the tune string (STRATA_ALGO), the tune file
// (STRATA_TUNE_FILE), the cost model (scheduler/cost_model.h) over every eligible algorithm, and
// a safe fallback (the first eligible one in registry order) when nothing could be priced.
#pragma once

#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "scheduler/selection_context.h"
#include "scheduler/tune_string.h"

namespace strata {

enum class SelectionSource { kTuneString, kTuneFile, kModel, kFallback };
// "tune string", "tune file", "model", "fallback".
const char* sourceName(SelectionSource s);

struct PricedCandidate {
  const Algorithm* algo = nullptr;
  double seconds = -1;  // < 0: the model could not price it (why says so)
  std::string why;
};

struct Selection {
  const Algorithm* algo = nullptr;
  SelectionSource source = SelectionSource::kModel;
  size_t chunkBytes = 0;  // a tune entry's chunk parameter; 0: the transport's
  // Every eligible algorithm in registry order, priced when the model decided or when asked.
  std::vector<PricedCandidate> candidates;
};

// Where pinned choices come from; either may be empty.
struct TuneSources {
  const TuneTable* string = nullptr;  // STRATA_ALGO
  const TuneTable* file = nullptr;    // STRATA_TUNE_FILE's entries for this topology
};

// Every algorithm eligible for the call, priced by the model. Prices depend only on the call and
// the topology, never on the rank, so every rank ranks the candidates alike; they are remembered
// per topology and call shape for the whole process.
std::vector<PricedCandidate> priceCandidates(const CollArgs& args, const SelectionContext& ctx);

// priceAll: price the candidates even when a tune entry decides (for logs and strata-info).
Result<Selection> selectAlgorithm(const CollArgs& args, const SelectionContext& ctx,
                                  const TuneSources& tune, bool priceAll = false);

// One line for logs: "oneshot by model; ring 14.6 us, ringpipe 10.2 us, oneshot* 1.9 us".
std::string describeSelection(const Selection& s);

}  // namespace strata
