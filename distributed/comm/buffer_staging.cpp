#include "distributed/comm/buffer_staging.h"

#include <utility>

namespace attnscale {
namespace {

// The transport's operation over staged blocks; copies the outputs back once it completed.
class StagedOp final : public PendingOp {
 public:
  using Finish = std::function<void()>;
  StagedOp(std::unique_ptr<PendingOp> inner, std::vector<std::unique_ptr<StagingBlock>> blocks, Finish finish)
      : inner_(std::move(inner)), blocks_(std::move(blocks)), finish_(std::move(finish)) {}

  bool test() override {
    if (finished_) return true;
    if (!inner_->test()) return false;
    finished_ = true;
    if (finish_) finish_();
    return true;
  }
  // The blocks go with this op: freed only once the transport released the inner operation.
  bool abandon() noexcept override { return finished_ || inner_->abandon(); }

 private:
  std::unique_ptr<PendingOp> inner_;
  std::vector<std::unique_ptr<StagingBlock>> blocks_;
  Finish finish_;
  bool finished_ = false;
};

}  // namespace

void* StagedBuffers::stage(const void* user, std::size_t bytes, bool copy_in) {
  if (staging_ == nullptr || bytes == 0 || !staging_->needs_staging(user)) return const_cast<void*>(user);
  blocks_.push_back(staging_->allocate(bytes));
  void* block = blocks_.back()->data();
  if (copy_in) staging_->into_block(block, user, bytes);
  return block;
}

const void* StagedBuffers::in(const void* user, std::size_t bytes) { return stage(user, bytes, true); }

void* StagedBuffers::out(void* user, std::size_t bytes) {
  void* block = stage(user, bytes, false);
  if (block != user) copy_back_.push_back({user, blocks_.back().get(), bytes});
  return block;
}

void* StagedBuffers::in_out(void* user, std::size_t bytes) {
  void* block = stage(user, bytes, true);
  if (block != user) copy_back_.push_back({user, blocks_.back().get(), bytes});
  return block;
}

std::unique_ptr<PendingOp> StagedBuffers::wrap(std::unique_ptr<PendingOp> op) {
  if (blocks_.empty()) return op;
  StagedOp::Finish finish;
  if (!copy_back_.empty())
    finish = [staging = staging_, copies = std::move(copy_back_)] {
      for (const auto& c : copies) staging->from_block(c.user, c.block->data(), c.bytes);
    };
  return std::make_unique<StagedOp>(std::move(op), std::move(blocks_), std::move(finish));
}

}  // namespace attnscale
