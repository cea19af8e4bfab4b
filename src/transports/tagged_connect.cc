// connectTaggedTransport: the collective setup of a TaggedTransport. Every rank publishes its
// network address (or why its network could not be opened) with its chunk geometry; ranks build
// their transports; a second exchange tells every rank whether all of them are connected, so
// they succeed or fail together.
#include <charconv>
#include <optional>
#include <string_view>

#include "base/env_size.h"
#include "base/logging.h"
#include "transports/tagged_transport.h"

namespace strata {
namespace {

constexpr size_t kMaxChunkBytes = size_t{64} << 20;
constexpr int kMaxSlots = 4096;

// "strata-net/1 ok <chunk> <slots> <address bytes>" or "strata-net/1 error <message>".
constexpr std::string_view kBlobMagic = "strata-net/1 ";

std::string encodeAddress(const NetOptions& o, const std::string& address) {
  return std::string(kBlobMagic) + "ok " + std::to_string(o.chunkBytes) + " " +
         std::to_string(o.slots) + " " + address;
}

struct PeerAddress {
  bool ok = false;
  std::string error;
  size_t chunkBytes = 0;
  int slots = 0;
  std::string address;
};

bool takeWord(std::string_view& in, std::string_view& word) {
  size_t space = in.find(' ');
  if (space == std::string_view::npos) return false;
  word = in.substr(0, space);
  in.remove_prefix(space + 1);
  return true;
}

std::optional<PeerAddress> decodeAddress(const std::string& blob) {
  std::string_view in(blob);
  if (in.substr(0, kBlobMagic.size()) != kBlobMagic) return std::nullopt;
  in.remove_prefix(kBlobMagic.size());
  PeerAddress out;
  std::string_view word;
  if (!takeWord(in, word)) return std::nullopt;
  if (word == "error") {
    out.error = std::string(in);
    return out;
  }
  if (word != "ok") return std::nullopt;
  std::string_view chunk, slots;
  if (!takeWord(in, chunk) || !takeWord(in, slots)) return std::nullopt;
  if (std::from_chars(chunk.data(), chunk.data() + chunk.size(), out.chunkBytes).ec !=
          std::errc() ||
      std::from_chars(slots.data(), slots.data() + slots.size(), out.slots).ec != std::errc())
    return std::nullopt;
  out.ok = true;
  out.address = std::string(in);
  return out;
}

}  // namespace

Result<NetOptions> resolveNetOptions(const NetOptions& in) {
  NetOptions o = in;
  size_t value = 0;
  STRATA_ASSIGN(bool chunkSet, sizeFromEnv("STRATA_NET_CHUNK_BYTES", kMaxChunkBytes, value));
  if (chunkSet) o.chunkBytes = value;
  STRATA_ASSIGN(bool slotsSet, sizeFromEnv("STRATA_NET_SLOTS", kMaxSlots, value));
  if (slotsSet) o.slots = static_cast<int>(value);
  if (o.chunkBytes > kMaxChunkBytes)
    return makeError(strataInvalidArgument, "network chunk size %zu above %zu", o.chunkBytes,
                     kMaxChunkBytes);
  if (o.slots < 1 || o.slots > kMaxSlots)
    return makeError(strataInvalidArgument, "network slots %d outside 1..%d", o.slots, kMaxSlots);
  return o;
}

Result<std::unique_ptr<Transport>> connectTaggedTransport(
    Bootstrap& bs, const std::vector<PeerInfo>& peers, Result<std::unique_ptr<TaggedFabric>> fabric,
    const NetOptions& options, bool* unavailable) {
  NetOptions opts = options;
  if (opts.chunkBytes == 0)
    opts.chunkBytes =
        fabric.isOk() ? fabric.value()->defaultChunkBytes(kNetChunkHeaderBytes) : 256 * 1024;
  if (unavailable) *unavailable = false;
  const int me = bs.rank();
  const int n = bs.size();
  if (peers.size() != static_cast<size_t>(n) || opts.connect.size() != static_cast<size_t>(n))
    return makeError(strataInternalError,
                     "network transport on rank %d: %zu peer infos and %zu "
                     "connect flags for %d ranks",
                     me, peers.size(), opts.connect.size(), n);
  if (n > kMaxNetRanks)
    return makeError(strataInvalidArgument, "network transport: %d ranks exceed the limit of %d", n,
                     kMaxNetRanks);
  const std::string label = fabric.isOk() ? fabric.value()->name() : "network";
  auto host = [&](int r) { return peers[static_cast<size_t>(r)].hostId.c_str(); };

  const std::string mine = fabric.isOk()
                               ? encodeAddress(opts, fabric.value()->address())
                               : std::string(kBlobMagic) + "error " + fabric.status().message();
  auto blobs = bs.allgather(mine);
  if (!blobs.isOk()) return blobs.status().context(label + " transport: exchanging addresses");
  std::vector<std::string> addresses(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) {
    auto peer = decodeAddress(blobs.value()[static_cast<size_t>(r)]);
    if (!peer)
      return makeError(strataInternalError, "%s transport: malformed address from rank %d",
                       label.c_str(), r);
    if (!peer->ok) {
      if (unavailable) *unavailable = true;
      if (r == me) return fabric.status();
      return makeError(strataRemoteError,
                       "%s transport: rank %d (host %s) could not open the "
                       "network: %s",
                       label.c_str(), r, host(r), peer->error.c_str());
    }
    if (opts.connect[static_cast<size_t>(r)] &&
        (peer->chunkBytes != opts.chunkBytes || peer->slots != opts.slots))
      return makeError(strataInvalidArgument,
                       "%s transport: rank %d uses %zu-byte chunks x %d slots but rank %d uses "
                       "%zu x %d (set STRATA_NET_CHUNK_BYTES/STRATA_NET_SLOTS alike everywhere)",
                       label.c_str(), r, peer->chunkBytes, peer->slots, me, opts.chunkBytes,
                       opts.slots);
    addresses[static_cast<size_t>(r)] = std::move(peer->address);
  }

  std::unique_ptr<TaggedFabric> net = std::move(fabric).value();
  const std::string detail = net->describe();
  auto transport = startTaggedTransport(me, peers, std::move(net), opts, addresses);
  const Status started = transport.status();

  // Every rank learns whether every other one is connected, so they fail (or go on) together.
  auto reports = bs.allgather(started.isOk() ? std::string() : started.message());
  if (!reports.isOk()) return reports.status().context(label + " transport: connect barrier");
  if (!started.isOk()) {
    if (unavailable) *unavailable = true;
    return started;
  }
  for (int r = 0; r < n; ++r) {
    const std::string& report = reports.value()[static_cast<size_t>(r)];
    if (report.empty()) continue;
    if (unavailable) *unavailable = true;
    return makeError(strataRemoteError, "%s transport: rank %d (host %s) could not connect: %s",
                     label.c_str(), r, host(r), report.c_str());
  }
  int remote = 0;
  for (int r = 0; r < n; ++r) remote += (opts.connect[static_cast<size_t>(r)] && r != me) ? 1 : 0;
  STRATA_INFO(Subsys::kNet,
              "%s transport (%s): rank %d reaches %d peers, %d chunks of %zu bytes "
              "each way per peer",
              label.c_str(), detail.c_str(), me, remote, opts.slots, opts.chunkBytes);
  return std::move(transport).value();
}

}  // namespace strata
