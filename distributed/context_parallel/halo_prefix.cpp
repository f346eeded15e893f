#include "distributed/context_parallel/halo_prefix.h"

#include <memory>
#include <span>
#include <vector>

#include "distributed/context_parallel/row_set.h"
#include "distributed/context_parallel/fetch_plan.h"
#include "framework/core/autograd/node.h"
#include "framework/core/ops/indexing.h"

namespace attnscale {
namespace {

constexpr int kForwardTag = 7100, kBackwardTag = 7101;

// Where each owner's fetched rows sit in the prefix: the owner's RowSet and the first prefix row.
struct Source {
  int owner = 0;
  cp::RowSet rows;     // of the owner's shard
  int64_t offset = 0;  // prefix row of the first fetched row
};

struct Plan {
  std::vector<Source> sources;                    // owners this rank fetches from
  std::vector<std::pair<int, cp::RowSet>> sinks;  // consumers of this rank's rows
};

Plan make_plan(Communicator& comm, const kernels::Layout& layout, int64_t rows) {
  kernels::Mask window;
  window.causal = true;
  window.window = kernels::Window{rows, 0};
  std::vector<kernels::Positions> positions;
  for (int r = 0; r < comm.size(); ++r) positions.push_back(layout.positions(r));
  const sp::FetchPlan fetch(window, positions, positions, 64);
  const int rank = comm.rank();
  const int64_t prefix_start = layout.global_position(rank, 0) - rows;
  Plan plan;
  for (int owner = 0; owner < comm.size(); ++owner) {
    if (owner == rank) continue;
    if (const cp::RowSet& need = fetch.rows(rank, owner); !need.empty()) {
      ATTNSCALE_CHECK(need.ranges().size() == 1, "halo_prefix", "rows of rank {} are not one range", owner);
      plan.sources.push_back({owner, need, layout.global_position(owner, need.ranges()[0].begin) - prefix_start});
    }
    if (const cp::RowSet& give = fetch.rows(owner, rank); !give.empty()) plan.sinks.emplace_back(owner, give);
  }
  return plan;
}

template <typename T>
Tensor forward(const Tensor& t, Communicator& comm, const Plan& plan, int64_t rows) {
  const int64_t outer = t.shape()[0] * t.shape()[1], n = t.shape()[2], width = t.shape()[3];
  const cp::RowSet own = cp::RowSet::all(n);
  const std::span<const T> local(t.data<T>(), static_cast<size_t>(t.numel()));
  std::vector<std::vector<T>> received(plan.sources.size()), sent(plan.sinks.size());
  std::vector<Request> requests;
  for (size_t i = 0; i < plan.sources.size(); ++i) {
    received[i].resize(static_cast<size_t>(outer * plan.sources[i].rows.size() * width));
    requests.push_back(comm.irecv(received[i], plan.sources[i].owner, kForwardTag));
  }
  for (size_t i = 0; i < plan.sinks.size(); ++i) {
    const auto& [consumer, give] = plan.sinks[i];
    sent[i].resize(static_cast<size_t>(outer * give.size() * width));
    cp::gather_rows<T>(local, own, sent[i], give, outer, width);
    requests.push_back(comm.isend(sent[i], consumer, kForwardTag));
  }
  Request::wait_all(requests);
  Tensor out = Tensor::zeros({t.shape()[0], t.shape()[1], rows + n, width}, t.dtype());
  T* dst = out.data<T>();
  const int64_t total = rows + n;
  for (size_t i = 0; i < plan.sources.size(); ++i) {
    const int64_t count = plan.sources[i].rows.size();
    for (int64_t o = 0; o < outer; ++o)
      std::copy_n(received[i].data() + o * count * width, count * width,
                  dst + (o * total + plan.sources[i].offset) * width);
  }
  for (int64_t o = 0; o < outer; ++o)
    std::copy_n(local.data() + o * n * width, n * width, dst + (o * total + rows) * width);
  return out;
}

template <typename T>
Tensor backward(const Tensor& g, Communicator& comm, const Plan& plan, int64_t rows, const Shape& shape) {
  const int64_t outer = shape[0] * shape[1], n = shape[2], width = shape[3], total = rows + n;
  const T* grad = g.data<T>();
  Tensor dt = Tensor::empty(shape, g.dtype());
  T* local = dt.data<T>();
  for (int64_t o = 0; o < outer; ++o) std::copy_n(grad + (o * total + rows) * width, n * width, local + o * n * width);
  std::vector<std::vector<T>> home(plan.sources.size()), coming(plan.sinks.size());
  std::vector<Request> requests;
  for (size_t i = 0; i < plan.sinks.size(); ++i) {
    coming[i].resize(static_cast<size_t>(outer * plan.sinks[i].second.size() * width));
    requests.push_back(comm.irecv(coming[i], plan.sinks[i].first, kBackwardTag));
  }
  for (size_t i = 0; i < plan.sources.size(); ++i) {
    const int64_t count = plan.sources[i].rows.size();
    home[i].resize(static_cast<size_t>(outer * count * width));
    for (int64_t o = 0; o < outer; ++o)
      std::copy_n(grad + (o * total + plan.sources[i].offset) * width, count * width, home[i].data() + o * count * width);
    requests.push_back(comm.isend(home[i], plan.sources[i].owner, kBackwardTag));
  }
  Request::wait_all(requests);
  const cp::RowSet own = cp::RowSet::all(n);
  const std::span<T> dst(local, static_cast<size_t>(dt.numel()));
  for (size_t i = 0; i < plan.sinks.size(); ++i)
    cp::scatter_rows<T>(coming[i], plan.sinks[i].second, dst, own, outer, width, true);
  return dt;
}

}  // namespace

Tensor halo_prefix(const Tensor& t_in, Communicator* comm, const kernels::Layout& layout, int64_t rows) {
  ATTNSCALE_CHECK(t_in.dim() == 4, "halo_prefix", "expects [B, H, n, W], got {}", shape_str(t_in.shape()));
  ATTNSCALE_CHECK(rows >= 0, "halo_prefix", "rows must be >= 0, got {}", rows);
  if (comm == nullptr || comm->size() == 1) {
    if (rows == 0) return t_in;
    const Shape& s = t_in.shape();
    return concat({Tensor::zeros({s[0], s[1], rows, s[3]}, t_in.dtype(), t_in.device()), t_in}, 2);
  }
  ATTNSCALE_CHECK(layout.kind == kernels::LayoutKind::contiguous && layout.ranks == comm->size(), "halo_prefix",
                  "needs a contiguous layout over the {} ranks (got {} over {})", comm->size(),
                  kernels::layout_kind_name(layout.kind), layout.ranks);
  ATTNSCALE_CHECK(t_in.shape()[2] == layout.local_length(comm->rank()), "halo_prefix",
                  "rank {} holds {} tokens; the layout gives it {}", comm->rank(), t_in.shape()[2],
                  layout.local_length(comm->rank()));
  const Tensor t = t_in.contiguous();
  auto plan = std::make_shared<const Plan>(make_plan(*comm, layout, rows));
  Tensor out;
  ATTNSCALE_DISPATCH_FLOAT(t.dtype(), "halo_prefix", [&] { out = forward<scalar_t>(t, *comm, *plan, rows); });
  const Shape shape = t.shape();
  return autograd::record(out, "halo_prefix", {t}, [comm, plan, rows, shape](const Tensor& g) {
    Tensor dt;
    const Tensor grad = g.contiguous();
    ATTNSCALE_DISPATCH_FLOAT(grad.dtype(), "halo_prefix",
                             [&] { dt = backward<scalar_t>(grad, *comm, *plan, rows, shape); });
    return std::vector<Tensor>{dt};
  });
}

}  // namespace attnscale
