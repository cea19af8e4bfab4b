#include "bootstrap/tcp_wire.h"

#include <cstring>

namespace strata {
namespace {

constexpr uint32_t kFrameMagic = 0x46425453u;  // "STBF" read little-endian
constexpr size_t kHelloBytes = 4 + 16 + 4 + 4;

void putU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putI32(std::string& out, int32_t v) { putU32(out, static_cast<uint32_t>(v)); }

uint32_t loadU32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Bounds-checked little-endian reads over a payload; any short read leaves ok() false.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  uint32_t u32() {
    if (!take(4)) return 0;
    return loadU32(bytes(pos_ - 4));
  }
  uint64_t u64() {
    uint64_t lo = u32();
    uint64_t hi = u32();
    return lo | hi << 32;
  }
  int32_t i32() { return static_cast<int32_t>(u32()); }
  std::string_view bytesView(size_t n) {
    if (!take(n)) return {};
    return data_.substr(pos_ - n, n);
  }
  std::string_view rest() {
    std::string_view r = ok_ ? data_.substr(pos_) : std::string_view();
    pos_ = data_.size();
    return r;
  }
  bool ok() const { return ok_; }
  bool atEnd() const { return pos_ == data_.size(); }

 private:
  bool take(size_t n) {
    if (!ok_ || data_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  const uint8_t* bytes(size_t at) const {
    return reinterpret_cast<const uint8_t*>(data_.data()) + at;
  }

  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

Status malformed(const char* what) {
  return makeError(strataRemoteError, "malformed %s frame", what);
}

}  // namespace

const char* frameTypeName(FrameType type) {
  switch (type) {
    case FrameType::kHello: return "HELLO";
    case FrameType::kWelcome: return "WELCOME";
    case FrameType::kAllgather: return "ALLGATHER";
    case FrameType::kAllgatherResult: return "ALLGATHER_RESULT";
    case FrameType::kSend: return "SEND";
    case FrameType::kDeliver: return "DELIVER";
    case FrameType::kError: return "ERROR";
    case FrameType::kBye: return "BYE";
    case FrameType::kBusy: return "BUSY";
    case FrameType::kProgressQuery: return "PROGRESS_QUERY";
    case FrameType::kProgress: return "PROGRESS";
  }
  return "UNKNOWN";
}

Result<FrameHeader> parseFrameHeader(const uint8_t* bytes) {
  uint32_t magic = loadU32(bytes);
  if (magic != kFrameMagic)
    return makeError(strataRemoteError, "bad frame magic 0x%08x", static_cast<unsigned>(magic));
  uint16_t type = static_cast<uint16_t>(bytes[4] | bytes[5] << 8);
  if (type < static_cast<uint16_t>(FrameType::kHello) || type > static_cast<uint16_t>(FrameType::kProgress))
    return makeError(strataRemoteError, "unknown frame type %u", static_cast<unsigned>(type));
  uint32_t length = loadU32(bytes + 8);
  if (length > kMaxFramePayload)
    return makeError(strataRemoteError, "oversized frame (%u bytes, limit %u)",
                     static_cast<unsigned>(length), static_cast<unsigned>(kMaxFramePayload));
  FrameHeader h;
  h.type = static_cast<FrameType>(type);
  h.length = length;
  return h;
}

std::string encodeFrame(FrameType type, std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeaderBytes + payload.size());
  putU32(out, kFrameMagic);
  putU16(out, static_cast<uint16_t>(type));
  putU16(out, 0);
  putU32(out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::string encodeHelloFrame(uint32_t version, const BootstrapSecret& secret, int rank,
                             int nranks) {
  std::string p;
  putU32(p, version);
  p.append(reinterpret_cast<const char*>(secret.data()), secret.size());
  putI32(p, rank);
  putI32(p, nranks);
  return encodeFrame(FrameType::kHello, p);
}

std::string encodeHelloFrame(const strataUniqueId& id, int rank, int nranks) {
  auto fields = decodeUniqueId(id);
  BootstrapSecret secret{};
  if (fields.isOk()) secret = fields.value().secret;
  return encodeHelloFrame(kWireProtocolVersion, secret, rank, nranks);
}

Result<HelloMsg> decodeHello(std::string_view payload) {
  WireReader r(payload);
  HelloMsg m;
  m.version = r.u32();
  if (!r.ok()) return malformed("HELLO");
  if (m.version != kWireProtocolVersion) return m;
  std::string_view s = r.bytesView(m.secret.size());
  m.rank = r.i32();
  m.nranks = r.i32();
  if (!r.ok() || !r.atEnd() || payload.size() != kHelloBytes) return malformed("HELLO");
  std::memcpy(m.secret.data(), s.data(), m.secret.size());
  return m;
}

std::string encodeAllgatherFrame(uint64_t seq, std::string_view blob) {
  std::string p;
  p.reserve(kAllgatherOverhead + blob.size());
  putU64(p, seq);
  p.append(blob);
  return encodeFrame(FrameType::kAllgather, p);
}

Result<AllgatherMsg> decodeAllgather(std::string_view payload) {
  WireReader r(payload);
  AllgatherMsg m;
  m.seq = r.u64();
  std::string_view blob = r.rest();
  if (!r.ok()) return malformed("ALLGATHER");
  m.blob.assign(blob);
  return m;
}

Result<std::string> encodeAllgatherResultFrame(uint64_t seq,
                                               const std::vector<std::string>& blobs) {
  size_t total = 8 + 4;
  for (const auto& b : blobs) total += 4 + b.size();
  if (total > kMaxFramePayload)
    return makeError(strataInvalidArgument,
                     "allgather round %llu gathers %zu bytes, more than the %u-byte frame limit",
                     static_cast<unsigned long long>(seq), total,
                     static_cast<unsigned>(kMaxFramePayload));
  std::string p;
  p.reserve(total);
  putU64(p, seq);
  putU32(p, static_cast<uint32_t>(blobs.size()));
  for (const auto& b : blobs) {
    putU32(p, static_cast<uint32_t>(b.size()));
    p.append(b);
  }
  return encodeFrame(FrameType::kAllgatherResult, p);
}

Result<AllgatherResultMsg> decodeAllgatherResult(std::string_view payload) {
  WireReader r(payload);
  AllgatherResultMsg m;
  m.seq = r.u64();
  uint32_t count = r.u32();
  // Each blob needs at least its 4-byte length: rejects absurd counts before allocating.
  if (!r.ok() || count > payload.size() / 4) return malformed("ALLGATHER_RESULT");
  m.blobs.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t len = r.u32();
    std::string_view b = r.bytesView(len);
    if (!r.ok()) return malformed("ALLGATHER_RESULT");
    m.blobs.emplace_back(b);
  }
  if (!r.atEnd()) return malformed("ALLGATHER_RESULT");
  return m;
}

std::string encodePeerFrame(FrameType type, int peer, int tag, std::string_view blob) {
  std::string p;
  p.reserve(kPeerOverhead + blob.size());
  putI32(p, peer);
  putI32(p, tag);
  p.append(blob);
  return encodeFrame(type, p);
}

Result<PeerMsg> decodePeer(std::string_view payload) {
  WireReader r(payload);
  PeerMsg m;
  m.peer = r.i32();
  m.tag = r.i32();
  std::string_view blob = r.rest();
  if (!r.ok()) return malformed("SEND/DELIVER");
  m.blob.assign(blob);
  return m;
}

std::string encodeProgressQueryFrame(uint64_t seq) {
  std::string p;
  putU64(p, seq);
  return encodeFrame(FrameType::kProgressQuery, p);
}

Result<uint64_t> decodeProgressQuery(std::string_view payload) {
  WireReader r(payload);
  uint64_t seq = r.u64();
  if (!r.ok() || !r.atEnd()) return malformed("PROGRESS_QUERY");
  return seq;
}

std::string encodeProgressFrame(const ProgressMsg& m) {
  std::string p;
  p.reserve(16 + 4 * (m.notJoined.size() + m.behindRound.size()));
  putU64(p, m.seq);
  putU32(p, static_cast<uint32_t>(m.notJoined.size()));
  putU32(p, static_cast<uint32_t>(m.behindRound.size()));
  for (int32_t r : m.notJoined) putI32(p, r);
  for (int32_t r : m.behindRound) putI32(p, r);
  return encodeFrame(FrameType::kProgress, p);
}

Result<ProgressMsg> decodeProgress(std::string_view payload) {
  WireReader r(payload);
  ProgressMsg m;
  m.seq = r.u64();
  const uint32_t notJoined = r.u32();
  const uint32_t behind = r.u32();
  // Each rank takes 4 bytes: the counts must account for the rest exactly (no allocation first).
  if (!r.ok() || (payload.size() - 16) / 4 != uint64_t{notJoined} + behind ||
      (payload.size() - 16) % 4 != 0)
    return malformed("PROGRESS");
  m.notJoined.reserve(notJoined);
  m.behindRound.reserve(behind);
  for (uint32_t i = 0; i < notJoined; ++i) m.notJoined.push_back(r.i32());
  for (uint32_t i = 0; i < behind; ++i) m.behindRound.push_back(r.i32());
  if (!r.ok() || !r.atEnd()) return malformed("PROGRESS");
  return m;
}

}  // namespace strata
