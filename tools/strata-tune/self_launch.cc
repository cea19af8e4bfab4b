#include "self_launch.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace strata::tune {

bool underLauncher() {
  for (const char* v : {"STRATA_NRANKS", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS", "WORLD_SIZE"}) {
    const char* s = std::getenv(v);
    if (s && *s) return true;
  }
  return false;
}

int launchSelf(int np, int argc, char** argv) {
  char self[PATH_MAX];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) {
    std::fprintf(stderr, "strata-tune: -np: cannot find this executable: %s\n",
                 std::strerror(errno));
    return 1;
  }
  self[len] = '\0';
  std::string dir(self);
  dir.resize(dir.rfind('/'));
  std::string runner = dir + "/strata-run";
  if (access(runner.c_str(), X_OK) != 0) runner = "strata-run";  // execvp searches PATH

  // One core per rank (round robin when there are more ranks than cores): unpinned, two ranks
  // that share a core take turns through their waits' sleeps, and a small call then costs a
  // scheduler tick instead of a microsecond, whichever algorithm runs.
  std::vector<std::string> args{
      runner, "-np", std::to_string(np), "--bind-to", "core", "--no-prefix", "--", self};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-np" || a == "--np" || a == "-n") {
      ++i;  // and its value
      continue;
    }
    if (a.rfind("--np=", 0) == 0) continue;
    args.push_back(a);
  }
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  execvp(runner.c_str(), cargs.data());
  std::fprintf(stderr, "strata-tune: -np: cannot start %s: %s\n", runner.c_str(),
               std::strerror(errno));
  return 1;
}

}  // namespace strata::tune
