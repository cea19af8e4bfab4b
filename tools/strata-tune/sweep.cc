#include "sweep.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <stdexcept>

#include "algorithms/algorithm.h"
#include "base/dtype.h"
#include "base/status.h"
#include "scheduler/selector.h"

namespace strata::tune {
namespace {

constexpr double kSignTestP = 0.05;

bool reduces(CollType c) {
  return c == CollType::kAllReduce || c == CollType::kReduceScatter || c == CollType::kReduce;
}

// AllGather, ReduceScatter, AllToAll, Gather and Scatter count per rank (or per peer).
bool perRank(CollType c) {
  return c == CollType::kAllGather || c == CollType::kReduceScatter || c == CollType::kAllToAll ||
         c == CollType::kGather || c == CollType::kScatter;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int indexOf(const std::vector<std::string>& v, const std::string& s) {
  auto it = std::find(v.begin(), v.end(), s);
  return it == v.end() ? -1 : static_cast<int>(it - v.begin());
}

// The call of about `bytes` (nccl-tests' size) of the series on n ranks: at least one element.
CollArgs callOf(const Series& s, size_t bytes, int n) {
  CollArgs a;
  a.coll = s.coll;
  a.dtype = s.type;
  a.op = strataSum;
  a.root = 0;
  const size_t per = perRank(s.coll) ? bytes / static_cast<size_t>(n) : bytes;
  a.count = std::max<size_t>(1, per / dtypeSize(s.type));
  return a;
}

strataResult_t issue(const CollArgs& a, const void* send, void* recv, strataComm_t comm,
                     strataStream_t stream) {
  switch (a.coll) {
    case CollType::kAllReduce:
      return strataAllReduce(send, recv, a.count, a.dtype, a.op, comm, stream);
    case CollType::kAllGather:
      return strataAllGather(send, recv, a.count, a.dtype, comm, stream);
    case CollType::kReduceScatter:
      return strataReduceScatter(send, recv, a.count, a.dtype, a.op, comm, stream);
    case CollType::kBroadcast:
      return strataBroadcast(send, recv, a.count, a.dtype, a.root, comm, stream);
    case CollType::kReduce:
      return strataReduce(send, recv, a.count, a.dtype, a.op, a.root, comm, stream);
    case CollType::kAllToAll:
      return strataAllToAll(send, recv, a.count, a.dtype, comm, stream);
    case CollType::kGather:
      return strataGather(send, recv, a.count, a.dtype, a.root, comm, stream);
    case CollType::kScatter:
      return strataScatter(send, recv, a.count, a.dtype, a.root, comm, stream);
    default:
      return strataInvalidArgument;
  }
}

// Communicator k pins the k-th algorithm (registry order) of every collective swept.
class PinnedComms {
 public:
  PinnedComms(const RankEnv& env, const std::vector<Series>& series) {
    size_t most = 0;
    for (const Series& s : series) most = std::max(most, s.algos.size());
    for (size_t k = 0; k < most; ++k) {
      std::string tune;
      std::vector<CollType> done;
      for (const Series& s : series) {
        if (k >= s.algos.size() || std::find(done.begin(), done.end(), s.coll) != done.end())
          continue;
        done.push_back(s.coll);
        tune += (tune.empty() ? "" : "#") + std::string(collKey(s.coll)) + ":@" + s.algos[k];
      }
      strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
      cfg.algo = tune.c_str();
      cfg.commName = "strata-tune pinned";
      strataComm_t child = nullptr;
      env.check(strataCommSplit(env.comm(), 0, env.rank(), &child, &cfg),
                "strataCommSplit (pinning '" + tune + "')");
      comms_.push_back(child);
    }
  }
  ~PinnedComms() {
    for (strataComm_t c : comms_) {
      strataCommFinalize(c);
      strataCommDestroy(c);
    }
  }
  strataComm_t operator[](int k) const { return comms_[static_cast<size_t>(k)]; }

 private:
  std::vector<strataComm_t> comms_;
};

// Bytes of the send and receive buffers a call needs (the larger of the two).
size_t bufferBytes(const CollArgs& a, int n) {
  const size_t one = a.count * dtypeSize(a.dtype);
  return perRank(a.coll) ? one * static_cast<size_t>(n) : one;
}

// The probability of at least `wins` wins in `rounds` fair coin tosses: the one-sided sign test.
double signTestP(size_t wins, size_t rounds) {
  double p = 0, c = 1;  // c = C(rounds, k)
  for (size_t k = 0; k <= rounds; ++k) {
    if (k >= wins) p += c;
    c = c * static_cast<double>(rounds - k) / static_cast<double>(k + 1);
  }
  return p / std::pow(2.0, static_cast<double>(rounds));
}

// The best candidate (by median), and the choice. The best replaces the model's choice only when
// its median is faster by more than the margin and, compared round by round with the model's
// choice, it was faster often enough that chance is unlikely (sign test, one-sided, p <= 0.05:
// all of 5 rounds, 6 of 7, 7 of 9). A loaded host slows whole rounds; the paired comparison is
// immune to that, a difference of medians is not. `times` holds rounds x cands.size() times,
// round-major; on the sim one exact round, where being faster is enough.
void finishPoint(const TuneOptions& opts, SweepPoint& p, const std::vector<int>& cands,
                 const std::vector<double>& times, bool exact) {
  size_t bestAt = 0;
  for (size_t i = 0; i < cands.size(); ++i)
    if (p.best < 0 || p.us[static_cast<size_t>(cands[i])] < p.us[static_cast<size_t>(p.best)]) {
      p.best = cands[i];
      bestAt = i;
    }
  p.chosen = p.best;
  const auto modelAt = std::find(cands.begin(), cands.end(), p.model);
  if (p.model < 0 || modelAt == cands.end() || p.best == p.model) return;
  const size_t m = static_cast<size_t>(modelAt - cands.begin());
  const size_t e = cands.size(), rounds = times.size() / e;
  size_t wins = 0;
  for (size_t r = 0; r < rounds; ++r) wins += times[r * e + bestAt] < times[r * e + m];
  const bool clearly = p.us[static_cast<size_t>(p.best)] <
                       p.us[static_cast<size_t>(p.model)] * (1.0 - opts.marginPct / 100.0);
  const bool notChance = exact ? wins == rounds : signTestP(wins, rounds) <= kSignTestP;
  if (!clearly || !notChance) p.chosen = p.model;
}

// Whether a departure from the model's choice held up head to head: `times` holds rounds x 2
// times, round-major, the departing candidate first. The same rule as finishPoint's.
bool confirmPoint(const TuneOptions& opts, SweepPoint& p, const std::vector<double>& times) {
  const size_t rounds = times.size() / 2;
  std::vector<double> mine, model;
  size_t wins = 0;
  for (size_t r = 0; r < rounds; ++r) {
    mine.push_back(times[2 * r]);
    model.push_back(times[2 * r + 1]);
    wins += times[2 * r] < times[2 * r + 1];
  }
  p.confirmRounds = static_cast<int>(rounds);
  p.confirmWins = static_cast<int>(wins);
  p.confirmUs[0] = median(mine);
  p.confirmUs[1] = median(model);
  p.departed = p.chosen;
  const bool kept = p.confirmUs[0] < p.confirmUs[1] * (1.0 - opts.marginPct / 100.0) &&
                    signTestP(wins, rounds) <= kSignTestP;
  if (!kept) p.chosen = p.model;
  return kept;
}

std::string describePoint(const std::string& label, const Series& s, const SweepPoint& p,
                          const std::vector<int>& cands) {
  std::string line = label + ":";
  for (int k : cands)
    line += format(" %s%s %.3g us", s.algos[static_cast<size_t>(k)].c_str(),
                   k == p.chosen ? "*" : "", p.us[static_cast<size_t>(k)]);
  return line;
}

// On the sim, time is the link model's and exact: each candidate is evaluated once, pinned, by
// strataSimTimingOnly (every rank's plan from a common start, as the sim transport would run the
// call) on rank 0, and the times are shared with the other ranks.
std::vector<double> timeOnSim(const RankEnv& env, const Series& s, const CollArgs& a,
                              const std::vector<int>& cands, SweepPoint& p) {
  std::vector<double> times(cands.size(), 0.0);
  if (env.rank() == 0) {
    for (size_t i = 0; i < cands.size(); ++i) {
      const std::string pin =
          std::string(collKey(s.coll)) + ":@" + s.algos[static_cast<size_t>(cands[i])];
      strataConfig_t cfg = STRATA_CONFIG_INITIALIZER;
      cfg.topoFile = env.simSpec().c_str();
      cfg.algo = pin.c_str();
      strataSimResult_t r{};
      const strataResult_t rc =
          strataSimTimingOnly(&cfg, collKey(s.coll), a.count, a.dtype, a.op, a.root, 0, &r);
      if (rc != strataSuccess)
        throw std::runtime_error("strataSimTimingOnly (" + pin + ", count " +
                                 std::to_string(a.count) +
                                 ") failed: " + strataGetLastError(nullptr));
      times[i] = r.simTimeUs;
    }
  }
  env.maxOverRanks(times);
  for (size_t i = 0; i < cands.size(); ++i) p.us[static_cast<size_t>(cands[i])] = times[i];
  return times;
}

}  // namespace

std::vector<Series> planSeries(const TuneOptions& opts) {
  std::vector<Series> out;
  for (CollType c : opts.colls) {
    std::vector<std::string> algos;
    for (const Algorithm* a : algorithmRegistry())
      if (a->coll() == c) algos.push_back(a->name());
    for (strataDataType_t t : opts.types) {
      Series s;
      s.coll = c;
      s.type = t;
      s.anyWidth = !reduces(c);
      s.algos = algos;
      out.push_back(s);
      if (s.anyWidth) break;  // a copy moves bytes, whatever their type
    }
  }
  return out;
}

double sizeWeight(size_t bytes, bool sim) {
  return sim ? 1.0 : 1.0 + static_cast<double>(bytes) / (256.0 * 1024);
}

double busBandwidth(CollType coll, size_t bytes, double us, int n) {
  if (!(us > 0)) return 0;
  const double algbw = static_cast<double>(bytes) / us / 1e3;  // GB/s
  double factor = 1.0;
  if (coll == CollType::kAllReduce) factor = 2.0 * (n - 1) / n;
  if (perRank(coll)) factor = static_cast<double>(n - 1) / n;
  return algbw * factor;
}

void runSweep(const RankEnv& env, const TuneOptions& opts, std::vector<Series>& series,
              Progress* progress) {
  const int n = env.nranks();
  const SelectionContext& ctx = env.context();
  // On the sim the candidates are timed without communicators or payload (timeOnSim).
  size_t cap = 64;
  for (const Series& s : series)
    for (size_t b : opts.sizes) cap = std::max(cap, bufferBytes(callOf(s, b, n), n));
  std::vector<char> send(env.sim() ? 0 : cap), recv(env.sim() ? 0 : cap);
  std::optional<PinnedComms> pinnedComms;
  if (!env.sim()) pinnedComms.emplace(env, series);
  auto pinned = [&](int k) { return (*pinnedComms)[k]; };
  const int rounds = opts.rounds;
  auto once = [&](const Series& s, const CollArgs& a, int k) {
    env.check(issue(a, send.data(), recv.data(), pinned(k), env.stream()),
              format("%s of %zu bytes with %s", collName(s.coll), a.messageBytes(n),
                     s.algos[static_cast<size_t>(k)].c_str()));
  };
  // Calibration: one warm-up call per candidate, then one timed, max over ranks; the iterations
  // that fill --target-ms.
  auto calibrate = [&](const Series& s, const CollArgs& a, const std::vector<int>& cands) {
    std::vector<double> calib;
    for (int k : cands) {
      once(s, a, k);
      env.check(strataStreamSynchronize(env.stream()), "strataStreamSynchronize");
      env.barrier();
      const double t0 = env.nowUs();
      once(s, a, k);
      env.check(strataStreamSynchronize(env.stream()), "strataStreamSynchronize");
      calib.push_back(env.nowUs() - t0);
    }
    env.maxOverRanks(calib);
    std::vector<int> iters;
    for (double t : calib)
      iters.push_back(
          static_cast<int>(std::clamp(std::ceil(opts.targetMs * 1e3 / std::max(t, 0.01)), 1.0,
                                      static_cast<double>(opts.maxIters))));
    return iters;
  };
  // One measurement: iters calls of candidate k after a barrier, the time per call on this rank.
  auto measure = [&](const Series& s, const CollArgs& a, int k, int iters) {
    env.barrier();
    const double t0 = env.nowUs();
    for (int it = 0; it < iters; ++it) once(s, a, k);
    env.check(strataStreamSynchronize(env.stream()), "strataStreamSynchronize");
    return (env.nowUs() - t0) / iters;
  };
  struct Departure {
    size_t series, point;
    CollArgs call;
  };
  std::vector<Departure> departures;

  for (Series& s : series) {
    size_t lastBytes = 0;
    for (size_t target : opts.sizes) {
      const CollArgs a = callOf(s, target, n);
      const size_t bytes = a.messageBytes(n);
      const std::string label =
          format("%s %s %zu B", collKey(s.coll), s.anyWidth ? "any" : dtypeName(s.type), bytes);
      if (bytes == lastBytes) {  // a size below one element per rank: already measured
        if (progress)
          progress->advance(sizeWeight(target, env.sim()), label + " (same call as before)");
        continue;
      }
      lastBytes = bytes;
      SweepPoint p;
      p.bytes = bytes;
      p.us.assign(s.algos.size(), -1.0);
      std::vector<int> cands;
      for (const PricedCandidate& c : priceCandidates(a, ctx)) {
        const int k = indexOf(s.algos, c.algo->name());
        if (k >= 0) cands.push_back(k);
      }
      Result<Selection> model = selectAlgorithm(a, ctx, TuneSources{});
      if (model.isOk()) p.model = indexOf(s.algos, model.value().algo->name());
      if (cands.empty()) {
        s.points.push_back(p);
        continue;
      }
      if (env.sim()) {
        finishPoint(opts, p, cands, timeOnSim(env, s, a, cands, p), true);
        if (progress)
          progress->advance(sizeWeight(target, env.sim()), describePoint(label, s, p, cands));
        s.points.push_back(p);
        continue;
      }
      const std::vector<int> iters = calibrate(s, a, cands);
      // Rounds: every candidate once per round, the order rotated from round to round.
      const size_t e = cands.size();
      std::vector<double> times(static_cast<size_t>(rounds) * e, 0.0);
      for (int r = 0; r < rounds; ++r) {
        for (size_t j = 0; j < e; ++j) {
          const size_t i = (j + static_cast<size_t>(r)) % e;
          times[static_cast<size_t>(r) * e + i] = measure(s, a, cands[i], iters[i]);
        }
      }
      env.maxOverRanks(times);
      for (size_t i = 0; i < e; ++i) {
        std::vector<double> v;
        for (int r = 0; r < rounds; ++r) v.push_back(times[static_cast<size_t>(r) * e + i]);
        p.us[static_cast<size_t>(cands[i])] = median(v);
      }
      finishPoint(opts, p, cands, times, false);
      if (progress)
        progress->advance(sizeWeight(target, env.sim()), describePoint(label, s, p, cands));
      if (opts.confirmRounds > 0 && p.chosen != p.model && p.model >= 0)
        departures.push_back({static_cast<size_t>(&s - series.data()), s.points.size(), a});
      s.points.push_back(p);
    }
  }

  // Confirmation: a departure from the model won under the load of its moment; it is kept only
  // if it wins again, later, head to head with the model's choice (alternating which goes first).
  for (const Departure& d : departures) {
    const Series& s = series[d.series];
    SweepPoint& p = series[d.series].points[d.point];
    const std::vector<int> pair = {p.chosen, p.model};
    const std::vector<int> iters = calibrate(s, d.call, pair);
    std::vector<double> times(static_cast<size_t>(opts.confirmRounds) * 2, 0.0);
    for (int r = 0; r < opts.confirmRounds; ++r)
      for (size_t j = 0; j < 2; ++j) {
        const size_t i = (j + static_cast<size_t>(r)) % 2;
        times[static_cast<size_t>(r) * 2 + i] = measure(s, d.call, pair[i], iters[i]);
      }
    env.maxOverRanks(times);
    const bool kept = confirmPoint(opts, p, times);
    if (progress)
      progress->note(format("confirm %s %s %zu B: %s %.3g us against %s %.3g us, %d of %d won: %s",
                            collKey(s.coll), s.anyWidth ? "any" : dtypeName(s.type), p.bytes,
                            s.algos[static_cast<size_t>(p.departed)].c_str(), p.confirmUs[0],
                            s.algos[static_cast<size_t>(p.model)].c_str(), p.confirmUs[1],
                            p.confirmWins, p.confirmRounds, kept ? "kept" : "reverted to the model's"));
  }
}

}  // namespace strata::tune
