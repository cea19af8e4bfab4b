#include "transports/shm/shm_transport.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <utility>

#include "base/env_size.h"
#include "base/logging.h"
#include "transports/shm/process_liveness.h"

namespace strata {
namespace {

using shm::SegmentHeader;
using shm::SegmentLayout;

constexpr size_t kMaxChunkBytes = size_t{1} << 30;
constexpr int kMaxSlots = 4096;
constexpr int64_t kLivenessIntervalNs = 2'000'000;  // /proc is read at most every 2 ms

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Result<ShmOptions> resolveOptions(const ShmOptions& in) {
  ShmOptions opts = in;
  size_t value = 0;
  STRATA_ASSIGN(bool chunkSet, sizeFromEnv("STRATA_SHM_CHUNK_BYTES", kMaxChunkBytes, value));
  if (chunkSet) {
    opts.chunkBytes = value;
    STRATA_INFO(Subsys::kEnv, "STRATA_SHM_CHUNK_BYTES set to %zu", value);
  }
  STRATA_ASSIGN(bool slotsSet, sizeFromEnv("STRATA_SHM_SLOTS", kMaxSlots, value));
  if (slotsSet) {
    opts.slots = static_cast<int>(value);
    STRATA_INFO(Subsys::kEnv, "STRATA_SHM_SLOTS set to %d", opts.slots);
  }
  if (opts.chunkBytes == 0 || opts.chunkBytes > kMaxChunkBytes)
    return makeError(strataInvalidArgument, "shm transport: chunkBytes %zu outside 1..%zu",
                     opts.chunkBytes, kMaxChunkBytes);
  if (opts.slots <= 0 || opts.slots > kMaxSlots)
    return makeError(strataInvalidArgument, "shm transport: slots %d outside 1..%d", opts.slots,
                     kMaxSlots);
  return opts;
}

Status checkPeers(const Bootstrap& bs, const std::vector<PeerInfo>& peers) {
  int me = bs.rank();
  if (peers.size() != static_cast<size_t>(bs.size()))
    return makeError(strataInvalidArgument, "shm transport on rank %d: %zu peer infos for %d ranks",
                     me, peers.size(), bs.size());
  const std::string& host = peers[static_cast<size_t>(me)].hostId;
  for (int r = 0; r < bs.size(); ++r) {
    const std::string& other = peers[static_cast<size_t>(r)].hostId;
    if (other != host)
      return makeError(strataInvalidArgument,
                       "no transport between rank %d (host %s) and rank %d (host %s): shared "
                       "memory needs one host",
                       me, host.c_str(), r, other.c_str());
  }
  return Status::ok();
}

// What each rank publishes: its segment name and the geometry it was built with.
std::string describeSegment(const ShmSegment& seg, const SegmentLayout& layout) {
  return seg.name() + " " + std::to_string(seg.size()) + " " + std::to_string(layout.chunkBytes) +
         " " + std::to_string(layout.slots);
}

Result<std::string> parseSegmentName(const std::string& blob, int owner, int me,
                                     const SegmentLayout& layout) {
  std::istringstream in(blob);
  std::string name;
  size_t bytes = 0, chunk = 0;
  uint64_t slots = 0;
  if (!(in >> name >> bytes >> chunk >> slots) || name.rfind("/strata-", 0) != 0)
    return makeError(strataInternalError, "shm transport on rank %d: bad segment info from rank %d",
                     me, owner);
  if (chunk != layout.chunkBytes || slots != layout.slots || bytes != layout.segmentBytes())
    return makeError(strataInvalidArgument,
                     "shm transport: rank %d uses %zu-byte chunks x %llu slots but rank %d uses "
                     "%zu x %llu (set STRATA_SHM_CHUNK_BYTES/STRATA_SHM_SLOTS alike everywhere)",
                     owner, chunk, static_cast<unsigned long long>(slots), me, layout.chunkBytes,
                     static_cast<unsigned long long>(layout.slots));
  return name;
}

Status checkHeader(const ShmSegment& seg, int owner, const SegmentLayout& layout) {
  const auto* h = reinterpret_cast<const SegmentHeader*>(seg.data());
  if (h->magic != shm::kSegmentMagic || h->version != shm::kLayoutVersion ||
      h->ownerRank != owner || h->nranks != layout.nranks || h->chunkBytes != layout.chunkBytes ||
      h->slots != layout.slots)
    return makeError(strataInvalidArgument,
                     "shm transport: segment %s does not belong to rank %d of this communicator",
                     seg.name().c_str(), owner);
  return Status::ok();
}

// Creates, publishes and maps every segment. Returns them indexed by rank, our own unlinked.
Result<std::vector<ShmSegment>> exchangeSegments(Bootstrap& bs, const SegmentLayout& layout) {
  const int me = bs.rank();
  STRATA_ASSIGN(ShmSegment own, ShmSegment::create(layout.segmentBytes()));
  auto* h = reinterpret_cast<SegmentHeader*>(own.data());
  h->magic = shm::kSegmentMagic;
  h->version = shm::kLayoutVersion;
  h->ownerRank = me;
  h->ownerPid = static_cast<int32_t>(::getpid());
  h->abortCause = -1;
  h->nranks = layout.nranks;
  h->chunkBytes = layout.chunkBytes;
  h->slots = layout.slots;

  auto blobs = bs.allgather(describeSegment(own, layout));
  if (!blobs.isOk()) return blobs.status().context("shm transport: exchanging segment names");

  std::vector<ShmSegment> segments(static_cast<size_t>(layout.nranks));
  Status mapped;
  for (int r = 0; r < layout.nranks && mapped.isOk(); ++r) {
    if (r == me) continue;
    auto name = parseSegmentName(blobs.value()[static_cast<size_t>(r)], r, me, layout);
    if (!name.isOk()) {
      mapped = name.status();
      break;
    }
    auto seg = ShmSegment::open(name.value(), layout.segmentBytes());
    if (seg.isOk())
      mapped = checkHeader(seg.value(), r, layout);
    else
      mapped = seg.status();
    if (mapped.isOk()) segments[static_cast<size_t>(r)] = std::move(seg.value());
  }

  // Doubles as the barrier before unlinking: once every rank reports, every name was opened.
  auto reports = bs.allgather(mapped.isOk() ? std::string() : mapped.message());
  if (!reports.isOk()) return reports.status().context("shm transport: segment barrier");
  if (!mapped.isOk()) return mapped;
  for (int r = 0; r < layout.nranks; ++r) {
    const std::string& report = reports.value()[static_cast<size_t>(r)];
    if (!report.empty())
      return makeError(strataRemoteError, "shm transport: rank %d could not map a peer: %s", r,
                       report.c_str());
  }
  STRATA_CHECK(own.unlink());
  segments[static_cast<size_t>(me)] = std::move(own);
  return segments;
}

}  // namespace

ShmTransport::ShmTransport(int rank, std::vector<int> pids, SegmentLayout layout,
                           std::vector<ShmSegment> segments, std::vector<int> peerRanks)
    : rank_(rank),
      selfPid_(static_cast<int>(::getpid())),
      pids_(std::move(pids)),
      peerRanks_(std::move(peerRanks)),
      layout_(layout),
      segments_(std::move(segments)) {
  if (peerRanks_.size() != static_cast<size_t>(layout_.nranks)) {
    peerRanks_.resize(static_cast<size_t>(layout_.nranks));
    for (int r = 0; r < layout_.nranks; ++r) peerRanks_[static_cast<size_t>(r)] = r;
  }
  // A peer info without a pid (0) falls back to the pid its owner wrote in its segment.
  for (int r = 0; r < layout_.nranks; ++r)
    if (pids_[static_cast<size_t>(r)] <= 0) pids_[static_cast<size_t>(r)] = header(r).ownerPid;
  std::byte* own = segments_[static_cast<size_t>(rank_)].data();
  for (int peer = 0; peer < layout_.nranks; ++peer) {
    std::byte* theirs = segments_[static_cast<size_t>(peer)].data();
    const std::string& theirName = segments_[static_cast<size_t>(peer)].name();
    const std::string& ownName = segments_[static_cast<size_t>(rank_)].name();
    shm::ShmFifo toPeer(theirs + layout_.fifoOffset(rank_), layout_, tsanSyncKey(theirName, rank_));
    shm::ShmFifo fromPeer(own + layout_.fifoOffset(peer), layout_, tsanSyncKey(ownName, peer));
    endpoints_.push_back(std::make_unique<ShmEndpoint>(toPeer, fromPeer));
    for (int slot = 0; slot < 2; ++slot)
      flagSync_.push_back(tsanSyncKey(theirName, layout_.nranks + slot));
  }
}

void ShmTransport::postFlag(uint64_t seq, const FlagTag& tag, const std::byte* src, size_t bytes) {
  std::byte* slot = flagSlot(rank_, seq);
  if (bytes > 0) std::memcpy(slot + shm::kFlagDataOffset, src, std::min(bytes, shm::kFlagBytes));
  std::memcpy(slot + sizeof(uint64_t), &tag, sizeof tag);
  tsanRelease(flagSync_[static_cast<size_t>(rank_) * 2 + (seq & 1)]);
  std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(flagSlot(rank_, seq)))
      .store(seq, std::memory_order_release);
}

bool ShmTransport::flagReached(int peer, uint64_t seq, FlagTag* tag) {
  const std::byte* slot = flagSlot(peer, seq);
  if (std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(const_cast<std::byte*>(slot)))
          .load(std::memory_order_acquire) < seq)
    return false;
  tsanAcquire(flagSync_[static_cast<size_t>(peer) * 2 + (seq & 1)]);
  std::memcpy(tag, slot + sizeof(uint64_t), sizeof *tag);
  return true;
}

// Liveness comes before the aborted flags: a peer that aborted because another rank died must
// not take the blame for it. An aborted peer's notice names the rank it blamed, if any.
Status ShmTransport::checkPeers() {
  int aborted = -1;
  for (int r = 0; r < layout_.nranks && aborted < 0; ++r) {
    if (r != rank_ &&
        std::atomic_ref<uint32_t>(header(r).aborted).load(std::memory_order_acquire) != 0)
      aborted = r;
  }

  int exited = exitedRank_.load(std::memory_order_relaxed);
  int64_t now = nowNs();
  int64_t due = nextLivenessCheckNs_.load(std::memory_order_relaxed);
  const bool scan = aborted >= 0 || (now >= due && nextLivenessCheckNs_.compare_exchange_strong(
                                                       due, now + kLivenessIntervalNs,
                                                       std::memory_order_relaxed));
  if (exited < 0 && scan) {
    for (int r = 0; r < layout_.nranks && exited < 0; ++r) {
      int pid = pids_[static_cast<size_t>(r)];
      if (r == rank_ || pid == selfPid_ || !processExited(pid)) continue;
      // A peer that aborted and then exited is reported through its abort notice (the flag
      // was set before it exited, so reading it now is reliable).
      if (std::atomic_ref<uint32_t>(header(r).aborted).load(std::memory_order_acquire) != 0) {
        if (aborted < 0) aborted = r;
        continue;
      }
      exited = r;
    }
    if (exited >= 0) exitedRank_.store(exited, std::memory_order_relaxed);
  }
  if (exited >= 0) {
    culprit_.store(globalRank(exited), std::memory_order_relaxed);
    return makeError(strataRemoteError, "shm transport: rank %d (pid %d) exited",
                     globalRank(exited), pids_[static_cast<size_t>(exited)]);
  }
  if (aborted < 0) return Status::ok();

  const int who = globalRank(aborted);
  const int whoPid = pids_[static_cast<size_t>(aborted)];
  const int cause = std::atomic_ref<int32_t>(header(aborted).abortCause).load(std::memory_order_relaxed);
  if (cause < 0 || cause == who || cause == globalRank(rank_)) {
    culprit_.store(who, std::memory_order_relaxed);
    return makeError(strataRemoteError, "shm transport: rank %d (pid %d) aborted", who, whoPid);
  }
  culprit_.store(cause, std::memory_order_relaxed);
  std::string state;
  if (int local = localIndex(cause); local >= 0) {
    const int pid = pids_[static_cast<size_t>(local)];
    switch (processState(pid)) {
      case ProcessState::kStopped: state = format(" (pid %d), which is stopped", pid); break;
      case ProcessState::kExited: state = format(" (pid %d), which exited", pid); break;
      case ProcessState::kRunning: break;
    }
  }
  return makeError(strataRemoteError,
                   "shm transport: lost rank %d%s: rank %d (pid %d) aborted after failing on it",
                   cause, state.c_str(), who, whoPid);
}

int ShmTransport::stoppedPeer() const {
  for (int r = 0; r < layout_.nranks; ++r) {
    const int pid = pids_[static_cast<size_t>(r)];
    if (r != rank_ && pid != selfPid_ && processState(pid) == ProcessState::kStopped) return r;
  }
  return -1;
}

std::string ShmTransport::describeStoppedPeers() {
  std::string out;
  for (int r = 0; r < layout_.nranks; ++r) {
    const int pid = pids_[static_cast<size_t>(r)];
    if (r == rank_ || pid == selfPid_ || processState(pid) != ProcessState::kStopped) continue;
    if (!out.empty()) out += ", ";
    out += format("rank %d (pid %d) is stopped", globalRank(r), pid);
  }
  return out;
}

void ShmTransport::noteCulprit(int rank) {
  int none = -1;
  culprit_.compare_exchange_strong(none, rank, std::memory_order_relaxed);
}

void ShmTransport::markAborted() {
  // A stopped peer is the likeliest reason a wait of ours ran out; else whom our waits blamed.
  const int stopped = stoppedPeer();
  const int cause = stopped >= 0 ? globalRank(stopped) : culprit_.load(std::memory_order_relaxed);
  std::atomic_ref<int32_t>(header(rank_).abortCause).store(cause, std::memory_order_relaxed);
  std::atomic_ref<uint32_t>(header(rank_).aborted).store(1, std::memory_order_release);
}

int ShmTransport::localIndex(int global) const {
  for (int r = 0; r < layout_.nranks; ++r)
    if (peerRanks_[static_cast<size_t>(r)] == global) return r;
  return -1;
}

Result<std::unique_ptr<Transport>> createShmTransport(Bootstrap& bs,
                                                      const std::vector<PeerInfo>& peers,
                                                      const ShmOptions& options) {
  STRATA_ASSIGN(ShmOptions opts, resolveOptions(options));
  STRATA_CHECK(checkPeers(bs, peers));

  SegmentLayout layout;
  layout.nranks = bs.size();
  layout.chunkBytes = opts.chunkBytes;
  layout.slots = static_cast<uint64_t>(opts.slots);
  STRATA_ASSIGN(std::vector<ShmSegment> segments, exchangeSegments(bs, layout));

  std::vector<int> pids, ranks;
  for (const PeerInfo& p : peers) {
    pids.push_back(p.pid);
    ranks.push_back(p.rank >= 0 ? p.rank : static_cast<int>(ranks.size()));
  }
  STRATA_INFO(Subsys::kShm,
              "shm transport: rank %d of %d, segment %zu bytes, %d FIFOs of %d slots x %zu bytes",
              bs.rank(), layout.nranks, layout.segmentBytes(), layout.nranks, opts.slots,
              opts.chunkBytes);
  return std::unique_ptr<Transport>(
      std::make_unique<ShmTransport>(bs.rank(), std::move(pids), layout, std::move(segments),
                                     std::move(ranks)));
}

}  // namespace strata
