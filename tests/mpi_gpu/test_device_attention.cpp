// The context-parallel attention schedules on device tensors under 2, 3 and 4 ranks, through the
// device communicator: outputs and the gradients of q, k, v equal the single-rank fused op on the
// CPU over the whole sequence (the comparison fails on NaN). Ring forward and backward (causal,
// window, segments, every layout), Ulysses, hybrid, and halo / block fetch / all-gather (which run
// on host copies for now). Tiny shapes: the emulator runs every kernel on the CPU.
#include <gtest/gtest.h>

#include <string>

#include "distributed/comm/process_grid.h"
#include "distributed/context_parallel/context_parallel_attention.h"
#include "distributed/context_parallel/sequence_parallel_attention.h"
#include "tests/mpi/cp_test_util.h"
#include "tests/mpi_gpu/device_test_env.h"

namespace attnscale {
namespace {

using kernels::LayoutKind;

enum class MaskKind { none, causal, wide_window, segments, window, blocks };

AttentionSpec global_spec(MaskKind kind, int64_t batch, int64_t length) {
  AttentionSpec spec;
  switch (kind) {
    case MaskKind::none: break;
    case MaskKind::causal: spec.mask.causal = true; break;
    case MaskKind::wide_window:  // blocks travel two hops and shed rows on the way
      spec.mask.causal = true;
      spec.mask.window = kernels::Window{6, 0};
      break;
    case MaskKind::segments:
      spec.mask.causal = true;
      spec.q_segment = spec.k_segment = test::random_segments(batch, length, 7);
      break;
    case MaskKind::window:
      spec.mask.causal = true;
      spec.mask.window = kernels::Window{2, 0};
      break;
    case MaskKind::blocks:
      spec.mask.blocks = std::make_shared<kernels::BlockPattern>(
          kernels::BlockPattern::strided(3, (length + 2) / 3, 2, true));
      break;
  }
  return spec;
}

struct DeviceCase {
  ParallelAlgo algo = ParallelAlgo::ring;
  LayoutKind layout = LayoutKind::contiguous;
  MaskKind mask = MaskKind::causal;
  int ulysses = 1;
  int64_t q_heads = 2, kv_heads = 1;
  DType dtype = DType::f64;
  std::string name() const {
    return fmt::format("{} / {} / mask {} / U={} / {}", parallel_algo_name(algo), kernels::layout_kind_name(layout),
                       static_cast<int>(mask), ulysses, dtype == DType::f64 ? "f64" : "f32");
  }
};

void check_case(const DeviceCase& c, Device device, Communicator& comm) {
  SCOPED_TRACE(c.name());
  const int ranks = comm.size();
  ProcessGrid grid(comm, GridShape{.dp = 1, .cp = ranks, .ulysses = c.ulysses});
  const int64_t batch = 2, length = 13, d = 8, dv = 6;  // 13: not divisible by 2, 3 or 4
  const kernels::Layout layout(c.layout, length, ranks);
  const ContextParallelGroup group{&grid.cp(), &grid.ulysses(), &grid.ring(), c.algo, layout};

  const Tensor q = test::random_tensor({batch, c.q_heads, length, d}, 11, c.dtype).set_requires_grad();
  const Tensor k = test::random_tensor({batch, c.kv_heads, length, d}, 12, c.dtype).set_requires_grad();
  const Tensor v = test::random_tensor({batch, c.kv_heads, length, dv}, 13, c.dtype).set_requires_grad();
  const Tensor dout = test::random_tensor({batch, c.q_heads, length, dv}, 14, c.dtype);
  const AttentionSpec whole = global_spec(c.mask, batch, length);
  const Tensor ref_out = fused_attention(q, k, v, whole);  // one rank, CPU
  ref_out.backward(dout);

  const kernels::Positions mine = layout.positions(grid.cp().rank());
  const Tensor lq = test::shard_rows(q.detach(), mine).to(device).set_requires_grad();
  const Tensor lk = test::shard_rows(k.detach(), mine).to(device).set_requires_grad();
  const Tensor lv = test::shard_rows(v.detach(), mine).to(device).set_requires_grad();
  AttentionSpec spec;
  spec.mask = whole.mask;
  spec.q_segment = test::shard_tokens(whole.q_segment, batch, mine);
  spec.k_segment = test::shard_tokens(whole.k_segment, batch, mine);
  const Tensor out = sequence_parallel_attention(lq, lk, lv, spec, group);
  EXPECT_EQ(out.device(), device) << "the output left the device";
  out.backward(test::shard_rows(dout, mine).to(device));
  ASSERT_TRUE(lq.grad().defined() && lk.grad().defined() && lv.grad().defined());
  EXPECT_EQ(lq.grad().device(), device) << "the gradient left the device";

  const double tol = c.dtype == DType::f64 ? 1e-10 : 3e-5;
  const auto rows = [&](const Tensor& t) { return test::shard_rows(t.detach(), mine); };
  EXPECT_LE(test::max_abs_diff(out.to(kCpu), rows(ref_out)), tol) << "out";
  EXPECT_LE(test::max_abs_diff(lq.grad().to(kCpu), rows(q.grad())), tol) << "dq";
  EXPECT_LE(test::max_abs_diff(lk.grad().to(kCpu), rows(k.grad())), tol) << "dk";
  EXPECT_LE(test::max_abs_diff(lv.grad().to(kCpu), rows(v.grad())), tol) << "dv";
}

TEST(DeviceContextParallel, RingForwardBackwardEveryLayoutMatchesOneRankOnTheCpu) {
  ATTNSCALE_REQUIRE_RANK_GPU(device);
  const DeviceCommChoice choice = test::device_world(device);
  // Every layout causal; the other masks on one layout each (the emulator is slow).
  for (const LayoutKind layout : {LayoutKind::contiguous, LayoutKind::zigzag, LayoutKind::striped})
    check_case({.algo = ParallelAlgo::ring, .layout = layout, .mask = MaskKind::causal}, device, *choice.comm);
  check_case({.algo = ParallelAlgo::ring, .layout = LayoutKind::contiguous, .mask = MaskKind::wide_window}, device,
             *choice.comm);
  check_case({.algo = ParallelAlgo::ring, .layout = LayoutKind::zigzag, .mask = MaskKind::segments}, device,
             *choice.comm);
  check_case({.algo = ParallelAlgo::ring, .layout = LayoutKind::striped, .mask = MaskKind::none}, device,
             *choice.comm);
  check_case({.algo = ParallelAlgo::ring, .layout = LayoutKind::zigzag, .dtype = DType::f32}, device, *choice.comm);
}

TEST(DeviceContextParallel, UlyssesAndHybridMatchOneRankOnTheCpu) {
  ATTNSCALE_REQUIRE_RANK_GPU(device);
  const DeviceCommChoice choice = test::device_world(device);
  const int ranks = choice.comm->size();
  // Heads divisible by every group size; kv heads replicated (U % kv == 0) and sharded.
  check_case({.algo = ParallelAlgo::ulysses, .layout = LayoutKind::zigzag, .ulysses = ranks, .q_heads = 12,
              .kv_heads = 1},
             device, *choice.comm);
  check_case({.algo = ParallelAlgo::ulysses, .layout = LayoutKind::contiguous, .mask = MaskKind::segments,
              .ulysses = ranks, .q_heads = 12, .kv_heads = 12},
             device, *choice.comm);
  if (ranks == 4)
    check_case({.algo = ParallelAlgo::hybrid, .layout = LayoutKind::zigzag, .ulysses = 2, .q_heads = 4,
                .kv_heads = 2},
               device, *choice.comm);
}

TEST(DeviceContextParallel, HaloFetchAndAllGatherMatchOneRankOnTheCpu) {
  ATTNSCALE_REQUIRE_RANK_GPU(device);
  const DeviceCommChoice choice = test::device_world(device);
  check_case({.algo = ParallelAlgo::halo, .mask = MaskKind::window}, device, *choice.comm);
  check_case({.algo = ParallelAlgo::sparse_fetch, .mask = MaskKind::blocks}, device, *choice.comm);
  check_case({.algo = ParallelAlgo::all_gather, .mask = MaskKind::causal}, device, *choice.comm);
}

}  // namespace
}  // namespace attnscale
