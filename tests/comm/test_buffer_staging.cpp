// StagedBuffers (distributed/comm/buffer_staging.h), the part of device-buffer staging that is the
// same for every backend: only buffers the staging claims are staged, inputs are copied in before
// the transport starts, outputs copied back exactly once and only when the operation completes,
// and the blocks live as long as the operation.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "distributed/comm/buffer_staging.h"

namespace attnscale {
namespace {

// "Foreign" memory is one array the fake transport cannot read; blocks are counted while alive.
struct FakeStaging final : BufferStaging {
  std::vector<double>* foreign = nullptr;
  mutable int blocks_alive = 0, copies_in = 0, copies_out = 0;

  struct Block final : StagingBlock {
    Block(std::size_t bytes, int& alive) : data_(bytes), alive_(alive) { ++alive_; }
    ~Block() override { --alive_; }
    void* data() const override { return const_cast<std::byte*>(data_.data()); }
    std::vector<std::byte> data_;
    int& alive_;
  };

  std::string describe() const override { return "fake"; }
  bool needs_staging(const void* p) const override {
    const auto* d = static_cast<const double*>(p);
    return d >= foreign->data() && d < foreign->data() + foreign->size();
  }
  std::unique_ptr<StagingBlock> allocate(std::size_t bytes) const override {
    return std::make_unique<Block>(bytes, blocks_alive);
  }
  void into_block(void* block, const void* user, std::size_t bytes) const override {
    ++copies_in;
    std::memcpy(block, user, bytes);
  }
  void from_block(void* user, const void* block, std::size_t bytes) const override {
    ++copies_out;
    std::memcpy(user, block, bytes);
  }
};

// Completes when told; abandon() succeeds (as an MPI point-to-point cancel does).
struct ManualOp final : PendingOp {
  bool* done;
  explicit ManualOp(bool* d) : done(d) {}
  bool test() override { return *done; }
  bool abandon() noexcept override { return true; }
};

TEST(StagedBuffers, StagesOnlyForeignBuffersAndCopiesOutputsBackOnCompletion) {
  std::vector<double> foreign{1, 2, 3, 4};
  auto staging = std::make_shared<FakeStaging>();
  staging->foreign = &foreign;
  std::vector<double> host{9, 9};

  StagedBuffers staged(staging);
  const void* in = staged.in(foreign.data(), 2 * sizeof(double));
  void* out = staged.out(foreign.data() + 2, 2 * sizeof(double));
  EXPECT_EQ(staged.in(host.data(), sizeof(double)), host.data()) << "host memory is used as it is";
  ASSERT_NE(in, foreign.data());
  EXPECT_EQ(static_cast<const double*>(in)[1], 2.0) << "inputs are copied in before the transport starts";
  EXPECT_EQ(staging->copies_in, 1);

  bool done = false;
  std::unique_ptr<PendingOp> op = staged.wrap(std::make_unique<ManualOp>(&done));
  static_cast<double*>(out)[0] = 7;  // the transport writes the staged output
  static_cast<double*>(out)[1] = 8;
  EXPECT_FALSE(op->test());
  EXPECT_EQ(foreign[2], 3.0) << "nothing is copied back before completion";
  done = true;
  EXPECT_TRUE(op->test());
  EXPECT_TRUE(op->test());
  EXPECT_EQ(foreign[2], 7.0);
  EXPECT_EQ(foreign[3], 8.0);
  EXPECT_EQ(staging->copies_out, 1) << "copied back exactly once";
  EXPECT_EQ(staging->blocks_alive, 2);
  op.reset();
  EXPECT_EQ(staging->blocks_alive, 0) << "the blocks live exactly as long as the operation";
}

TEST(StagedBuffers, NothingStagedLeavesTheOperationAsItIs) {
  std::vector<double> foreign{1};
  auto staging = std::make_shared<FakeStaging>();
  staging->foreign = &foreign;
  std::vector<double> host{5};
  StagedBuffers staged(staging);
  EXPECT_EQ(staged.in_out(host.data(), sizeof(double)), host.data());
  bool done = true;
  auto inner = std::make_unique<ManualOp>(&done);
  PendingOp* raw = inner.get();
  EXPECT_EQ(staged.wrap(std::move(inner)).get(), raw);
  StagedBuffers none(nullptr);
  EXPECT_EQ(none.out(foreign.data(), sizeof(double)), foreign.data()) << "no staging: every buffer as it is";
}

TEST(StagedBuffers, AnAbandonedOperationFreesItsBlocksWithoutCopyingBack) {
  std::vector<double> foreign{1, 2};
  auto staging = std::make_shared<FakeStaging>();
  staging->foreign = &foreign;
  StagedBuffers staged(staging);
  staged.in_out(foreign.data(), 2 * sizeof(double));
  bool done = false;
  std::unique_ptr<PendingOp> op = staged.wrap(std::make_unique<ManualOp>(&done));
  EXPECT_TRUE(op->abandon());
  op.reset();
  EXPECT_EQ(staging->blocks_alive, 0);
  EXPECT_EQ(staging->copies_out, 0);
}

}  // namespace
}  // namespace attnscale
