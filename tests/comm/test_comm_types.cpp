#include <gtest/gtest.h>

#include "base/error.h"
#include "distributed/comm/comm_settings.h"
#include "distributed/comm/comm_stats.h"
#include "distributed/comm/comm_types.h"

#include <map>
#include <string>

namespace attnscale {
namespace {

TEST(CommTypes, SizesMatchTheirCppTypes) {
  EXPECT_EQ(dtype_size(comm_dtype_v<float>), sizeof(float));
  EXPECT_EQ(dtype_size(comm_dtype_v<double>), sizeof(double));
  EXPECT_EQ(dtype_size(comm_dtype_v<std::int32_t>), 4u);
  EXPECT_EQ(dtype_size(comm_dtype_v<std::int64_t>), 8u);
  EXPECT_EQ(dtype_size(comm_dtype_v<std::uint64_t>), 8u);
  EXPECT_EQ(dtype_size(comm_dtype_v<std::byte>), 1u);
  EXPECT_EQ(dtype_size(CommDType::bf16), 2u);
  EXPECT_EQ(dtype_size(CommDType::f16), 2u);
  EXPECT_EQ(dtype_name(CommDType::bf16), "bf16");
}

TEST(CommTypes, ReduceLocKeepsExtremeAndSmallerIndexOnTies) {
  const ValueIndex a{2.0, 7};
  const ValueIndex b{3.0, 9};
  const ValueIndex tie{2.0, 4};
  EXPECT_EQ(reduce_loc(a, b, LocOp::maxloc), b);
  EXPECT_EQ(reduce_loc(b, a, LocOp::maxloc), b);
  EXPECT_EQ(reduce_loc(a, b, LocOp::minloc), a);
  EXPECT_EQ(reduce_loc(a, tie, LocOp::maxloc), tie);
  EXPECT_EQ(reduce_loc(tie, a, LocOp::minloc), tie);
}

class FakeEnv {
 public:
  explicit FakeEnv(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {}
  CommSettings read() const {
    return CommSettings::from_lookup([this](const char* name) -> const char* {
      const auto it = vars_.find(name);
      return it == vars_.end() ? nullptr : it->second.c_str();
    });
  }

 private:
  std::map<std::string, std::string> vars_;
};

TEST(CommSettings, DefaultsWithoutEnvironment) {
  const CommSettings settings = FakeEnv({}).read();
  EXPECT_EQ(settings.timeout, std::chrono::minutes(5));
  EXPECT_FALSE(settings.fault.enabled());
}

TEST(CommSettings, ReadsTimeoutAndFaultPlan) {
  const CommSettings settings = FakeEnv({{"ATTNSCALE_COMM_TIMEOUT_S", "2.5"},
                                         {"ATTNSCALE_FAULT_KILL_RANK", "3"},
                                         {"ATTNSCALE_FAULT_AT_OP", "17"},
                                         {"ATTNSCALE_FAULT_MODE", "hang"}})
                                    .read();
  EXPECT_EQ(settings.timeout, std::chrono::milliseconds(2500));
  EXPECT_TRUE(settings.fault.enabled());
  EXPECT_EQ(settings.fault.rank, 3);
  EXPECT_EQ(settings.fault.at_op, 17);
  EXPECT_EQ(settings.fault.mode, FaultMode::hang);
}

// parallel.timeout_s reaches the communicator as the base; ATTNSCALE_COMM_TIMEOUT_S overrides it.
TEST(CommSettings, TheEnvironmentOverridesTheCallersBase) {
  CommSettings base;
  base.timeout = timeout_from_seconds(2.0);
  const auto lookup = [](std::map<std::string, std::string> vars) {
    return [vars](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  EXPECT_EQ(CommSettings::from_lookup(lookup({}), base).timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(CommSettings::from_lookup(lookup({{"ATTNSCALE_COMM_TIMEOUT_S", "7.5"}}), base).timeout,
            std::chrono::milliseconds(7500));
  EXPECT_EQ(timeout_from_seconds(0.0001), std::chrono::milliseconds(1));  // rounded up, never 0
  EXPECT_EQ(timeout_from_seconds(1e20), std::chrono::hours(24 * 365));    // capped, no overflow
}

void expect_config_error(const std::string& variable, const std::string& value) {
  try {
    FakeEnv(std::map<std::string, std::string>{{variable, value}}).read();
    ADD_FAILURE() << variable << "=" << value << " was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(variable), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).rfind("[comm]", 0), 0u) << e.what();
  }
}

TEST(CommSettings, RejectsMalformedValuesNamingTheVariable) {
  expect_config_error("ATTNSCALE_COMM_TIMEOUT_S", "abc");
  expect_config_error("ATTNSCALE_COMM_TIMEOUT_S", "-1");
  expect_config_error("ATTNSCALE_COMM_TIMEOUT_S", "0");
  expect_config_error("ATTNSCALE_COMM_TIMEOUT_S", "5s");
  expect_config_error("ATTNSCALE_FAULT_KILL_RANK", "-2");
  expect_config_error("ATTNSCALE_FAULT_AT_OP", "0");
  expect_config_error("ATTNSCALE_FAULT_MODE", "explode");
}

TEST(CommStats, TotalsAndReset) {
  CommStats stats;
  stats[CommOp::send].calls = 2;
  stats[CommOp::send].bytes_sent = 100;
  stats[CommOp::all_reduce].calls = 1;
  stats[CommOp::all_reduce].bytes_received = 40;
  stats[CommOp::all_reduce].wait_seconds = 0.5;
  const OpStats total = stats.total();
  EXPECT_EQ(total.calls, 3u);
  EXPECT_EQ(total.bytes_sent, 100u);
  EXPECT_EQ(total.bytes_received, 40u);
  EXPECT_DOUBLE_EQ(total.wait_seconds, 0.5);
  EXPECT_NE(stats.summary().find("all_reduce: 1 calls"), std::string::npos) << stats.summary();
  EXPECT_EQ(stats.summary().find("barrier"), std::string::npos);
  stats.reset();
  EXPECT_EQ(stats.total().calls, 0u);
}

}  // namespace
}  // namespace attnscale
