// halo_prefix under 2, 3 and 4 ranks: each rank gets the `rows` tokens before its shard (zeros
// before the sequence), from one or several ranks back, and in the backward each token's gradient
// is the sum of the gradients of every copy of it (its own row and the other ranks' prefixes).
#include <gtest/gtest.h>

#include "distributed/sequence_parallel/halo_prefix.h"
#include "framework/core/ops/ops.h"
#include "tests/mpi/cp_test_util.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

void check(int64_t length, int64_t rows) {
  auto comm = test::fresh_comm("halo_prefix");
  const int ranks = comm->size(), rank = comm->rank();
  SCOPED_TRACE(fmt::format("N={} rows={} over {} ranks", length, rows, ranks));
  const kernels::Layout layout(kernels::LayoutKind::contiguous, length, ranks);
  const int64_t width = 3, heads = 2;
  const Tensor global = test::random_tensor({1, heads, length, width}, 5);
  const Tensor mine = test::shard_rows(global, layout.positions(rank)).set_requires_grad();
  const Tensor out = halo_prefix(mine, comm.get(), layout, rows);
  const int64_t n = layout.local_length(rank), first = layout.global_position(rank, 0);
  ASSERT_EQ(out.shape(), (Shape{1, heads, rows + n, width}));

  // Values: row i of the output is global token first - rows + i (zero before the sequence).
  const auto got = out.to_vector<double>(), all = global.to_vector<double>();
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < rows + n; ++i)
      for (int64_t c = 0; c < width; ++c) {
        const int64_t pos = first - rows + i;
        const double expected = pos < 0 ? 0.0 : all[static_cast<size_t>((h * length + pos) * width + c)];
        ASSERT_EQ(got[static_cast<size_t>((h * (rows + n) + i) * width + c)], expected) << "h " << h << " row " << i;
      }

  // Gradients: with an all-ones output gradient, a token's gradient counts its copies: itself plus
  // every later rank whose prefix reaches it.
  out.backward(Tensor::full(out.shape(), 1.0, DType::f64));
  const auto grad = mine.grad().to_vector<double>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t pos = first + i;
    double copies = 1;
    for (int r = 0; r < ranks; ++r)
      if (r != rank && layout.local_length(r) > 0) {
        const int64_t start = layout.global_position(r, 0);
        copies += pos >= start - rows && pos < start ? 1 : 0;
      }
    for (int64_t h = 0; h < heads; ++h)
      EXPECT_EQ(grad[static_cast<size_t>((h * n + i) * width)], copies) << "token " << pos;
  }
}

TEST(HaloPrefix, NarrowerThanAShard) { check(23, 2); }
TEST(HaloPrefix, WiderThanAShardReachesSeveralRanksBack) { check(17, 11); }
TEST(HaloPrefix, NoRows) { check(9, 0); }

}  // namespace
}  // namespace attnscale
