// The tune file strata-tune writes (docs/tuning.md, "Tune files", version 1): the fingerprint of
// the tuned communicator's topology, the fitted levels, and per series one entry per measured
// size, the entries of a series covering contiguous, disjoint size ranges (from 0 up to the
// largest size measured; a boundary lies at the geometric mean of two neighbouring sizes).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "level_probe.h"
#include "scheduler/selection_context.h"
#include "sweep.h"

namespace strata::tune {

// The file's JSON text.
std::string tuneFileText(const SelectionContext& ctx, const std::vector<LevelProbe>& levels,
                         const std::vector<Series>& series, const std::string& description);

// Checks `text` with the library's own reader (so that a file the library would refuse is never
// written), then writes it to `path` through a temporary file and a rename.
Status writeTuneFile(const std::string& path, const std::string& text);

}  // namespace strata::tune
