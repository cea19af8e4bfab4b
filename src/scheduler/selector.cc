#include "scheduler/selector.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "base/dtype.h"

namespace strata {
namespace {

// Prices by topology and call shape, shared by every communicator of the process (384 sim ranks
// as threads price each shape once).
class PriceMemo {
 public:
  bool find(const std::string& key, std::vector<double>* out) {
    std::lock_guard<std::mutex> g(mutex_);
    auto it = prices_.find(key);
    if (it == prices_.end()) return false;
    *out = it->second;
    return true;
  }
  void store(const std::string& key, std::vector<double> prices) {
    std::lock_guard<std::mutex> g(mutex_);
    if (prices_.size() > 4096) prices_.clear();
    prices_.emplace(key, std::move(prices));
  }
  // Held while a shape is priced, so concurrent ranks wait for one pricing instead of repeating it.
  std::mutex& pricing() { return pricing_; }

 private:
  std::mutex mutex_, pricing_;
  std::map<std::string, std::vector<double>> prices_;
};

PriceMemo& memo() {
  static PriceMemo m;
  return m;
}

std::string memoKey(const CollArgs& a, const SelectionContext& ctx) {
  const std::optional<CallKey> k = callKey(a);
  if (!k) return {};
  return format("%s%s|%d|%zu|%zu|%d|%d|%d|%d|%zu|%d|%d|%d|%d|%d|%d|%zu|%d|%zu|%d", ctx.fingerprint.c_str(),
                ctx.modelTag.c_str(),
                ctx.modelsTime ? 1 : 0, ctx.shape.chunkBytes, ctx.shape.flagBytes,
                ctx.shape.forwarding ? 1 : 0,
                ctx.shape.put ? 1 : 0, ctx.shape.windows ? 1 : 0, static_cast<int>(k->coll),
                k->count, static_cast<int>(k->dtype), static_cast<int>(k->op), k->root,
                k->inPlace ? 1 : 0, k->windowed ? 1 : 0, k->quantFormat, k->quantBlock,
                k->quantMode, k->fusedRow, k->fusedQuant);
}

// Each algorithm's eligibility predicate (supports); direct algorithms only ever for windowed
// calls, whatever their predicate says.
bool isEligible(const Algorithm& a, const CollArgs& args, const CommShape& shape) {
  if (a.coll() != args.coll) return false;
  if (a.direct() && !(args.windowed && shape.windows)) return false;
  return a.supports(args, shape);
}

std::vector<const Algorithm*> eligible(const CollArgs& args, const CommShape& shape) {
  std::vector<const Algorithm*> out;
  for (const Algorithm* a : algorithmRegistry())
    if (isEligible(*a, args, shape)) out.push_back(a);
  return out;
}

// The pinned rule for this call from one source, checked against the shape.
Result<const TuneRule*> pinned(const TuneTable* table, const char* source, const CollArgs& args,
                               const CommShape& shape, size_t bytes) {
  if (!table) return static_cast<const TuneRule*>(nullptr);
  const TuneRule* rule = table->lookup(args.coll, bytes, shape.nranks, dtypeClassOf(args.dtype));
  if (!rule) return rule;
  const Algorithm* a = findAlgorithm(args.coll, rule->algo);
  if (!a || !isEligible(*a, args, shape)) {
    return makeError(strataInvalidArgument,
                     "%s: %s pins algorithm '%s', which does not support %zu bytes on %d ranks "
                     "with this transport (eligible: %s)",
                     collName(args.coll), source, rule->algo.c_str(), bytes, shape.nranks,
                     [&] {
                       std::string s;
                       for (const Algorithm* e : eligible(args, shape))
                         s += (s.empty() ? "" : ", ") + std::string(e->name());
                       return s;
                     }()
                         .c_str());
  }
  return rule;
}

}  // namespace

const char* sourceName(SelectionSource s) {
  switch (s) {
    case SelectionSource::kTuneString:
      return "tune string";
    case SelectionSource::kTuneFile:
      return "tune file";
    case SelectionSource::kModel:
      return "model";
    case SelectionSource::kFallback:
      return "fallback";
  }
  return "?";
}

std::vector<PricedCandidate> priceCandidates(const CollArgs& args, const SelectionContext& ctx) {
  std::vector<PricedCandidate> out;
  for (const Algorithm* a : eligible(args, ctx.shape)) out.push_back({a, -1, {}});
  const std::string key = memoKey(args, ctx);
  std::vector<double> prices;
  std::unique_lock<std::mutex> pricing(memo().pricing(), std::defer_lock);
  if (!key.empty()) {
    if (memo().find(key, &prices) && prices.size() == out.size()) {
      for (size_t i = 0; i < out.size(); ++i) out[i].seconds = prices[i];
      return out;
    }
    pricing.lock();
    if (memo().find(key, &prices) && prices.size() == out.size()) {
      for (size_t i = 0; i < out.size(); ++i) out[i].seconds = prices[i];
      return out;
    }
  }
  prices.assign(out.size(), -1);
  for (size_t i = 0; i < out.size(); ++i) {
    // AllGatherv/AllToAllv: every rank is priced with this rank's counts, a symmetric stand-in.
    Result<std::vector<PlanPtr>> plans = plansForEveryRank(*out[i].algo, args, ctx.shape);
    Result<double> price =
        plans.isOk() ? pricePlans(*ctx.model, plans.value()) : Result<double>(plans.status());
    if (price.isOk()) {
      out[i].seconds = prices[i] = price.value();
    } else {
      out[i].why = price.status().message();
    }
  }
  if (!key.empty()) memo().store(key, prices);
  return out;
}

Result<Selection> selectAlgorithm(const CollArgs& args, const SelectionContext& ctx,
                                  const TuneSources& tune, bool priceAll) {
  const size_t bytes = args.messageBytes(ctx.shape.nranks);
  Selection sel;
  STRATA_ASSIGN(const TuneRule* rule,
                pinned(tune.string, "the tune string (STRATA_ALGO)", args, ctx.shape, bytes));
  sel.source = SelectionSource::kTuneString;
  if (!rule) {
    STRATA_ASSIGN(rule,
                  pinned(tune.file, "the tune file (STRATA_TUNE_FILE)", args, ctx.shape, bytes));
    sel.source = SelectionSource::kTuneFile;
  }
  if (rule) {
    sel.algo = findAlgorithm(args.coll, rule->algo);
    sel.chunkBytes = rule->chunkBytes;
    if (priceAll) sel.candidates = priceCandidates(args, ctx);
    return sel;
  }
  // A count-array collective's price comes from this rank's counts, which differ between ranks,
  // so it could split the choice: an algorithm that plans from its group's exchanged counts is
  // taken wherever it is eligible (the topology decides that, the same on every rank) and no
  // direct one is; its price is only for the log.
  const std::vector<const Algorithm*> all = eligible(args, ctx.shape);
  const bool anyDirect = std::any_of(all.begin(), all.end(), [&](const Algorithm* a) {
    return a->direct() && !a->pinnedOnly(args, ctx.shape);
  });
  for (const Algorithm* a : all) {
    if (anyDirect || !a->needsGroupCounts() || a->pinnedOnly(args, ctx.shape)) continue;
    sel.algo = a;
    sel.source = SelectionSource::kModel;
    if (priceAll) sel.candidates = priceCandidates(args, ctx);
    return sel;
  }
  sel.candidates = priceCandidates(args, ctx);
  if (sel.candidates.empty()) {
    return makeError(strataInternalError, "%s: no algorithm supports %zu bytes on %d ranks",
                     collName(args.coll), bytes, ctx.shape.nranks);
  }
  sel.source = SelectionSource::kModel;
  // A windowed call runs a direct algorithm or the flag path whenever one is eligible, the
  // model choosing among them: the shared-memory figures do not yet tell a window read from a
  // FIFO copy apart (docs/performance.md, windows), and the direct plans skip the FIFO copies.
  // Candidates measured slower than the model's pick for this call (pinnedOnly) are priced, not
  // picked.
  auto windowPath = [](const Algorithm* a) { return a->direct() || a->flagPath(); };
  bool directOnly = false;
  for (const PricedCandidate& c : sel.candidates)
    directOnly |= c.algo->direct() && !c.algo->pinnedOnly(args, ctx.shape) && c.seconds >= 0;
  double best = -1;
  for (const PricedCandidate& c : sel.candidates) {
    if (c.seconds < 0 || c.algo->pinnedOnly(args, ctx.shape) ||
        (directOnly && !windowPath(c.algo)))
      continue;
    if (!sel.algo || c.seconds < best) {
      sel.algo = c.algo;
      best = c.seconds;
    }
  }
  if (!sel.algo) {
    sel.algo = sel.candidates.front().algo;
    sel.source = SelectionSource::kFallback;
  }
  return sel;
}

std::string describeSelection(const Selection& s) {
  std::string out = format("%s by %s", s.algo->name(), sourceName(s.source));
  if (s.chunkBytes) out += format(" (chunk %s)", formatByteSize(s.chunkBytes).c_str());
  std::string list;
  for (const PricedCandidate& c : s.candidates) {
    list += list.empty() ? "; " : ", ";
    list += c.algo->name();
    if (c.algo == s.algo) list += "*";
    list += c.seconds < 0 ? std::string(" unpriced") : format(" %.3g us", c.seconds * 1e6);
  }
  return out + list;
}

}  // namespace strata
