#include "distributed/sequence_parallel/distributed_hard.h"

#include <cmath>
#include <limits>
#include <vector>

#include "framework/core/autograd/node.h"
#include "framework/core/ops/indexing.h"
#include "framework/core/ops/ops.h"

namespace attnscale {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

int64_t row_count(const Tensor& x) {
  const int64_t width = x.shape().back();
  return width > 0 ? x.numel() / width : 0;
}

}  // namespace

Tensor all_reduce_sum(const Tensor& x_in, Communicator& comm) {
  Tensor y = x_in.contiguous().detach().clone();
  ATTNSCALE_DISPATCH_FLOAT(y.dtype(), "all_reduce_sum", [&] {
    using T = scalar_t;
    comm.all_reduce(std::span<T>(y.data<T>(), static_cast<size_t>(y.numel())), ReduceOp::sum);
  });
  return autograd::record(y, "all_reduce_sum", {x_in}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor distributed_log_softmax(const Tensor& scores_in, Communicator& comm) {
  ATTNSCALE_CHECK(scores_in.dim() >= 1, "distributed_log_softmax", "expects scores [..., keys], got a scalar");
  const Tensor scores = scores_in.contiguous();
  const int64_t width = scores.shape().back(), rows = row_count(scores);
  Tensor out = Tensor::empty(scores.shape(), scores.dtype());
  ATTNSCALE_DISPATCH_FLOAT(scores.dtype(), "distributed_log_softmax", [&] {
    using T = scalar_t;
    const T* z = scores.data<T>();
    std::vector<double> row_max(static_cast<size_t>(rows), -inf), sum_exp(static_cast<size_t>(rows), 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < width; ++j)
        row_max[static_cast<size_t>(r)] =
            std::max(row_max[static_cast<size_t>(r)], static_cast<double>(z[r * width + j]));
    comm.all_reduce(row_max, ReduceOp::max);
    for (int64_t r = 0; r < rows; ++r) {
      const double m = row_max[static_cast<size_t>(r)];
      if (!std::isfinite(m)) continue;
      for (int64_t j = 0; j < width; ++j)
        sum_exp[static_cast<size_t>(r)] += std::exp(static_cast<double>(z[r * width + j]) - m);
    }
    comm.all_reduce(sum_exp, ReduceOp::sum);
    T* o = out.data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      const double m = row_max[static_cast<size_t>(r)];
      const double lse = std::isfinite(m) ? m + std::log(sum_exp[static_cast<size_t>(r)]) : -inf;
      // A row without a finite score anywhere: every entry -inf (probability 0), never NaN.
      for (int64_t j = 0; j < width; ++j)
        o[r * width + j] =
            std::isfinite(lse) ? static_cast<T>(static_cast<double>(z[r * width + j]) - lse) : static_cast<T>(-inf);
    }
  });
  const Tensor saved = out.detach();
  Communicator* comm_ptr = &comm;
  return autograd::record(out, "distributed_log_softmax", {scores}, [saved, comm_ptr, rows, width](const Tensor& g_in) {
    const Tensor g = g_in.contiguous();
    Tensor dz = Tensor::empty(saved.shape(), saved.dtype());
    ATTNSCALE_DISPATCH_FLOAT(saved.dtype(), "distributed_log_softmax", [&] {
      using T = scalar_t;
      const T* gp = g.data<T>();
      const T* logp = saved.data<T>();
      std::vector<double> g_sum(static_cast<size_t>(rows), 0.0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < width; ++j) g_sum[static_cast<size_t>(r)] += gp[r * width + j];
      comm_ptr->all_reduce(g_sum, ReduceOp::sum);
      T* d = dz.data<T>();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < width; ++j)
          d[r * width + j] = static_cast<T>(gp[r * width + j] - std::exp(static_cast<double>(logp[r * width + j])) *
                                                                    g_sum[static_cast<size_t>(r)]);
    });
    return std::vector<Tensor>{dz};
  });
}

Tensor distributed_argmax(const Tensor& x_in, Communicator& comm, const kernels::Positions& key_positions) {
  const Tensor x = x_in.contiguous().to(DType::f64);
  const int64_t width = x.shape().back(), rows = row_count(x);
  ATTNSCALE_CHECK(key_positions.size() == width, "distributed_argmax", "{} local entries per row but {} key positions",
                  width, key_positions.size());
  std::vector<int64_t> global(static_cast<size_t>(width));
  key_positions.fill(global);
  const double* v = x.data<double>();
  std::vector<ValueIndex> best(static_cast<size_t>(rows), ValueIndex{-inf, std::numeric_limits<int64_t>::max()});
  for (int64_t r = 0; r < rows; ++r) {
    ValueIndex& b = best[static_cast<size_t>(r)];
    for (int64_t j = 0; j < width; ++j) {
      ATTNSCALE_CHECK(!std::isnan(v[r * width + j]), "distributed_argmax", "row {} holds NaN", r);
      b = reduce_loc(b, ValueIndex{v[r * width + j], global[static_cast<size_t>(j)]}, LocOp::maxloc);
    }
  }
  comm.all_reduce_loc(best, LocOp::maxloc);
  std::vector<int64_t> index(static_cast<size_t>(rows));
  for (size_t r = 0; r < best.size(); ++r) index[r] = best[r].index;
  Shape shape = x.shape();
  shape.pop_back();
  return Tensor::from(index, shape);
}

Tensor local_one_hot(const Tensor& index, const kernels::Positions& key_positions, DType dtype) {
  const std::vector<int64_t> chosen = index.contiguous().to_vector<int64_t>();
  std::vector<int64_t> global(static_cast<size_t>(key_positions.size()));
  key_positions.fill(global);
  std::vector<double> one_hot(chosen.size() * global.size(), 0.0);
  for (size_t r = 0; r < chosen.size(); ++r)
    for (size_t j = 0; j < global.size(); ++j)
      if (global[j] == chosen[r]) one_hot[r * global.size() + j] = 1;
  Shape shape = index.shape();
  shape.push_back(key_positions.size());
  return Tensor::from(one_hot, shape).to(dtype);
}

DistributedHardRead distributed_hard_attention(const Tensor& scores, const Tensor& values, const Tensor& noise,
                                               Communicator& comm, const kernels::Positions& key_positions,
                                               const DistributedHardOptions& options) {
  ATTNSCALE_CHECK(scores.dim() == 2 && values.dim() == 3 && values.shape()[0] == scores.shape()[0] &&
                      values.shape()[1] == scores.shape()[1],
                  "distributed_hard_attention",
                  "expects scores [B, m_local] and values [B, m_local, Dv]; got {} and {}", shape_str(scores.shape()),
                  shape_str(values.shape()));
  ATTNSCALE_CHECK(!noise.defined() || noise.shape() == scores.shape(), "distributed_hard_attention",
                  "noise {} does not match scores {}", noise.defined() ? shape_str(noise.shape()) : "",
                  shape_str(scores.shape()));
  ATTNSCALE_CHECK(options.temperature > 0, "distributed_hard_attention", "temperature must be > 0, got {}",
                  options.temperature);
  const DType dtype = values.dtype();
  const Tensor log_p = distributed_log_softmax(scores, comm);
  DistributedHardRead read;
  const Tensor perturbed = noise.defined() ? add(log_p.detach(), noise) : log_p.detach();  // Gumbel-max
  read.index = distributed_argmax(perturbed, comm, key_positions);
  const Tensor one_hot = local_one_hot(read.index, key_positions, dtype);
  // log p of the choice on its owner (0 elsewhere; masked entries are -inf, so no 0 * -inf), summed.
  const Tensor chosen_log_p = where(one_hot, log_p, Tensor::zeros(log_p.shape(), log_p.dtype()));
  if (noise.defined() && options.straight_through) {
    const Tensor relaxed = exp(distributed_log_softmax(mul(add(log_p, noise), 1.0 / options.temperature), comm));
    read.weights = add(one_hot, sub(relaxed, relaxed.detach()));  // value one-hot, gradient relaxed
    read.log_prob = all_reduce_sum(sum(chosen_log_p.detach(), {-1}), comm);
  } else {
    read.weights = one_hot;
    read.log_prob = all_reduce_sum(sum(chosen_log_p, {-1}), comm);
  }
  read.context = all_reduce_sum(squeeze(matmul(unsqueeze(read.weights, 1), values), 1), comm);
  return read;
}

}  // namespace attnscale
