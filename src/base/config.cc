#include "base/config.h"

#include <cerrno>
#include <cstddef>
#include <cstdlib>

namespace strata {
namespace {

Result<long> envLong(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || x < 0) {
    return makeError(strataInvalidArgument, "%s='%s' is not a non-negative integer", name, v);
  }
  return x;
}

std::string envString(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : fallback;
}

Result<bool> parsePrecision(const char* what, const std::string& v) {
  if (v.empty() || v == "wire") return false;
  if (v == "float32") return true;
  return makeError(strataInvalidArgument, "%s='%s' is not one of wire, float32", what, v.c_str());
}

Result<bool> envFlag(const char* name) {
  const std::string v = envString(name, "");
  if (v.empty() || v == "0") return false;
  if (v == "1") return true;
  return makeError(strataInvalidArgument, "%s='%s' is not 0 or 1", name, v.c_str());
}

// The size of version 1 of strataConfig_t, which ended with `algo`.
constexpr size_t kConfigV1Size = offsetof(strataConfig_t, reducePrecision);

}  // namespace

Result<CommConfig> resolveConfig(const strataConfig_t* user, const CommConfig* inherit) {
  CommConfig c;
  if (inherit) {
    c = *inherit;
  } else {
    STRATA_ASSIGN(c.timeoutMs, envLong("STRATA_TIMEOUT_MS", c.timeoutMs));
    c.transport = envString("STRATA_TRANSPORT", "");
    c.topoFile = envString("STRATA_TOPO_FILE", "");
    c.algo = envString("STRATA_ALGO", "");
    c.tuneFile = envString("STRATA_TUNE_FILE", "");
    STRATA_ASSIGN(c.reduceInFloat32, parsePrecision("STRATA_REDUCE_PRECISION",
                                                    envString("STRATA_REDUCE_PRECISION", "")));
    STRATA_ASSIGN(c.checkCalls, envFlag("STRATA_CHECK"));
  }
  if (!user) return c;
  const bool v1 = user->version == 1 && user->size == kConfigV1Size && user->magic == STRATA_CONFIG_MAGIC;
  if (!v1 && (user->size != sizeof(strataConfig_t) || user->magic != STRATA_CONFIG_MAGIC ||
              user->version != STRATA_CONFIG_VERSION)) {
    return makeError(strataInvalidArgument,
                     "config was not initialised with STRATA_CONFIG_INITIALIZER (size %zu, magic "
                     "0x%x, version %u)",
                     user->size, user->magic, user->version);
  }
  if (user->blocking != STRATA_CONFIG_UNDEF_INT) {
    if (user->blocking != 0 && user->blocking != 1)
      return makeError(strataInvalidArgument, "config->blocking must be 0 or 1, not %d",
                       user->blocking);
    c.blocking = user->blocking == 1;
  }
  if (user->timeoutMs != STRATA_CONFIG_UNDEF_INT) {
    if (user->timeoutMs < 0)
      return makeError(strataInvalidArgument, "config->timeoutMs must be >= 0, not %d",
                       user->timeoutMs);
    c.timeoutMs = user->timeoutMs;
  }
  if (user->commName) c.commName = user->commName;
  if (user->transport) c.transport = user->transport;
  if (user->topoFile) c.topoFile = user->topoFile;
  if (user->algo) c.algo = user->algo;
  if (!v1 && user->reducePrecision) {
    STRATA_ASSIGN(c.reduceInFloat32,
                  parsePrecision("config->reducePrecision", user->reducePrecision));
  }
  return c;
}

}  // namespace strata
