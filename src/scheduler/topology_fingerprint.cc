#include "scheduler/topology_fingerprint.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace strata {
namespace {

// FNV-1a, 64 bits: stable across builds and hosts.
class Fnv {
 public:
  void add(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 1099511628211ull;
  }
  void add(double v) { add(&v, sizeof v); }
  void add(int v) { add(&v, sizeof v); }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 14695981039346656037ull;
};

}  // namespace

std::string topologyFingerprint(const Topology& topo) {
  Fnv h;
  h.add(topo.nranks);
  h.add(topo.reduceGbps);
  for (const PortSpec& p : topo.ports) h.add(p.gbps);
  for (const LevelSpec& l : topo.levels) {
    h.add(l.link.alphaUs);
    h.add(l.link.gbps);
    h.add(l.port >= 0 ? topo.ports[static_cast<size_t>(l.port)].gbps : 0.0);
    for (int g : normalizeGroups(l.groupOf)) h.add(g);
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%dr-%zul-%016" PRIx64, topo.nranks, topo.levels.size(),
                h.value());
  return buf;
}

}  // namespace strata
