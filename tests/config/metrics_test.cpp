// metrics.jsonl: one object per step, standard fields first, extras merged, resume truncation.
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "base/error.h"
#include "framework/io/metrics.h"
#include "tests/config/test_support.h"

namespace attnscale {
namespace {

using testing::TempDir;

StepMetrics step_metrics(std::int64_t step) {
  StepMetrics m;
  m.step = step;
  m.loss = 2.5 / static_cast<double>(step);
  m.lr = 1e-3;
  m.grad_norm = 0.75;
  m.tokens_per_s = 12345.5;
  m.step_time_s = 0.25;
  m.comm_time_s = 0.0625;
  m.peak_mem_bytes = std::int64_t{3} << 30;
  return m;
}

TEST(Metrics, OneObjectPerStepWithEveryStandardField) {
  TempDir dir;
  {
    MetricsWriter writer(dir / "metrics.jsonl", 0);
    for (int step = 1; step <= 3; ++step) {
      StepMetrics m = step_metrics(step);
      m.extra["accuracy"] = 0.5 + 0.1 * step;
      m.extra["phase"] = "train";
      writer.write(m);
    }
    // Flushed as written: readable before the writer closes.
    EXPECT_EQ(read_metrics(dir / "metrics.jsonl").size(), 3u);
  }
  const auto records = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(records.size(), 3u);
  const auto& last = records[2];
  EXPECT_EQ(last.begin().key(), "step");
  EXPECT_EQ(last["step"], 3);
  EXPECT_DOUBLE_EQ(last["loss"].get<double>(), 2.5 / 3);
  EXPECT_DOUBLE_EQ(last["lr"].get<double>(), 1e-3);
  EXPECT_DOUBLE_EQ(last["grad_norm"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(last["tokens_per_s"].get<double>(), 12345.5);
  EXPECT_DOUBLE_EQ(last["step_time_s"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(last["comm_time_s"].get<double>(), 0.0625);
  EXPECT_EQ(last["peak_mem_bytes"].get<std::int64_t>(), std::int64_t{3} << 30);
  EXPECT_DOUBLE_EQ(last["accuracy"].get<double>(), 0.8);
  EXPECT_EQ(last["phase"], "train");
}

TEST(Metrics, PeakDeviceMemoryOnlyOnGpuRuns) {
  StepMetrics m;
  EXPECT_FALSE(to_json(m).contains("peak_device_mem_bytes"));  // a CPU run
  m.peak_device_mem_bytes = 123456789;
  EXPECT_EQ(to_json(m)["peak_device_mem_bytes"], 123456789);
  m.extra["peak_device_mem_bytes"] = 1;
  EXPECT_THROW(to_json(m), UsageError);  // a standard field now
}

TEST(Metrics, NonFiniteValuesAreNullAndExtrasCannotShadowStandardFields) {
  TempDir dir;
  MetricsWriter writer(dir / "metrics.jsonl", 0);
  StepMetrics diverged = step_metrics(1);
  diverged.loss = std::nan("");
  diverged.grad_norm = INFINITY;
  writer.write(diverged);
  const auto records = read_metrics(dir / "metrics.jsonl");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0]["loss"].is_null());
  EXPECT_TRUE(records[0]["grad_norm"].is_null());
  StepMetrics shadowing = step_metrics(2);
  shadowing.extra["loss"] = 1.0;
  EXPECT_THROW(writer.write(shadowing), UsageError);
}

TEST(Metrics, ResumeKeepsEarlierStepsAndDropsLaterAndTornLines) {
  TempDir dir;
  const auto file = dir / "metrics.jsonl";
  {
    MetricsWriter writer(file, 0);
    for (int step = 1; step <= 10; ++step) writer.write(step_metrics(step));
  }
  testing::write_file(file, testing::read_file(file) + "{\"step\": 11, \"loss\": 0.");  // crash mid-line
  {
    MetricsWriter resumed(file, 6);  // checkpoint after step 5
    resumed.write(step_metrics(6));
  }
  const auto records = read_metrics(file);
  ASSERT_EQ(records.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(records[i]["step"], i + 1);
  { MetricsWriter fresh(file, 0); }
  EXPECT_TRUE(read_metrics(file).empty()) << "a fresh run starts an empty file";
}

TEST(Metrics, ReadingAMalformedFileNamesTheLine) {
  TempDir dir;
  testing::write_file(dir / "bad.jsonl", "{\"step\": 1}\nnot json\n");
  try {
    read_metrics(dir / "bad.jsonl");
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace attnscale
