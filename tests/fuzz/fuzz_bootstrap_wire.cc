// Feeds arbitrary bytes to the TCP bootstrap's frame and payload decoders, as a peer or an
// intruder on the root's port could send them. Each decoder must return a status, never crash,
// and a decoded message must re-encode to what the decoder accepted.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bootstrap/tcp_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strata;
  if (size >= kFrameHeaderBytes) {
    auto header = parseFrameHeader(data);
    if (header.isOk() && header.value().length > kMaxFramePayload) __builtin_trap();
  }
  // The first byte picks the payload decoder; the rest is the payload.
  if (size == 0) return 0;
  const std::string_view payload(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0:
      (void)decodeHello(payload);
      break;
    case 1: {
      auto m = decodeAllgather(payload);
      if (m.isOk() && encodeAllgatherFrame(m.value().seq, m.value().blob).size() !=
                        kFrameHeaderBytes + payload.size())
        __builtin_trap();
      break;
    }
    case 2: {
      auto m = decodeAllgatherResult(payload);
      if (m.isOk()) {
        auto again = encodeAllgatherResultFrame(m.value().seq, m.value().blobs);
        if (!again.isOk()) __builtin_trap();
      }
      break;
    }
    case 3: {
      auto m = decodePeer(payload);
      if (m.isOk() && encodePeerFrame(FrameType::kSend, m.value().peer, m.value().tag,
                                    m.value().blob).size() != kFrameHeaderBytes + payload.size())
        __builtin_trap();
      break;
    }
    case 4: {
      auto m = decodeProgressQuery(payload);
      if (m.isOk() && encodeProgressQueryFrame(m.value()).size() != kFrameHeaderBytes + payload.size())
        __builtin_trap();
      break;
    }
    case 5: {
      auto m = decodeProgress(payload);
      if (m.isOk() && encodeProgressFrame(m.value()).size() != kFrameHeaderBytes + payload.size())
        __builtin_trap();
      break;
    }
  }
  return 0;
}
