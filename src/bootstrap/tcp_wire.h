// The TCP bootstrap's wire format. Every message is one frame:
//   magic "STBF" (u32) | type (u16) | reserved (u16) | payload length (u32) | payload
// all little-endian, payload at most kMaxFramePayload bytes. Payloads:
//   HELLO            version u32, secret 16 bytes, rank i32, nranks i32
//   WELCOME          (empty) the root accepted the hello
//   ALLGATHER        seq u64, blob (rest of the payload)
//   ALLGATHER_RESULT seq u64, count u32, count x (length u32, bytes)
//   SEND             dst i32, tag i32, blob        (rank -> root)
//   DELIVER          src i32, tag i32, blob        (root -> dst)
//   ERROR            text                          (root -> rank: the job has failed)
//   BYE              (empty) the rank leaves cleanly
//   PROGRESS_QUERY   seq u64                       (rank -> root: its wait for round seq timed out)
//   PROGRESS         seq u64, not-joined count u32, behind count u32, that many ranks i32 (the
//                    ranks that never joined, then those that have not sent round seq)
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bootstrap/unique_id.h"
#include "base/status.h"
#include "strata/strata.h"

namespace strata {

inline constexpr uint32_t kWireProtocolVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 12;
inline constexpr uint32_t kMaxFramePayload = 64u << 20;
// A hello is tiny; the root refuses to buffer more than this before the peer is authenticated.
inline constexpr uint32_t kMaxHelloPayload = 256;

enum class FrameType : uint16_t {
  kHello = 1,
  kWelcome = 2,
  kAllgather = 3,
  kAllgatherResult = 4,
  kSend = 5,
  kDeliver = 6,
  kError = 7,
  kBye = 8,
  // To a connection that had not proved the secret yet, closed to make room for newer ones
  // (too many unauthenticated connections): a real rank says hello again.
  kBusy = 9,
  // A rank whose wait for an allgather round timed out asks whom the root still waits for, so
  // that its message names the rank that held the job up, as the root's host can.
  kProgressQuery = 10,
  kProgress = 11,
};

const char* frameTypeName(FrameType type);

struct FrameHeader {
  FrameType type = FrameType::kError;
  uint32_t length = 0;
};

// Checks magic, type and length (<= kMaxFramePayload). The error message says what was wrong
// ("bad frame magic 0x...", "unknown frame type 99", "oversized frame (...)").
Result<FrameHeader> parseFrameHeader(const uint8_t* bytes);

std::string encodeFrame(FrameType type, std::string_view payload);

struct HelloMsg {
  uint32_t version = kWireProtocolVersion;
  BootstrapSecret secret{};
  int32_t rank = -1;
  int32_t nranks = 0;
};
// A complete HELLO frame with the id's secret and the current protocol version.
std::string encodeHelloFrame(const strataUniqueId& id, int rank, int nranks);
// A complete HELLO frame with any secret and version (for tests that play an intruder).
std::string encodeHelloFrame(uint32_t version, const BootstrapSecret& secret, int rank,
                             int nranks);
// Decodes a HELLO payload. A hello of another protocol version decodes with only `version`
// set, so the caller can report the mismatch.
Result<HelloMsg> decodeHello(std::string_view payload);

struct AllgatherMsg {
  uint64_t seq = 0;
  std::string blob;
};
std::string encodeAllgatherFrame(uint64_t seq, std::string_view blob);
Result<AllgatherMsg> decodeAllgather(std::string_view payload);

struct AllgatherResultMsg {
  uint64_t seq = 0;
  std::vector<std::string> blobs;
};
// Fails with InvalidArgument when the blobs do not fit one frame.
Result<std::string> encodeAllgatherResultFrame(uint64_t seq, const std::vector<std::string>& blobs);
Result<AllgatherResultMsg> decodeAllgatherResult(std::string_view payload);

// SEND (peer = destination) and DELIVER (peer = source) share one layout.
struct PeerMsg {
  int32_t peer = -1;
  int32_t tag = 0;
  std::string blob;
};
std::string encodePeerFrame(FrameType type, int peer, int tag, std::string_view blob);
Result<PeerMsg> decodePeer(std::string_view payload);

std::string encodeProgressQueryFrame(uint64_t seq);
Result<uint64_t> decodeProgressQuery(std::string_view payload);

struct ProgressMsg {
  uint64_t seq = 0;
  std::vector<int32_t> notJoined;    // ranks that never said hello
  std::vector<int32_t> behindRound;  // joined ranks that have not sent round seq
};
std::string encodeProgressFrame(const ProgressMsg& m);
Result<ProgressMsg> decodeProgress(std::string_view payload);

// Bytes of a SEND/DELIVER or ALLGATHER payload other than the blob.
inline constexpr size_t kPeerOverhead = 8;
inline constexpr size_t kAllgatherOverhead = 8;

}  // namespace strata
