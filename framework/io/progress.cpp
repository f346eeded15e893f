#include "framework/io/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <string_view>

#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include "base/logging.h"

namespace attnscale {

std::string format_duration(double seconds) {
  const auto total = static_cast<std::int64_t>(std::llround(std::max(seconds, 0.0)));
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, total % 3600 / 60);
}

namespace {

std::string format_rate(double per_s) {
  if (!std::isfinite(per_s)) return "-";
  if (per_s >= 1e6) return fmt::format("{:.2f}M", per_s / 1e6);
  if (per_s >= 1e3) return fmt::format("{:.1f}k", per_s / 1e3);
  return fmt::format("{:.0f}", per_s);
}

bool is_terminal(std::FILE* stream) {
  const char* term = std::getenv("TERM");
  return ::isatty(::fileno(stream)) == 1 && !(term != nullptr && std::string_view(term) == "dumb");
}

}  // namespace

std::string format_progress(std::int64_t step, std::int64_t total_steps, double loss, double tokens_per_s,
                            double eta_s) {
  const double percent = total_steps > 0 ? 100.0 * static_cast<double>(step) / static_cast<double>(total_steps) : 0.0;
  const std::string loss_text = std::isfinite(loss) ? fmt::format("{:.4f}", loss) : "-";
  const std::string eta_text = eta_s < 0 ? "--" : format_duration(eta_s);
  return fmt::format("step {}/{} ({:.0f}%) | loss {} | {} tok/s | ETA {}", step, total_steps, percent, loss_text,
                     format_rate(tokens_per_s), eta_text);
}

// The live line on the terminal. The logger gets two hooks: one first in its sink list clears the
// line before a log line is written, one last redraws it after.
class ProgressLine::LiveLine {
 public:
  explicit LiveLine(std::FILE* terminal) : terminal_(terminal) {}

  void show(std::string text) {
    std::lock_guard lock(mutex_);
    text_ = std::move(text);
    draw_locked();
  }
  void clear() {
    std::lock_guard lock(mutex_);
    if (shown_) std::fputs("\r\033[K", terminal_);
    std::fflush(terminal_);
    shown_ = false;
  }
  void redraw() {
    std::lock_guard lock(mutex_);
    if (!text_.empty()) draw_locked();
  }
  void remove() {
    clear();
    std::lock_guard lock(mutex_);
    text_.clear();
  }

 private:
  void draw_locked() {
    std::fprintf(terminal_, "\r\033[K%s", text_.c_str());
    std::fflush(terminal_);
    shown_ = true;
  }

  std::mutex mutex_;
  std::FILE* terminal_;
  std::string text_;
  bool shown_ = false;
};

namespace {

template <bool before_log>
class LiveLineHook : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LiveLineHook(std::shared_ptr<ProgressLine::LiveLine> line) : line_(std::move(line)) {}
  const ProgressLine::LiveLine* owner() const { return line_.get(); }

 protected:
  void sink_it_(const spdlog::details::log_msg&) override {
    if (before_log) line_->clear();
    else line_->redraw();
  }
  void flush_() override {}

 private:
  std::shared_ptr<ProgressLine::LiveLine> line_;
};

}  // namespace

ProgressLine::ProgressLine(std::int64_t total_steps, std::int64_t log_every, config::ProgressMode mode, int rank,
                           std::FILE* terminal)
    : total_steps_(total_steps),
      log_every_(std::max<std::int64_t>(log_every, 1)),
      enabled_(rank == 0 && mode != config::ProgressMode::off) {
  const bool want_live =
      enabled_ && (mode == config::ProgressMode::on || (mode == config::ProgressMode::auto_ && is_terminal(terminal)));
  if (!want_live) return;
  live_ = std::make_shared<LiveLine>(terminal);
  auto& sinks = logger().sinks();
  sinks.insert(sinks.begin(), std::make_shared<LiveLineHook<true>>(live_));
  sinks.push_back(std::make_shared<LiveLineHook<false>>(live_));
}

ProgressLine::~ProgressLine() {
  if (!live_) return;
  live_->remove();
  auto& sinks = logger().sinks();
  std::erase_if(sinks, [this](const spdlog::sink_ptr& sink) {
    if (auto* hook = dynamic_cast<LiveLineHook<true>*>(sink.get())) return hook->owner() == live_.get();
    if (auto* hook = dynamic_cast<LiveLineHook<false>*>(sink.get())) return hook->owner() == live_.get();
    return false;
  });
}

void ProgressLine::update(std::int64_t step, double loss, double tokens_per_s) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  if (!first_update_) first_update_.emplace(step, now);
  double eta_s = -1;
  const std::int64_t steps_timed = step - first_update_->first;
  if (steps_timed > 0) {
    const double per_step = std::chrono::duration<double>(now - first_update_->second).count() /
                            static_cast<double>(steps_timed);
    eta_s = per_step * static_cast<double>(std::max<std::int64_t>(total_steps_ - step, 0));
  }
  const std::string text = format_progress(step, total_steps_, loss, tokens_per_s, eta_s);
  const bool last = step >= total_steps_;
  if (step % log_every_ == 0 || last) LOG_INFO("{}", text);
  // Redraw at most ten times a second: a terminal is slower than a fast training step.
  if (live_ && (last || now - last_draw_ >= std::chrono::milliseconds(100))) {
    live_->show(text);
    last_draw_ = now;
  }
}

}  // namespace attnscale
