// PeerInfo on the wire: "strata-peer/1 <rank> <pid> <hostId length> <hostId>". The host id is
// length-prefixed so any bytes (spaces included) survive; everything else is decimal text.
#include <charconv>
#include <string_view>

#include "transports/transport.h"

namespace strata {
namespace {

constexpr std::string_view kMagic = "strata-peer/1";
constexpr size_t kMaxHostIdBytes = 4096;

// Reads a decimal integer up to the next space, consuming the space.
template <typename T>
bool takeNumber(std::string_view& in, T& out) {
  size_t space = in.find(' ');
  if (space == std::string_view::npos || space == 0) return false;
  auto [ptr, ec] = std::from_chars(in.data(), in.data() + space, out);
  if (ec != std::errc() || ptr != in.data() + space) return false;
  in.remove_prefix(space + 1);
  return true;
}

}  // namespace

std::string PeerInfo::serialize() const {
  std::string out(kMagic);
  out += ' ' + std::to_string(rank) + ' ' + std::to_string(pid) + ' ' +
         std::to_string(hostId.size()) + ' ';
  out += hostId;
  return out;
}

Result<PeerInfo> PeerInfo::parse(const std::string& blob) {
  auto bad = [&](const char* what) {
    return makeError(strataInvalidArgument, "peer info blob of %zu bytes is malformed: %s",
                     blob.size(), what);
  };
  std::string_view in(blob);
  if (in.substr(0, kMagic.size()) != kMagic || in.size() == kMagic.size() ||
      in[kMagic.size()] != ' ')
    return bad("missing strata-peer/1 header");
  in.remove_prefix(kMagic.size() + 1);
  PeerInfo info;
  size_t hostBytes = 0;
  if (!takeNumber(in, info.rank) || info.rank < 0) return bad("bad rank");
  if (!takeNumber(in, info.pid) || info.pid < 0) return bad("bad pid");
  if (!takeNumber(in, hostBytes) || hostBytes > kMaxHostIdBytes) return bad("bad host id length");
  if (in.size() != hostBytes) return bad("host id length does not match");
  info.hostId.assign(in.data(), in.size());
  return info;
}

}  // namespace strata
