#include "bootstrap/launch_env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "base/logging.h"
#include "bootstrap/pmix_id_exchange.h"

namespace strata {
namespace {

const char* envValue(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

Result<int> parseEnvInt(const char* var, const char* value, int minValue) {
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(value, &end, 10);
  if (end == value || *end != '\0' || errno == ERANGE || v > INT_MAX || v < INT_MIN)
    return makeError(strataInvalidArgument, "environment variable %s=\"%s\" is not a number", var,
                     value);
  if (v < minValue)
    return makeError(strataInvalidArgument, "environment variable %s=%ld must be at least %d",
                     var, v, minValue);
  return static_cast<int>(v);
}

struct Launcher {
  const char* source;
  const char* rankVar;
  const char* sizeVar;
  const char* localVar;
};

constexpr Launcher kLaunchers[] = {
    {"strata-run", "STRATA_RANK", "STRATA_NRANKS", "STRATA_LOCAL_RANK"},
    {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"},
};

const Launcher* findLauncher() {
  for (const auto& l : kLaunchers) {
    // RANK alone is too common a name to mean torchrun; it comes with WORLD_SIZE.
    bool torch = std::strcmp(l.source, "torchrun") == 0;
    if (envValue(l.rankVar) && (!torch || envValue(l.sizeVar))) return &l;
  }
  return nullptr;
}

// Job identifiers every process of one job sees alike.
constexpr const char* kJobIdVars[] = {"SLURM_JOB_ID",        "SLURM_STEP_ID",
                                      "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid",
                                      "PMIX_NAMESPACE",      "TORCHELASTIC_RUN_ID",
                                      "STRATA_JOB_ID"};

uint64_t fnv1a(const std::string& s, uint64_t basis) {
  uint64_t h = basis;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

BootstrapSecret deriveSecret(const std::string& material) {
  uint64_t a = splitmix(fnv1a(material, 0xcbf29ce484222325ull));
  uint64_t b = splitmix(fnv1a(material, 0x84222325cbf29ce4ull) ^ a);
  BootstrapSecret s{};
  for (int i = 0; i < 8; ++i) {
    s[i] = static_cast<uint8_t>(a >> (8 * i));
    s[8 + i] = static_cast<uint8_t>(b >> (8 * i));
  }
  return s;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> rootAddress(const Launcher& l) {
  if (const char* id = envValue("STRATA_COMM_ID")) {
    auto hp = splitHostPort(id);
    if (!hp.isOk()) return Status(hp.status()).context("STRATA_COMM_ID");
    return std::string(id);
  }
  if (std::strcmp(l.source, "strata-run") == 0)
    return makeError(strataInvalidArgument,
                     "launched by strata-run but STRATA_COMM_ID is not set; export "
                     "STRATA_COMM_ID=host:port of rank 0");
  if (std::strcmp(l.source, "torchrun") != 0) {
    if (pmixBuilt() && pmixServerInEnvironment()) return std::string();  // shared through PMIx
    return makeError(strataInvalidArgument,
                     "launched by %s but STRATA_COMM_ID is not set, and %s; export "
                     "STRATA_COMM_ID=host:port of rank 0",
                     l.source,
                     !pmixBuilt() ? "this library was built without PMIx to share the id"
                                  : "no PMIx server started this process (PMIX_NAMESPACE, "
                                    "PMIX_RANK are not set)");
  }
  const char* addr = envValue("MASTER_ADDR");
  if (!addr)
    return makeError(strataInvalidArgument,
                     "launched by torchrun but MASTER_ADDR is not set; export MASTER_ADDR and "
                     "MASTER_PORT, or STRATA_COMM_ID=host:port of rank 0");
  const char* portText = envValue("MASTER_PORT");
  if (!portText)
    return makeError(strataInvalidArgument,
                     "launched by torchrun but MASTER_PORT is not set; export MASTER_PORT, or "
                     "STRATA_COMM_ID=host:port of rank 0");
  STRATA_ASSIGN(int port, parseEnvInt("MASTER_PORT", portText, 1));
  if (port >= 65535)
    return makeError(strataInvalidArgument,
                     "MASTER_PORT=%d leaves no port for the Strata root (it uses MASTER_PORT+1)",
                     port);
  std::string host = addr;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return host + ":" + std::to_string(port + 1);
}

Result<BootstrapSecret> parseSecretHex(const std::string& hex, const char* from) {
  BootstrapSecret s{};
  bool ok = hex.size() == 2 * s.size();
  for (size_t i = 0; ok && i < s.size(); ++i) {
    int hi = hexDigit(hex[2 * i]);
    int lo = hexDigit(hex[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    s[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (!ok)
    return makeError(strataInvalidArgument, "%s must be 32 hex digits (128 bits), got %zu characters",
                     from, hex.size());
  return s;
}

// The secret in the file STRATA_COMM_SECRET_FILE names: 32 hex digits, surrounding white space
// ignored. The file must be this user's and private (no access for group or others), as the
// launcher that writes it for every rank makes it; anything else is refused, saying why.
Result<BootstrapSecret> secretFromFile(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return makeError(strataInvalidArgument, "STRATA_COMM_SECRET_FILE=%s cannot be opened: %s",
                     path, std::strerror(errno));
  struct stat st {};
  std::string text;
  Status bad;
  if (::fstat(fd, &st) != 0) {
    bad = makeError(strataSystemError, "STRATA_COMM_SECRET_FILE=%s: fstat failed: %s", path,
                    std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    bad = makeError(strataInvalidArgument, "STRATA_COMM_SECRET_FILE=%s is not a regular file",
                    path);
  } else if ((st.st_mode & 077) != 0) {
    bad = makeError(strataInvalidArgument,
                    "STRATA_COMM_SECRET_FILE=%s has mode %04o: other users may read or change "
                    "the secret; make it private to its owner (chmod 600)",
                    path, static_cast<unsigned>(st.st_mode & 07777));
  } else if (st.st_uid != ::geteuid()) {
    bad = makeError(strataInvalidArgument,
                    "STRATA_COMM_SECRET_FILE=%s belongs to uid %u, not to this user (uid %u)", path,
                    static_cast<unsigned>(st.st_uid), static_cast<unsigned>(::geteuid()));
  } else {
    char buf[256];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0 && text.size() < 4096)
      text.append(buf, static_cast<size_t>(n));
    if (n < 0)
      bad = makeError(strataSystemError, "STRATA_COMM_SECRET_FILE=%s cannot be read: %s", path,
                      std::strerror(errno));
  }
  ::close(fd);
  if (!bad.isOk()) return bad;
  const char* kSpace = " \t\r\n";
  const size_t begin = text.find_first_not_of(kSpace);
  const size_t end = text.find_last_not_of(kSpace);
  text = begin == std::string::npos ? std::string() : text.substr(begin, end - begin + 1);
  return parseSecretHex(text, format("the secret in STRATA_COMM_SECRET_FILE=%s", path).c_str());
}

// Once per process and whatever the log level: a derived secret protects nothing.
void warnComputableSecret(const std::string& commId) {
  static std::once_flag once;
  std::call_once(once, [&] {
    std::fprintf(stderr,
                 "STRATA WARN bootstrap: neither STRATA_COMM_SECRET, STRATA_COMM_SECRET_FILE nor a "
                 "job id is set; the secret of the root at %s derives from its address alone, so "
                 "anyone on this host or network who can reach it can compute it and join the "
                 "job. Set STRATA_COMM_SECRET_FILE to a private file holding a random secret "
                 "(docs/errors.md).\n",
                 commId.c_str());
  });
}

}  // namespace

bool chosenSecretInEnvironment() {
  return envValue("STRATA_COMM_SECRET") != nullptr || envValue("STRATA_COMM_SECRET_FILE") != nullptr;
}

Result<BootstrapSecret> launchSecret(const std::string& commId) {
  if (const char* hex = envValue("STRATA_COMM_SECRET")) return parseSecretHex(hex, "STRATA_COMM_SECRET");
  if (const char* path = envValue("STRATA_COMM_SECRET_FILE")) return secretFromFile(path);
  std::string material = "strata-bootstrap-secret/" + commId;
  bool anyJobId = false;
  for (const char* var : kJobIdVars) {
    if (const char* v = envValue(var)) {
      material += std::string("/") + var + "=" + v;
      anyJobId = true;
    }
  }
  if (!anyJobId) warnComputableSecret(commId);
  return deriveSecret(material);
}

Result<LaunchEnv> detectLaunchEnv() {
  const Launcher* l = findLauncher();
  if (!l)
    return makeError(strataInvalidArgument,
                     "no launcher found: set STRATA_RANK and STRATA_NRANKS (strata-run), or run "
                     "under mpirun (OMPI_COMM_WORLD_RANK), Slurm (SLURM_PROCID) or torchrun "
                     "(RANK, WORLD_SIZE)");
  LaunchEnv env;
  env.source = l->source;
  const char* sizeVar = l->sizeVar;
  const char* sizeText = envValue(sizeVar);
  if (!sizeText && std::strcmp(l->source, "slurm") == 0 && envValue("SLURM_NPROCS")) {
    sizeVar = "SLURM_NPROCS";
    sizeText = envValue(sizeVar);
  }
  if (!sizeText)
    return makeError(strataInvalidArgument, "launched by %s (%s is set) but %s is not set",
                     l->source, l->rankVar, l->sizeVar);
  STRATA_ASSIGN(env.rank, parseEnvInt(l->rankVar, envValue(l->rankVar), 0));
  STRATA_ASSIGN(env.nranks, parseEnvInt(sizeVar, sizeText, 1));
  if (env.rank >= env.nranks)
    return makeError(strataInvalidArgument, "%s=%d is not below %s=%d", l->rankVar, env.rank,
                     sizeVar, env.nranks);
  if (const char* local = envValue(l->localVar)) {
    STRATA_ASSIGN(env.localRank, parseEnvInt(l->localVar, local, 0));
  } else {
    env.localRank = std::strcmp(l->source, "strata-run") == 0 ? env.rank : 0;
  }
  STRATA_ASSIGN(env.commId, rootAddress(*l));
  env.pmix = env.commId.empty();
  if (env.pmix) {
    // Rank 0 makes the id: with a random secret unless the user chose one.
    if (chosenSecretInEnvironment()) {
      STRATA_ASSIGN(env.secret, launchSecret(""));
    }
  } else {
    STRATA_ASSIGN(env.secret, launchSecret(env.commId));
  }
  STRATA_INFO(Subsys::kBootstrap,
              "bootstrap: launched by %s as rank %d of %d (local rank %d), root %s",
              env.source.c_str(), env.rank, env.nranks, env.localRank,
              env.pmix ? "shared by rank 0 through PMIx" : ("at " + env.commId).c_str());
  return env;
}

Result<strataUniqueId> launchUniqueId(const LaunchEnv& env, long timeoutMs) {
  if (!env.pmix) return uniqueIdFromAddress(env.commId, env.secret);
  const bool chosenSecret = chosenSecretInEnvironment();
  auto makeId = [&] { return hostRootHere(chosenSecret ? env.secret : randomSecret()); };
  return shareUniqueIdOverPmix(env.rank, makeId, timeoutMs);
}

}  // namespace strata
