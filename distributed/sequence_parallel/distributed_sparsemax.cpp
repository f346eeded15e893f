#include "distributed/sequence_parallel/distributed_sparsemax.h"

#include <cmath>
#include <limits>
#include <vector>

#include "framework/core/autograd/node.h"

namespace attnscale {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// tau of every row; z is [rows, width] row-major.
template <typename T>
std::vector<double> thresholds(const T* z, int64_t rows, int64_t width, Communicator& comm) {
  const auto r_count = static_cast<size_t>(rows);
  std::vector<double> row_max(r_count, -inf);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < width; ++j)
      row_max[static_cast<size_t>(r)] =
          std::max(row_max[static_cast<size_t>(r)], static_cast<double>(z[r * width + j]));
  comm.all_reduce(row_max, ReduceOp::max);
  std::vector<double> tau(r_count), support(r_count, -1), sums(2 * r_count);
  for (size_t r = 0; r < r_count; ++r) tau[r] = std::isfinite(row_max[r]) ? row_max[r] - 1 : inf;
  // Each change shrinks some row's support, so the loop ends; the bound only guards against a bug.
  for (int iteration = 0, changed = 1; changed; ++iteration) {
    ATTNSCALE_CHECK(iteration < 10000, "distributed_sparsemax", "the threshold did not converge");
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const auto ri = static_cast<size_t>(r);
      for (int64_t j = 0; j < width; ++j) {
        const double x = z[r * width + j];
        if (x > tau[ri]) {
          sums[2 * ri] += x;
          sums[2 * ri + 1] += 1;
        }
      }
    }
    comm.all_reduce(sums, ReduceOp::sum);
    changed = 0;
    for (size_t r = 0; r < r_count; ++r) {
      const double count = sums[2 * r + 1];
      if (count == support[r] || count == 0) continue;  // converged, or a fully masked row
      support[r] = count;
      tau[r] = (sums[2 * r] - 1) / count;
      changed = 1;
    }
  }
  return tau;
}

template <typename T>
void backward_rows(const T* p, const T* dp, T* dz, int64_t rows, int64_t width, Communicator& comm) {
  std::vector<double> sums(2 * static_cast<size_t>(rows), 0.0);  // sum of dp on the support, its size
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < width; ++j)
      if (p[r * width + j] > 0) {
        sums[2 * static_cast<size_t>(r)] += dp[r * width + j];
        sums[2 * static_cast<size_t>(r) + 1] += 1;
      }
  comm.all_reduce(sums, ReduceOp::sum);
  for (int64_t r = 0; r < rows; ++r) {
    const double count = sums[2 * static_cast<size_t>(r) + 1];
    const double mean = count > 0 ? sums[2 * static_cast<size_t>(r)] / count : 0;
    for (int64_t j = 0; j < width; ++j)
      dz[r * width + j] = p[r * width + j] > 0 ? static_cast<T>(dp[r * width + j] - mean) : T{0};
  }
}

}  // namespace

Tensor distributed_sparsemax(const Tensor& scores_in, Communicator& comm) {
  ATTNSCALE_CHECK(scores_in.dim() >= 1, "distributed_sparsemax", "expects scores [..., keys], got a scalar");
  const Tensor scores = scores_in.contiguous();
  const int64_t width = scores.shape().back();
  const int64_t rows = width > 0 ? scores.numel() / width : 0;
  // Every rank must reduce the same number of rows, or the all-reduces would not match.
  const auto all_rows = comm.all_gather_value(rows);
  for (size_t r = 0; r < all_rows.size(); ++r)
    ATTNSCALE_CHECK(all_rows[r] == rows, "distributed_sparsemax",
                    "rank {} has {} score rows, rank {} has {} (the leading shape must agree)", comm.rank(), rows, r,
                    all_rows[r]);
  Tensor p = Tensor::empty(scores.shape(), scores.dtype());
  ATTNSCALE_DISPATCH_FLOAT(scores.dtype(), "distributed_sparsemax", [&] {
    using T = scalar_t;
    const T* z = scores.data<T>();
    const std::vector<double> tau = thresholds<T>(z, rows, width, comm);
    T* out = p.data<T>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < width; ++j)
        out[r * width + j] =
            static_cast<T>(std::max(static_cast<double>(z[r * width + j]) - tau[static_cast<size_t>(r)], 0.0));
  });
  const Tensor p_saved = p.detach();
  Communicator* comm_ptr = &comm;
  return autograd::record(p, "distributed_sparsemax", {scores}, [p_saved, comm_ptr, rows, width](const Tensor& g) {
    const Tensor dp = g.contiguous();
    Tensor dz = Tensor::empty(p_saved.shape(), p_saved.dtype());
    ATTNSCALE_DISPATCH_FLOAT(p_saved.dtype(), "distributed_sparsemax", [&] {
      using T = scalar_t;
      backward_rows<T>(p_saved.data<T>(), dp.data<T>(), dz.data<T>(), rows, width, *comm_ptr);
    });
    return std::vector<Tensor>{dz};
  });
}

}  // namespace attnscale
