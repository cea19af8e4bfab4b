#include "common/launch.h"

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace strata::perf {
namespace {

struct LauncherVars {
  const char* name;
  const char* rankVar;
  const char* sizeVar;
};

// The same launchers, in the same order, as strataCommInitFromEnv recognises.
constexpr LauncherVars kLaunchers[] = {
    {"strata-run", "STRATA_RANK", "STRATA_NRANKS"},
    {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS"},
    {"torchrun", "RANK", "WORLD_SIZE"},
};

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

std::runtime_error callError(const std::string& call, strataResult_t r, strataComm_t comm) {
  return std::runtime_error(call + " failed: " + strataGetErrorString(r) + ": " +
                            strataGetLastError(comm));
}

}  // namespace

Launch::Launch(int* argc, char*** argv, int threads) : threads_(threads) {
  if (MpiJob::available()) {
    mpi_ = std::make_unique<MpiJob>(argc, argv);
    mode_ = Mode::kMpi;
    launcher_ = "mpirun";
    nprocs_ = mpi_->size();
    proc_ = mpi_->rank();
    return;
  }
  for (const LauncherVars& l : kLaunchers) {
    const char* rank = env(l.rankVar);
    const char* size = env(l.sizeVar);
    if (!rank || !size) continue;
    mode_ = Mode::kEnv;
    launcher_ = l.name;
    proc_ = std::atoi(rank);
    nprocs_ = std::atoi(size);
    return;
  }
}

Launch::~Launch() = default;

std::vector<strataComm_t> Launch::initRanks(const strataUniqueId& id, int nranks, int firstRank,
                                            const strataConfig_t& config) {
  // strataCommInitRank blocks until every rank has joined, so the ranks join from threads.
  std::vector<strataComm_t> comms(static_cast<size_t>(threads_), nullptr);
  std::vector<strataResult_t> results(comms.size(), strataSuccess);
  std::vector<std::string> messages(comms.size());
  std::vector<std::thread> joiners;
  for (int t = 0; t < threads_; ++t) {
    joiners.emplace_back([&, t] {
      const auto i = static_cast<size_t>(t);
      strataConfig_t cfg = config;
      results[i] = strataCommInitRankConfig(&comms[i], nranks, id, firstRank + t, &cfg);
      if (results[i] != strataSuccess) messages[i] = strataGetLastError(nullptr);
    });
  }
  for (auto& j : joiners) j.join();
  for (size_t i = 0; i < comms.size(); ++i) {
    if (results[i] == strataSuccess) continue;
    for (strataComm_t c : comms)
      if (c) strataCommAbort(c);
    throw std::runtime_error("strataCommInitRank (rank " +
                             std::to_string(firstRank + static_cast<int>(i)) + " of " +
                             std::to_string(nranks) +
                             ") failed: " + strataGetErrorString(results[i]) + ": " + messages[i]);
  }
  return comms;
}

std::vector<strataComm_t> Launch::createComms(const strataConfig_t& config) {
  switch (mode_) {
    case Mode::kThreads: {
      std::vector<strataComm_t> comms(static_cast<size_t>(threads_), nullptr);
      strataResult_t r = strataCommInitAll(comms.data(), threads_, &config);
      if (r != strataSuccess) throw callError("strataCommInitAll", r, nullptr);
      return comms;
    }
    case Mode::kMpi: {
      strataUniqueId id{};
      if (mpi_->rank() == 0) {
        strataResult_t r = strataGetUniqueId(&id);
        if (r != strataSuccess) throw callError("strataGetUniqueId", r, nullptr);
      }
      mpi_->broadcastId(&id);
      return initRanks(id, nprocs_ * threads_, proc_ * threads_, config);
    }
    case Mode::kEnv: {
      if (threads_ == 1) {
        strataComm_t comm = nullptr;
        strataResult_t r = strataCommInitFromEnv(&comm, &config);
        if (r != strataSuccess) throw callError("strataCommInitFromEnv", r, nullptr);
        return {comm};
      }
      // Every process derives the same id from STRATA_COMM_ID; rank 0 hosts the root.
      if (nprocs_ > 1 && !env("STRATA_COMM_ID"))
        throw std::runtime_error("-t " + std::to_string(threads_) + " under " + launcher_ +
                                 " needs STRATA_COMM_ID=host:port for rank 0's bootstrap root");
      strataUniqueId id{};
      strataResult_t r = strataGetUniqueId(&id);
      if (r != strataSuccess) throw callError("strataGetUniqueId", r, nullptr);
      return initRanks(id, nprocs_ * threads_, proc_ * threads_, config);
    }
  }
  return {};
}

}  // namespace strata::perf
