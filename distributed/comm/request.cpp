#include "distributed/comm/request.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <thread>

#include "base/error.h"
#include "base/logging.h"

namespace attnscale {
namespace {

using Clock = std::chrono::steady_clock;

// Spin first (a transfer in flight usually ends within microseconds), then yield so that ranks
// sharing a core can run, then sleep so that a rank waiting for a dead peer stops burning a core.
void back_off(Clock::duration waited) {
  using std::chrono::microseconds;
  if (waited < microseconds(50)) return;
  if (waited < std::chrono::milliseconds(10)) {
    std::this_thread::yield();
    return;
  }
  std::this_thread::sleep_for(microseconds(100));
}

std::string step_text(const CommState& state) {
  const std::string step = state.context->step();
  return step.empty() ? std::string("(no step label set)") : fmt::format("'{}'", step);
}

}  // namespace

Request::Request(std::unique_ptr<PendingOp> op, std::shared_ptr<CommState> state, const OpInfo& info)
    : op_(std::move(op)), state_(std::move(state)), info_(info) {
  state_->in_flight.push_back(op_.get());
}

Request& Request::operator=(Request&& other) noexcept {
  if (this != &other) {
    finish_on_drop();
    op_ = std::move(other.op_);
    state_ = std::move(other.state_);
    info_ = other.info_;
  }
  return *this;
}

Request::~Request() { finish_on_drop(); }

bool Request::test() {
  if (!op_) return true;
  bool done = false;
  try {
    done = op_->test();
  } catch (const std::exception& e) {
    const std::string what = fmt::format("{} ({}, {} at step {})", e.what(), state_->where(),
                                         describe(info_), step_text(*state_));
    abandon();
    throw RuntimeFailure(what);
  }
  if (done) release();
  return done;
}

void Request::wait() {
  if (!op_) return;
  const Clock::time_point start = Clock::now();
  const std::chrono::milliseconds timeout = state_->timeout;
  while (!test()) {
    const Clock::duration waited = Clock::now() - start;
    if (waited >= timeout) {
      const std::string what = fmt::format(
          "[comm] {}: {} timed out after {:.1f} s at step {}: a peer died, hangs, or skipped "
          "this operation",
          state_->where(), describe(info_), std::chrono::duration<double>(timeout).count(),
          step_text(*state_));
      state_->stats[info_.kind].wait_seconds += std::chrono::duration<double>(waited).count();
      abandon();
      throw RuntimeFailure(what);
    }
    back_off(waited);
  }
  state_->stats[info_.kind].wait_seconds += std::chrono::duration<double>(Clock::now() - start).count();
}

void Request::wait_all(std::span<Request> requests) {
  for (Request& request : requests) request.wait();
}

void Request::release() noexcept {
  std::erase(state_->in_flight, op_.get());
  op_.reset();
}

void Request::abandon() noexcept {
  if (!op_) return;
  std::erase(state_->in_flight, op_.get());
  if (op_->abandon()) {
    op_.reset();
    return;
  }
  try {
    state_->broken = fmt::format("an abandoned {} could not be cancelled", describe(info_));
    state_->orphans.push_back(std::move(op_));
  } catch (...) {
    // Out of memory while recording the orphan: leaking the handle beats freeing an active one.
    (void)op_.release();
  }
}

void Request::finish_on_drop() noexcept {
  if (!op_) return;
  if (std::uncaught_exceptions() > 0) {
    abandon();
    return;
  }
  try {
    wait();
  } catch (const std::exception& e) {
    LOG_ERROR("{} (while dropping a pending request)", e.what());
  }
}

}  // namespace attnscale
