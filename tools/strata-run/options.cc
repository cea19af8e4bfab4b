#include "options.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace strata::run {
namespace {

constexpr long kMaxRanks = 4096;

constexpr const char* kUsage =
    "Usage: strata-run -np N [options] [--] command [args...]\n"
    "\n"
    "Starts N processes of command, ranks 0..N-1, each with the environment\n"
    "strataCommInitFromEnv() reads: STRATA_RANK, STRATA_NRANKS, STRATA_LOCAL_RANK,\n"
    "STRATA_LOCAL_SIZE, STRATA_COMM_ID (host:port of rank 0's bootstrap root) and\n"
    "STRATA_COMM_SECRET (a fresh random 128-bit secret, hex). A STRATA_COMM_ID or\n"
    "STRATA_COMM_SECRET already set (in the environment or with -x) is passed on\n"
    "unchanged instead. Each line a rank writes to stdout or stderr is forwarded to\n"
    "the same stream of strata-run, prefixed with \"[RANK] \". Ranks read stdin from\n"
    "/dev/null.\n"
    "\n"
    "Options:\n"
    "  -np N, -n N, --np N  number of ranks to start (required)\n"
    "  -x VAR[=VALUE]       set VAR to VALUE in every rank's environment; without a\n"
    "                       value, pass strata-run's own VAR (ranks inherit the whole\n"
    "                       environment in any case). Repeatable.\n"
    "  --bind-to core|none|auto\n"
    "                       core: pin each rank to one core (its local rank modulo the\n"
    "                       cores strata-run may use; ranks share cores when there\n"
    "                       are more of them); none: leave the OS to place them;\n"
    "                       auto (default): core when every rank is on one host and\n"
    "                       there are no more ranks than cores, none otherwise\n"
    "  --tag-output         prefix every forwarded line with \"[RANK] \" (default)\n"
    "  --no-prefix          forward the ranks' lines unchanged, as mpirun does\n"
    "  --host ADDR          address ranks use to reach rank 0 (default 127.0.0.1)\n"
    "  --ranks-per-host K   ranks 0..K-1 form host 0, K..2K-1 host 1, ... (sets\n"
    "                       STRATA_LOCAL_RANK/SIZE and {host}; default: one host)\n"
    "  --rank-prefix WORDS  runs each rank as WORDS command [args...]; WORDS are split\n"
    "                       at spaces, {rank} and {host} become the rank and its host\n"
    "                       index. To start ranks on other (namespace) hosts, e.g.\n"
    "                       --rank-prefix 'scripts/netns-hosts exec {host}'\n"
    "  --grace-ms MS        after a rank fails, time the others get to finish before\n"
    "                       SIGTERM, then SIGKILL (default 3000)\n"
    "  -h, --help           show this help\n"
    "\n"
    "When a rank ends, strata-run tells the other ranks (through a pipe whose\n"
    "descriptor is in STRATA_RUN_NOTICE_FD), so a rank waiting for it in\n"
    "strataCommInitFromEnv fails at once, naming it.\n"
    "\n"
    "Exit status: 0 if every rank exited 0; otherwise the first failing rank's exit code,\n"
    "or 128+signal if it was killed by a signal; 2 on usage errors; 126/127 if the command\n"
    "cannot be started. SIGINT, SIGTERM and SIGHUP are forwarded to the ranks; a second\n"
    "one kills them.\n";

// Variables strata-run sets for each rank.
constexpr std::string_view kPerRank[] = {"STRATA_RANK", "STRATA_NRANKS", "STRATA_LOCAL_RANK",
                                         "STRATA_LOCAL_SIZE", "STRATA_RUN_NOTICE_FD"};

std::optional<long> parseLong(std::string_view text, long min, long max) {
  if (text.empty()) return std::nullopt;
  long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
    if (value > max) return std::nullopt;
  }
  if (value < min) return std::nullopt;
  return value;
}

bool validName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

void addExport(Options& opts, std::string_view spec) {
  size_t eq = spec.find('=');
  std::string name(spec.substr(0, eq));
  if (!validName(name))
    usageError("-x " + std::string(spec) + ": '" + name + "' is not a variable name");
  for (std::string_view owned : kPerRank) {
    if (name == owned)
      usageError("-x " + name + ": strata-run sets " + name + " for each rank itself");
  }
  std::string value;
  if (eq != std::string_view::npos) {
    value = spec.substr(eq + 1);
  } else {
    const char* mine = std::getenv(name.c_str());
    if (!mine) {
      std::fprintf(stderr, "strata-run: -x %s: %s is not set here; the ranks will not have it\n",
                   name.c_str(), name.c_str());
      return;
    }
    value = mine;
  }
  opts.exports.emplace_back(std::move(name), std::move(value));
}

}  // namespace

void usageError(const std::string& message) {
  std::fprintf(stderr, "strata-run: %s\nTry 'strata-run --help' for usage.\n", message.c_str());
  std::exit(kUsageExit);
}

// Hand-rolled because "-np N" is a single-dash long option, which option libraries parse as
// "-n p"; and everything after the first non-option belongs to the command.
Options parseArgs(int argc, char** argv) {
  Options opts;
  bool haveRanks = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    // Returns the option's value, either "--opt=value" or the next argument.
    auto valueOf = [&](std::string_view name) -> std::string_view {
      if (arg.size() > name.size() && arg[name.size()] == '=') return arg.substr(name.size() + 1);
      if (i + 1 >= argc) usageError("option " + std::string(name) + " needs a value");
      return argv[++i];
    };
    auto is = [&](std::string_view name) {
      return arg == name || (arg.size() > name.size() && arg.substr(0, name.size()) == name &&
                             arg[name.size()] == '=');
    };
    if (arg == "--") {
      for (int j = i + 1; j < argc; ++j) opts.command.emplace_back(argv[j]);
      break;
    }
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (is("-np") || is("--np") || is("-n")) {
      std::string_view name = is("-np") ? "-np" : is("--np") ? "--np" : "-n";
      std::string_view value = valueOf(name);
      auto n = parseLong(value, 1, kMaxRanks);
      if (!n) {
        usageError("invalid number of ranks '" + std::string(value) + "' (expected 1.." +
                   std::to_string(kMaxRanks) + ")");
      }
      opts.nranks = *n;
      haveRanks = true;
    } else if (is("-x")) {
      addExport(opts, valueOf("-x"));
    } else if (is("--bind-to")) {
      std::string_view value = valueOf("--bind-to");
      if (value == "core")
        opts.bindTo = BindTo::kCore;
      else if (value == "none")
        opts.bindTo = BindTo::kNone;
      else if (value == "auto")
        opts.bindTo = BindTo::kAuto;
      else
        usageError("invalid --bind-to '" + std::string(value) + "' (expected core, none or auto)");
    } else if (arg == "--tag-output") {
      opts.prefixOutput = true;
    } else if (arg == "--no-prefix") {
      opts.prefixOutput = false;
    } else if (is("--host")) {
      opts.host = valueOf("--host");
      if (opts.host.empty()) usageError("--host needs a non-empty address");
    } else if (is("--ranks-per-host")) {
      std::string_view value = valueOf("--ranks-per-host");
      auto k = parseLong(value, 1, kMaxRanks);
      if (!k) usageError("invalid --ranks-per-host '" + std::string(value) + "'");
      opts.ranksPerHost = *k;
    } else if (is("--rank-prefix")) {
      std::string_view value = valueOf("--rank-prefix");
      opts.rankPrefix.clear();
      size_t pos = 0;
      while (pos < value.size()) {
        size_t start = value.find_first_not_of(" \t", pos);
        if (start == std::string_view::npos) break;
        size_t end = value.find_first_of(" \t", start);
        if (end == std::string_view::npos) end = value.size();
        opts.rankPrefix.emplace_back(value.substr(start, end - start));
        pos = end;
      }
      if (opts.rankPrefix.empty()) usageError("--rank-prefix needs at least one word");
    } else if (is("--grace-ms")) {
      std::string_view value = valueOf("--grace-ms");
      auto ms = parseLong(value, 0, 24L * 3600 * 1000);
      if (!ms) usageError("invalid --grace-ms '" + std::string(value) + "'");
      opts.graceMs = *ms;
    } else if (arg.size() > 1 && arg[0] == '-') {
      usageError("unknown option '" + std::string(arg) + "'");
    } else {
      for (int j = i; j < argc; ++j) opts.command.emplace_back(argv[j]);
      break;
    }
  }
  if (!haveRanks) usageError("missing -np N (the number of ranks)");
  if (opts.command.empty()) usageError("missing the command to run");
  if (opts.ranksPerHost == 0 || opts.ranksPerHost > opts.nranks) opts.ranksPerHost = opts.nranks;
  return opts;
}

}  // namespace strata::run
