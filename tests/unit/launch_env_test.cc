#include "bootstrap/launch_env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bootstrap/pmix_id_exchange.h"

namespace strata {
namespace {

// Every variable detectLaunchEnv reads. Each test starts with all of them unset and gets the
// caller's environment back afterwards.
const char* const kLaunchVars[] = {
    "STRATA_RANK",          "STRATA_NRANKS",        "STRATA_LOCAL_RANK",
    "STRATA_COMM_ID",       "STRATA_COMM_SECRET",   "STRATA_JOB_ID",
    "STRATA_COMM_SECRET_FILE",
    "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
    "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid", "PMIX_NAMESPACE",
    "SLURM_PROCID",         "SLURM_NTASKS",         "SLURM_NPROCS",
    "SLURM_LOCALID",        "SLURM_JOB_ID",         "SLURM_STEP_ID",
    "RANK",                 "WORLD_SIZE",           "LOCAL_RANK",
    "MASTER_ADDR",          "MASTER_PORT",          "TORCHELASTIC_RUN_ID",
    "PMIX_RANK",
};

class LaunchEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : kLaunchVars) {
      const char* old = std::getenv(v);
      saved_.emplace_back(v, old ? std::optional<std::string>(old) : std::nullopt);
      unsetenv(v);
    }
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value)
        setenv(name.c_str(), value->c_str(), 1);
      else
        unsetenv(name.c_str());
    }
  }
  static void set(const char* name, const char* value) { setenv(name, value, 1); }

  // The error of detectLaunchEnv, which must fail with InvalidArgument.
  static std::string failure() {
    auto env = detectLaunchEnv();
    EXPECT_FALSE(env.isOk());
    if (env.isOk()) return {};
    EXPECT_EQ(env.status().code(), strataInvalidArgument);
    return env.status().message();
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(LaunchEnvTest, NothingRecognisedIsAnError) {
  EXPECT_TRUE(contains(failure(), "no launcher found"));
  set("RANK", "0");  // RANK alone is not torchrun
  EXPECT_TRUE(contains(failure(), "no launcher found"));
}

TEST_F(LaunchEnvTest, StrataRun) {
  set("STRATA_RANK", "2");
  set("STRATA_NRANKS", "4");
  set("STRATA_LOCAL_RANK", "1");
  set("STRATA_COMM_ID", "127.0.0.1:5000");
  set("STRATA_COMM_SECRET", "00112233445566778899aabbccddeeff");
  auto env = detectLaunchEnv();
  ASSERT_TRUE(env.isOk()) << env.status().message();
  EXPECT_EQ(env->source, "strata-run");
  EXPECT_EQ(env->rank, 2);
  EXPECT_EQ(env->nranks, 4);
  EXPECT_EQ(env->localRank, 1);
  EXPECT_EQ(env->commId, "127.0.0.1:5000");
  std::array<uint8_t, 16> want = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  EXPECT_EQ(env->secret, want);

  unsetenv("STRATA_LOCAL_RANK");  // strata-run starts every rank on one host
  EXPECT_EQ(detectLaunchEnv()->localRank, 2);
  unsetenv("STRATA_COMM_ID");
  EXPECT_TRUE(contains(failure(), "launched by strata-run but STRATA_COMM_ID is not set"));
}

TEST_F(LaunchEnvTest, StrataRunWinsOverOtherLaunchers) {
  set("STRATA_RANK", "0");
  set("STRATA_NRANKS", "2");
  set("OMPI_COMM_WORLD_RANK", "1");
  set("OMPI_COMM_WORLD_SIZE", "2");
  set("STRATA_COMM_ID", "127.0.0.1:5000");
  auto env = detectLaunchEnv();
  ASSERT_TRUE(env.isOk()) << env.status().message();
  EXPECT_EQ(env->source, "strata-run");
  EXPECT_EQ(env->rank, 0);
}

TEST_F(LaunchEnvTest, Mpirun) {
  set("OMPI_COMM_WORLD_RANK", "5");
  set("OMPI_COMM_WORLD_SIZE", "8");
  set("OMPI_COMM_WORLD_LOCAL_RANK", "1");
  // Without a PMIx server to share the id through, the root needs an address.
  EXPECT_TRUE(contains(failure(), "launched by mpirun but STRATA_COMM_ID is not set"));
  EXPECT_TRUE(contains(failure(), "export STRATA_COMM_ID=host:port of rank 0"));
  set("STRATA_COMM_ID", "node0:29400");
  set("OMPI_MCA_ess_base_jobid", "1234");
  auto env = detectLaunchEnv();
  ASSERT_TRUE(env.isOk()) << env.status().message();
  EXPECT_EQ(env->source, "mpirun");
  EXPECT_EQ(env->rank, 5);
  EXPECT_EQ(env->nranks, 8);
  EXPECT_EQ(env->localRank, 1);
  EXPECT_EQ(env->commId, "node0:29400");

  // The derived secret is the same in every process of the job and differs between jobs.
  EXPECT_EQ(detectLaunchEnv()->secret, env->secret);
  set("OMPI_MCA_ess_base_jobid", "1235");
  EXPECT_NE(detectLaunchEnv()->secret, env->secret);
  set("STRATA_COMM_ID", "node0:29401");
  set("OMPI_MCA_ess_base_jobid", "1234");
  EXPECT_NE(detectLaunchEnv()->secret, env->secret);
}

TEST_F(LaunchEnvTest, MpirunWithPmixSharesTheIdThroughPmix) {
  set("OMPI_COMM_WORLD_RANK", "1");
  set("OMPI_COMM_WORLD_SIZE", "2");
  set("PMIX_NAMESPACE", "1234");
  set("PMIX_RANK", "1");
  if (!pmixBuilt()) {
    EXPECT_TRUE(contains(failure(), "built without PMIx"));
    return;
  }
  auto env = detectLaunchEnv();
  ASSERT_TRUE(env.isOk()) << env.status().message();
  EXPECT_EQ(env->source, "mpirun");
  EXPECT_TRUE(env->pmix);
  EXPECT_EQ(env->commId, "");
  // STRATA_COMM_ID still names the root when set.
  set("STRATA_COMM_ID", "127.0.0.1:5000");
  env = detectLaunchEnv();
  ASSERT_TRUE(env.isOk()) << env.status().message();
  EXPECT_FALSE(env->pmix);
  EXPECT_EQ(env->commId, "127.0.0.1:5000");
  // strata-run always names its root: PMIx variables inherited from an outer job do not apply.
  set("STRATA_RANK", "0");
  set("STRATA_NRANKS", "2");
  unsetenv("STRATA_COMM_ID");
  EXPECT_TRUE(contains(failure(), "launched by strata-run but STRATA_COMM_ID is not set"));
}

TEST_F(LaunchEnvTest, PmixNeedsBothVariables) {
  set("SLURM_PROCID", "0");
  set("SLURM_NTASKS", "2");
  set("PMIX_NAMESPACE", "slurm.pmix.77.0");
  EXPECT_TRUE(contains(failure(), "launched by slurm but STRATA_COMM_ID is not set"));
}

TEST_F(LaunchEnvTest, Slurm) {
  set("SLURM_PROCID", "3");
  set("SLURM_NTASKS", "4");
  set("SLURM_LOCALID", "0");
  set("SLURM_JOB_ID", "777");
  EXPECT_TRUE(contains(failure(), "launched by slurm but STRATA_COMM_ID is not set"));
  set("STRATA_COMM_ID", "[fd00::1]:6000");
  auto env = detectLaunchEnv();
  ASSERT_TRUE(env.isOk()) << env.status().message();
  EXPECT_EQ(env->source, "slurm");
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->nranks, 4);
  EXPECT_EQ(env->localRank, 0);
  EXPECT_EQ(env->commId, "[fd00::1]:6000");

  unsetenv("SLURM_NTASKS");
  set("SLURM_NPROCS", "4");  // older Slurm
  EXPECT_TRUE(detectLaunchEnv().isOk());
  unsetenv("SLURM_NPROCS");
  EXPECT_TRUE(contains(failure(), "SLURM_NTASKS is not set"));
}

TEST_F(LaunchEnvTest, TorchrunUsesTheNextPortAfterMasterPort) {
  set("RANK", "3");
  set("WORLD_SIZE", "8");
  set("LOCAL_RANK", "3");
  EXPECT_TRUE(contains(failure(), "MASTER_ADDR is not set"));
  set("MASTER_ADDR", "10.1.2.3");
  EXPECT_TRUE(contains(failure(), "MASTER_PORT is not set"));
  set("MASTER_PORT", "29500");
  set("TORCHELASTIC_RUN_ID", "run-9");
  auto env = detectLaunchEnv();
  ASSERT_TRUE(env.isOk()) << env.status().message();
  EXPECT_EQ(env->source, "torchrun");
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->nranks, 8);
  EXPECT_EQ(env->localRank, 3);
  EXPECT_EQ(env->commId, "10.1.2.3:29501");

  set("MASTER_ADDR", "fd00::2");
  EXPECT_EQ(detectLaunchEnv()->commId, "[fd00::2]:29501");
  set("STRATA_COMM_ID", "10.9.9.9:7000");  // always wins
  EXPECT_EQ(detectLaunchEnv()->commId, "10.9.9.9:7000");
  unsetenv("STRATA_COMM_ID");
  set("MASTER_PORT", "65535");
  EXPECT_TRUE(contains(failure(), "MASTER_PORT=65535"));
  set("MASTER_PORT", "port");
  EXPECT_TRUE(contains(failure(), "MASTER_PORT"));
}

TEST_F(LaunchEnvTest, NumbersAreValidated) {
  set("STRATA_COMM_ID", "127.0.0.1:5000");
  set("STRATA_NRANKS", "4");
  set("STRATA_RANK", "two");
  EXPECT_TRUE(contains(failure(), "STRATA_RANK=\"two\" is not a number"));
  set("STRATA_RANK", "-1");
  EXPECT_TRUE(contains(failure(), "STRATA_RANK=-1 must be at least 0"));
  set("STRATA_RANK", "4");
  EXPECT_TRUE(contains(failure(), "STRATA_RANK=4 is not below STRATA_NRANKS=4"));
  set("STRATA_RANK", "0");
  set("STRATA_NRANKS", "0");
  EXPECT_TRUE(contains(failure(), "STRATA_NRANKS=0 must be at least 1"));
  set("STRATA_NRANKS", "99999999999");
  EXPECT_TRUE(contains(failure(), "STRATA_NRANKS"));
  set("STRATA_NRANKS", "4");
  set("STRATA_LOCAL_RANK", "1x");
  EXPECT_TRUE(contains(failure(), "STRATA_LOCAL_RANK"));
}

TEST_F(LaunchEnvTest, AddressAndSecretAreValidated) {
  set("STRATA_RANK", "0");
  set("STRATA_NRANKS", "1");
  set("STRATA_COMM_ID", "no-port-here");
  EXPECT_TRUE(contains(failure(), "STRATA_COMM_ID"));
  set("STRATA_COMM_ID", "127.0.0.1:5000");
  set("STRATA_COMM_SECRET", "abc");
  EXPECT_TRUE(contains(failure(), "STRATA_COMM_SECRET must be 32 hex digits"));
  set("STRATA_COMM_SECRET", "zz112233445566778899aabbccddeeff");
  EXPECT_TRUE(contains(failure(), "STRATA_COMM_SECRET"));
}

TEST_F(LaunchEnvTest, LaunchSecretPrefersTheExplicitOne) {
  auto derived = launchSecret("127.0.0.1:5000");
  ASSERT_TRUE(derived.isOk());
  EXPECT_EQ(launchSecret("127.0.0.1:5000").value(), derived.value());
  EXPECT_NE(launchSecret("127.0.0.1:5001").value(), derived.value());
  set("STRATA_COMM_SECRET", "ffffffffffffffffffffffffffffffff");
  std::array<uint8_t, 16> ones;
  ones.fill(0xff);
  EXPECT_EQ(launchSecret("127.0.0.1:5000").value(), ones);
}

// A secret file: 0600 and this user's is read (white space around the digits ignored); one that
// others may read is refused with a message naming the file and its mode.
TEST_F(LaunchEnvTest, SecretFileMustBePrivate) {
  char path[] = "/tmp/strata-secret-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "00112233445566778899aabbccddeeff\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  set("STRATA_COMM_SECRET_FILE", path);
  ASSERT_EQ(chmod(path, 0600), 0);
  auto secret = launchSecret("127.0.0.1:5000");
  ASSERT_TRUE(secret.isOk()) << secret.status().message();
  EXPECT_EQ(secret.value()[0], 0x00);
  EXPECT_EQ(secret.value()[1], 0x11);
  EXPECT_EQ(secret.value()[15], 0xff);
  EXPECT_TRUE(chosenSecretInEnvironment());

  ASSERT_EQ(chmod(path, 0644), 0);
  auto refused = launchSecret("127.0.0.1:5000");
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.status().code(), strataInvalidArgument);
  EXPECT_TRUE(contains(refused.status().message(), path)) << refused.status().message();
  EXPECT_TRUE(contains(refused.status().message(), "mode 0644")) << refused.status().message();

  ASSERT_EQ(chmod(path, 0600), 0);
  const std::string bad = "not hex";
  FILE* f = std::fopen(path, "w");
  ASSERT_NE(f, nullptr);
  std::fputs(bad.c_str(), f);
  std::fclose(f);
  EXPECT_TRUE(contains(launchSecret("x:1").status().message(), "must be 32 hex digits"));
  unlink(path);
}

// A secret derived from the address alone is announced on stderr once, with logging off.
TEST_F(LaunchEnvTest, ComputableSecretIsAnnouncedOnceOnStderr) {
  testing::internal::CaptureStderr();
  ASSERT_TRUE(launchSecret("127.0.0.1:5000").isOk());
  ASSERT_TRUE(launchSecret("127.0.0.1:5002").isOk());
  const std::string err = testing::internal::GetCapturedStderr();
  size_t count = 0;
  for (size_t at = err.find("derives from its address alone"); at != std::string::npos;
       at = err.find("derives from its address alone", at + 1))
    ++count;
  // Once per process: earlier tests of this process may have announced it already.
  EXPECT_LE(count, 1u) << err;
  if (count == 1) {
    EXPECT_TRUE(contains(err, "STRATA_COMM_SECRET_FILE")) << err;
  }
  // With a job id the secret is not computable from the address: nothing more is printed.
  set("STRATA_JOB_ID", "job-42");
  testing::internal::CaptureStderr();
  ASSERT_TRUE(launchSecret("127.0.0.1:5000").isOk());
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace strata
