// The local-m / local-p halo ops (front end): argument checks, the windows and the fetch plan,
// the autograd node. The computation and the transfers are in local_halo_compute.h.
#include "distributed/sequence_parallel/local_halo.h"

#include <memory>

#include "distributed/sequence_parallel/local_halo_compute.h"
#include "distributed/sequence_parallel/local_halo_plan.h"
#include "distributed/sequence_parallel/op_buffers.h"
#include "framework/core/autograd/node.h"

namespace attnscale {
namespace {

constexpr const char* op = "local_halo";

struct Saved {
  Communicator* comm = nullptr;  // null on one rank
  std::shared_ptr<const sp::FetchPlan> plan;
  int64_t source_begin = 0;
  int64_t half_width = 1;
  double sigma = 1;
  Tensor q, keys, values, centres;  // centres undefined for local-m
  std::vector<sp::WindowBounds> windows;
  sp::SavedFetch fetched;
};

template <typename T>
sp::LocalHaloInputs<T> inputs(const Saved& s) {
  sp::LocalHaloInputs<T> in;
  in.comm = s.comm;
  in.plan = s.plan.get();
  in.queries.batch = s.q.shape()[0];
  in.queries.count = s.q.shape()[1];
  in.queries.head_dim = s.q.shape()[2];
  in.queries.value_dim = s.values.shape()[2];
  in.queries.q = sp::cspan<T>(s.q);
  in.queries.centres = sp::cspan<T>(s.centres);
  in.queries.windows = s.windows;
  in.queries.half_width = s.half_width;
  in.queries.sigma = s.sigma;
  in.source_begin = s.source_begin;
  in.source_rows = s.keys.shape()[1];
  in.keys = sp::cspan<T>(s.keys);
  in.values = sp::cspan<T>(s.values);
  return in;
}

void check_layout(const kernels::Layout& layout, const char* which, int ranks, int rank, int64_t rows) {
  ATTNSCALE_CHECK(layout.kind == kernels::LayoutKind::contiguous, op,
                  "the {} layout must be contiguous (got {}): a window's rows are then on neighbouring ranks", which,
                  kernels::layout_kind_name(layout.kind));
  ATTNSCALE_CHECK(layout.ranks == ranks, op, "the {} layout is over {} ranks, the group has {}", which, layout.ranks,
                  ranks);
  ATTNSCALE_CHECK(rows == layout.local_length(rank), op, "rank {} holds {} {} rows; the {} layout gives it {}", rank,
                  rows, which, which, layout.local_length(rank));
}

std::vector<int64_t> source_lengths(const LocalHaloOptions& options, int64_t batch, int64_t length) {
  if (options.source_lengths.empty()) return std::vector<int64_t>(static_cast<size_t>(batch), length);
  ATTNSCALE_CHECK(static_cast<int64_t>(options.source_lengths.size()) == batch, op,
                  "source_lengths has {} entries for a batch of {}", options.source_lengths.size(), batch);
  for (size_t b = 0; b < options.source_lengths.size(); ++b)
    ATTNSCALE_CHECK(options.source_lengths[b] >= 1 && options.source_lengths[b] <= length, op,
                    "source length {} of sequence {} is outside [1, {}]", options.source_lengths[b], b, length);
  return options.source_lengths;
}

// The first query with an empty window, as "query i (global position t) of sequence b: centre p";
// empty when every window has a position.
std::string empty_window(const Saved& s, const kernels::Positions& queries, std::span<const int64_t> lengths) {
  const int64_t count = s.q.shape()[1];
  for (size_t i = 0; i < s.windows.size(); ++i) {
    if (!s.windows[i].empty()) continue;
    const auto b = static_cast<int64_t>(i) / count, local = static_cast<int64_t>(i) % count;
    const double centre = s.centres.defined() ? s.centres.to(DType::f64).to_vector<double>()[i] : -1.0;
    return fmt::format(
        "the window of query {} (global position {}) of sequence {} is empty: centre {} is farther than "
        "D from every source position in [0, {})",
        local, queries.at(local), b, centre, lengths[static_cast<size_t>(b)]);
  }
  return {};
}

void check_tensors(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in) {
  ATTNSCALE_CHECK(q_in.dim() == 3 && k_in.dim() == 3 && v_in.dim() == 3, op,
                  "expects q [B, n_q, D], keys [B, n_s, D], values [B, n_s, Dv]; got {}, {}, {}",
                  shape_str(q_in.shape()), shape_str(k_in.shape()), shape_str(v_in.shape()));
  ATTNSCALE_CHECK(q_in.dtype() == k_in.dtype() && k_in.dtype() == v_in.dtype() && is_floating(q_in.dtype()), op,
                  "q, keys, values must share one floating dtype, got {}, {}, {}", dtype_name(q_in.dtype()),
                  dtype_name(k_in.dtype()), dtype_name(v_in.dtype()));
  const int64_t batch = q_in.shape()[0], rows = k_in.shape()[1];
  ATTNSCALE_CHECK(k_in.shape()[0] == batch && v_in.shape()[0] == batch && k_in.shape()[2] == q_in.shape()[2] &&
                      v_in.shape()[1] == rows,
                  op, "incompatible q {}, keys {}, values {}", shape_str(q_in.shape()), shape_str(k_in.shape()),
                  shape_str(v_in.shape()));
}

// The rows each rank fetches: local-m's hulls follow from the layouts; local-p's are shared by
// one all-gather, which also carries an empty window on any rank, so that every rank stops with
// an error instead of waiting in a transfer.
std::shared_ptr<const sp::FetchPlan> fetch_plan(Communicator& comm, const LocalHaloGroup& group, const Saved& s,
                                                std::span<const int64_t> lengths, const std::string& empty) {
  std::vector<cp::RowRange> hulls;
  if (s.centres.defined()) {
    hulls = sp::gather_hulls(comm, empty.empty() ? sp::window_hull(s.windows) : cp::RowRange{-1, -1});
    ATTNSCALE_CHECK(empty.empty(), op, "{}", empty);
    for (size_t r = 0; r < hulls.size(); ++r)
      ATTNSCALE_CHECK(hulls[r].begin >= 0, op, "rank {} has a query whose window is empty", r);
  } else {
    hulls = sp::monotonic_hulls(group.query_layout, s.half_width, lengths);
    // Derived from the layouts alone: it must cover the windows computed from this rank's queries.
    const cp::RowRange mine = sp::window_hull(s.windows), planned = hulls[static_cast<size_t>(comm.rank())];
    ATTNSCALE_CHECK(mine.size() == 0 || (planned.begin <= mine.begin && mine.end <= planned.end), op,
                    "internal: local-m windows [{}, {}) outside the planned rows [{}, {})", mine.begin, mine.end,
                    planned.begin, planned.end);
  }
  return std::make_shared<const sp::FetchPlan>(sp::local_fetch_plan(group.query_layout, group.source_layout, hulls));
}

Tensor run(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& centres_in,
           const LocalHaloOptions& options, const LocalHaloGroup& group) {
  check_tensors(q_in, k_in, v_in);
  const int64_t batch = q_in.shape()[0], count = q_in.shape()[1], rows = k_in.shape()[1];
  ATTNSCALE_CHECK(options.window >= 1, op, "window half-width D must be >= 1, got {}", options.window);
  ATTNSCALE_CHECK(options.sigma >= 0, op, "sigma must be >= 0 (0 = D/2), got {}", options.sigma);
  const bool one_rank = group.comm == nullptr || group.comm->size() == 1;
  const int rank = one_rank ? 0 : group.comm->rank(), ranks = one_rank ? 1 : group.comm->size();
  check_layout(group.query_layout, "query", ranks, rank, count);
  check_layout(group.source_layout, "source", ranks, rank, rows);
  ATTNSCALE_CHECK(group.source_layout.length >= 1, op, "the source has no positions");
  const std::vector<int64_t> lengths = source_lengths(options, batch, group.source_layout.length);

  auto saved = std::make_shared<Saved>();
  saved->comm = one_rank ? nullptr : group.comm;
  saved->half_width = options.window;
  saved->sigma = options.sigma > 0 ? options.sigma : static_cast<double>(options.window) / 2.0;
  saved->q = q_in.contiguous().detach();
  saved->keys = k_in.contiguous().detach();
  saved->values = v_in.contiguous().detach();
  const kernels::Positions queries = group.query_layout.positions(rank), sources = group.source_layout.positions(rank);
  saved->source_begin = sources.size() > 0 ? sources.at(0) : 0;
  if (centres_in.defined()) {
    ATTNSCALE_CHECK(centres_in.shape() == Shape({batch, count}) && centres_in.dtype() == q_in.dtype(), op,
                    "centres must be {} [{}, {}] (one per query), got {} {}", dtype_name(q_in.dtype()), batch, count,
                    dtype_name(centres_in.dtype()), shape_str(centres_in.shape()));
    saved->centres = centres_in.contiguous().detach();
  }
  ATTNSCALE_DISPATCH_FLOAT(q_in.dtype(), op, [&] {
    using T = scalar_t;
    saved->windows = centres_in.defined()
                         ? sp::predictive_windows<T>(sp::cspan<T>(saved->centres), options.window, lengths)
                         : sp::monotonic_windows<T>(queries, options.window, lengths);
  });
  const std::string empty = empty_window(*saved, queries, lengths);
  if (!one_rank) saved->plan = fetch_plan(*group.comm, group, *saved, lengths, empty);
  ATTNSCALE_CHECK(empty.empty(), op, "{}", empty);

  Tensor out = Tensor::empty({batch, count, saved->values.shape()[2]}, q_in.dtype());
  ATTNSCALE_DISPATCH_FLOAT(q_in.dtype(), op, [&] {
    using T = scalar_t;
    sp::local_halo_forward<T>(inputs<T>(*saved), saved->fetched.get<T>(), sp::mspan<T>(out));
  });
  std::vector<Tensor> differentiable{q_in, k_in, v_in};
  if (centres_in.defined()) differentiable.push_back(centres_in);
  return autograd::record(out, op, differentiable, [saved](const Tensor& g) {
    Saved& s = *saved;
    const Tensor dout = g.contiguous();
    Tensor dq = Tensor::empty(s.q.shape(), s.q.dtype()), dk = Tensor::empty(s.keys.shape(), s.q.dtype()),
           dv = Tensor::empty(s.values.shape(), s.q.dtype());
    Tensor dcentres = s.centres.defined() ? Tensor::empty(s.centres.shape(), s.q.dtype()) : Tensor();
    ATTNSCALE_DISPATCH_FLOAT(s.q.dtype(), op, [&] {
      using T = scalar_t;
      sp::local_halo_backward<T>(inputs<T>(s), s.fetched.get<T>(), sp::cspan<T>(dout), sp::mspan<T>(dq),
                                 sp::mspan<T>(dk), sp::mspan<T>(dv), sp::mspan<T>(dcentres));
    });
    std::vector<Tensor> grads{dq, dk, dv};
    if (dcentres.defined()) grads.push_back(dcentres);
    return grads;
  });
}

}  // namespace

Tensor local_m_halo_attention(const Tensor& q, const Tensor& keys, const Tensor& values,
                              const LocalHaloOptions& options, const LocalHaloGroup& group) {
  return run(q, keys, values, Tensor(), options, group);
}

Tensor local_p_halo_attention(const Tensor& q, const Tensor& keys, const Tensor& values, const Tensor& centres,
                              const LocalHaloOptions& options, const LocalHaloGroup& group) {
  ATTNSCALE_CHECK(centres.defined(), op, "local-p needs the window centres [B, n_q]");
  return run(q, keys, values, centres, options, group);
}

}  // namespace attnscale
