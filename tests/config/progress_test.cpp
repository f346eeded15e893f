// The progress line: its text, periodic log lines, the live line on a terminal and its removal.
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include "base/logging.h"
#include "framework/io/progress.h"

namespace attnscale {
namespace {

TEST(Progress, FormatsStepLossThroughputAndEta) {
  EXPECT_EQ(format_progress(120, 500, 2.34567, 12345.0, 83.0),
            "step 120/500 (24%) | loss 2.3457 | 12.3k tok/s | ETA 1m23s");
  EXPECT_EQ(format_progress(1, 10, std::nan(""), 2.5e6, -1), "step 1/10 (10%) | loss - | 2.50M tok/s | ETA --");
  EXPECT_EQ(format_duration(0.4), "0s");
  EXPECT_EQ(format_duration(59.6), "1m00s");
  EXPECT_EQ(format_duration(3 * 3600 + 7 * 60 + 5), "3h07m");
}

// Captures what the logger writes, and restores its sinks afterwards.
class LogCapture {
 public:
  LogCapture() : sinks_(logger().sinks()) {
    logger().sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_));
  }
  ~LogCapture() { logger().sinks() = sinks_; }
  std::string text() const { return text_.str(); }

 private:
  std::vector<spdlog::sink_ptr> sinks_;
  std::ostringstream text_;
};

std::string contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text += static_cast<char>(c);
  return text;
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1)) ++n;
  return n;
}

TEST(Progress, NotATerminalGivesPlainLinesEveryLogEveryAndAtTheEnd) {
  LogCapture log;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::tmpfile(), &std::fclose);
  {
    ProgressLine progress(25, 10, config::ProgressMode::auto_, 0, file.get());
    EXPECT_FALSE(progress.live());
    for (int step = 1; step <= 25; ++step) progress.update(step, 1.0, 100.0);
  }
  EXPECT_EQ(count(log.text(), "step "), 3u) << log.text();
  EXPECT_NE(log.text().find("step 10/25"), std::string::npos);
  EXPECT_NE(log.text().find("step 20/25"), std::string::npos);
  EXPECT_NE(log.text().find("step 25/25 (100%)"), std::string::npos);
  EXPECT_EQ(contents(file.get()), "") << "no live line when the stream is not a terminal";
}

TEST(Progress, OffAndOtherRanksShowNothing) {
  LogCapture log;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::tmpfile(), &std::fclose);
  {
    ProgressLine off(5, 1, config::ProgressMode::off, 0, file.get());
    ProgressLine rank1(5, 1, config::ProgressMode::on, 1, file.get());
    for (int step = 1; step <= 5; ++step) {
      off.update(step, 1.0, 1.0);
      rank1.update(step, 1.0, 1.0);
    }
  }
  EXPECT_EQ(log.text(), "");
  EXPECT_EQ(contents(file.get()), "");
}

TEST(Progress, LiveLineStepsAsideForLogLinesAndIsRemovedAtTheEnd) {
  LogCapture log;
  const std::size_t sinks_before = logger().sinks().size();
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::tmpfile(), &std::fclose);
  {
    ProgressLine progress(100, 50, config::ProgressMode::on, 0, file.get());
    ASSERT_TRUE(progress.live());
    progress.update(1, 3.0, 10.0);
    const std::string drawn = contents(file.get());
    EXPECT_EQ(drawn, "\r\033[Kstep 1/100 (1%) | loss 3.0000 | 10 tok/s | ETA --");
    LOG_INFO("checkpoint saved");
    // Cleared before the log line, drawn again after it.
    EXPECT_EQ(contents(file.get()), drawn + "\r\033[K" + drawn);
  }
  EXPECT_EQ(logger().sinks().size(), sinks_before) << "the logger hooks leave with the line";
  EXPECT_TRUE(contents(file.get()).ends_with("\r\033[K")) << "the live line is erased at the end";
  EXPECT_NE(log.text().find("checkpoint saved"), std::string::npos);
}

}  // namespace
}  // namespace attnscale
