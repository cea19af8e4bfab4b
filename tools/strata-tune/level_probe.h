// Per topology level, the α and β of one link: rank 0 ping-pongs with the first rank that shares
// that level with it and no lower one, over sizes from 8 bytes to the largest (powers of 4), and
// the one-way times (half a round trip, the least over rounds) are fitted to α + bytes / β.
// A fit whose R² is below kMinR2 is reported but not written to the tune file (the level keeps
// the topology's figures): on a loaded host the times may say little about the link.
// Levels that rank 0 shares with no other rank are left out.
#pragma once

#include <string>
#include <vector>

#include "alpha_beta_fit.h"
#include "options.h"
#include "progress.h"
#include "rank_env.h"

namespace strata::tune {

inline constexpr double kMinR2 = 0.9;

struct LevelProbe {
  int level = 0;
  std::string name;               // the topology's name for the level ("shm", "hccs", ...)
  int peer = -1;                  // the rank rank 0 ping-pongs with
  std::vector<double> bytes, us;  // one-way time per message size (rank 0's measurement)
  AlphaBetaFit fit;
};

// The sizes the probe sends: powers of 4 from 8 bytes up to maxBytes.
std::vector<size_t> probeSizes(size_t maxBytes);

// Collective over the ranks of env (the ranks not in a pair wait). Every rank returns the same
// pairs; the times and fits are those rank 0 measured, sent to every rank.
std::vector<LevelProbe> probeLevels(const RankEnv& env, const TuneOptions& opts,
                                    Progress* progress);

}  // namespace strata::tune
