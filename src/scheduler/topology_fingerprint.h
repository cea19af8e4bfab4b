// A topology's fingerprint: what the scheduler's prices depend on (rank count, how ranks group at
// each level, every level's α and bandwidth, the port caps and the reduction rate), hashed into a
// short string such as "16r-2l-9f3c0a17b2d4e851". Tune files carry the fingerprint of the topology
// they were measured on and are refused on any other.
#pragma once

#include <string>

#include "topology/topology.h"

namespace strata {

std::string topologyFingerprint(const Topology& topo);

}  // namespace strata
