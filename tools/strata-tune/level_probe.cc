#include "level_probe.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "base/status.h"
#include "topology/topology.h"

namespace strata::tune {
namespace {

// The ping-pong keeps the least time over rounds (the link's own cost; load only adds to it), so
// its measurements stay short enough to fall between two preemptions, unlike the sweep's.
constexpr double kPingTargetMs = 2.0;
constexpr int kPingMaxTrips = 200;

// Round trips per measurement: enough to fill about the target time with small messages.
int roundTrips(const TuneOptions& opts, bool sim, size_t bytes) {
  if (sim) return 1;                                              // the sim's clock is exact
  const double guessUs = 2.0 + static_cast<double>(bytes) / 2e3;  // 2 us, 2 GB/s
  const double n = std::min(opts.targetMs, kPingTargetMs) * 1e3 / (2 * guessUs);
  return static_cast<int>(
      std::clamp(n, 1.0, static_cast<double>(std::min(opts.maxIters, kPingMaxTrips))));
}

}  // namespace

std::vector<size_t> probeSizes(size_t maxBytes) {
  std::vector<size_t> s;
  for (size_t b = 8; b <= maxBytes; b *= 4) s.push_back(b);
  return s;
}

std::vector<LevelProbe> probeLevels(const RankEnv& env, const TuneOptions& opts,
                                    Progress* progress) {
  const Topology& topo = *env.context().topology;
  const std::vector<uint8_t> from0 = topo.levelsFrom(0);
  std::vector<LevelProbe> probes;
  for (size_t l = 0; l < topo.levels.size(); ++l) {
    for (int p = 1; p < env.nranks(); ++p) {
      if (from0[static_cast<size_t>(p)] != l) continue;
      LevelProbe probe;
      probe.level = static_cast<int>(l);
      probe.name = topo.levels[l].name;
      probe.peer = p;
      probes.push_back(probe);
      break;
    }
  }
  const std::vector<size_t> sizes = probeSizes(opts.pingMax);
  const int rounds = env.sim() ? 1 : opts.rounds;
  std::vector<char> buf(opts.pingMax);
  for (LevelProbe& probe : probes) {
    const bool mine = env.rank() == 0 || env.rank() == probe.peer;
    const int other = env.rank() == 0 ? probe.peer : 0;
    std::vector<double> oneWay(sizes.size(), 0.0);
    if (mine) {
      for (size_t i = 0; i < sizes.size(); ++i) {
        const size_t bytes = sizes[i];
        const int trips = roundTrips(opts, env.sim(), bytes);
        auto trip = [&] {
          if (env.rank() == 0) {
            env.check(strataSend(buf.data(), bytes, strataUint8, other, env.comm(), env.stream()),
                      "strataSend");
            env.check(strataRecv(buf.data(), bytes, strataUint8, other, env.comm(), env.stream()),
                      "strataRecv");
          } else {
            env.check(strataRecv(buf.data(), bytes, strataUint8, other, env.comm(), env.stream()),
                      "strataRecv");
            env.check(strataSend(buf.data(), bytes, strataUint8, other, env.comm(), env.stream()),
                      "strataSend");
          }
        };
        trip();  // warm-up: connection, plan
        env.check(strataStreamSynchronize(env.stream()), "strataStreamSynchronize");
        std::vector<double> perRound;
        for (int r = 0; r < rounds; ++r) {
          const double t0 = env.nowUs();
          for (int k = 0; k < trips; ++k) trip();
          env.check(strataStreamSynchronize(env.stream()), "strataStreamSynchronize");
          perRound.push_back((env.nowUs() - t0) / (2.0 * trips));
        }
        // The least: a link's latency and bandwidth are what it does unhindered; a loaded
        // host only ever adds to a time.
        oneWay[i] = *std::min_element(perRound.begin(), perRound.end());
      }
    }
    // Rank 0's times for everyone (the others hold zeros).
    if (env.rank() != 0) std::fill(oneWay.begin(), oneWay.end(), 0.0);
    std::vector<double> shared = oneWay;
    env.maxOverRanks(shared);
    probe.bytes.assign(sizes.begin(), sizes.end());
    probe.us = shared;
    probe.fit = fitAlphaBeta(probe.bytes, probe.us);
    if (progress) {
      progress->advance(1.0, "ping-pong level " + std::to_string(probe.level));
      progress->note(
          probe.fit.ok
              ? format("level %d (%s, ranks 0 and %d): alpha %.3g us, %.4g GB/s, R2 %.4f%s",
                       probe.level, probe.name.c_str(), probe.peer, probe.fit.alphaUs,
                       probe.fit.gbps, probe.fit.r2,
                       probe.fit.r2 < kMinR2 ? " (below 0.9: not written)" : "")
              : format("level %d (%s, ranks 0 and %d): the fit failed (times do not "
                       "grow with size); the level keeps the topology's figures",
                       probe.level, probe.name.c_str(), probe.peer));
    }
  }
  return probes;
}

}  // namespace strata::tune
