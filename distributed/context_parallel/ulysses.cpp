#include "distributed/context_parallel/ulysses.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"
#include "distributed/context_parallel/device_ops.h"

namespace attnscale::cp {

std::vector<int64_t> GroupOrder::member_sizes() const {
  std::vector<int64_t> sizes;
  for (const auto& r : rows) sizes.push_back(static_cast<int64_t>(r.size()));
  return sizes;
}

GroupOrder group_order(std::span<const kernels::Positions> members) {
  GroupOrder order;
  std::vector<int64_t> concatenated;
  for (const kernels::Positions& m : members) {
    std::vector<int64_t> global(static_cast<size_t>(m.size()));
    m.fill(global);
    std::vector<int64_t> rows(global.size());
    std::iota(rows.begin(), rows.end(), static_cast<int64_t>(concatenated.size()));
    concatenated.insert(concatenated.end(), global.begin(), global.end());
    order.rows.push_back(std::move(rows));
  }
  order.positions = kernels::Positions::compact(concatenated);
  if (members.size() <= 1) return order;

  // Sorted by position: row i of the sorted order holds concatenated token by_position[i].
  std::vector<int64_t> by_position(concatenated.size());
  std::iota(by_position.begin(), by_position.end(), int64_t{0});
  std::sort(by_position.begin(), by_position.end(),
            [&](int64_t a, int64_t b) { return concatenated[static_cast<size_t>(a)] < concatenated[static_cast<size_t>(b)]; });
  std::vector<int64_t> sorted(concatenated.size());
  for (size_t i = 0; i < sorted.size(); ++i) sorted[i] = concatenated[static_cast<size_t>(by_position[i])];
  kernels::Positions sorted_positions = kernels::Positions::compact(sorted);
  if (sorted_positions.runs().size() >= order.positions.runs().size()) return order;

  std::vector<int64_t> row_of(concatenated.size());
  for (size_t i = 0; i < by_position.size(); ++i) row_of[static_cast<size_t>(by_position[i])] = static_cast<int64_t>(i);
  for (auto& rows : order.rows)
    for (int64_t& r : rows) r = row_of[static_cast<size_t>(r)];
  order.positions = std::move(sorted_positions);
  return order;
}

namespace {

// This rank's member index; checks that the order describes the communicator's group.
int member_of(Communicator* comm, const GroupOrder& order) {
  const int members = comm ? comm->size() : 1;
  ATTNSCALE_CHECK(order.members() == members, "ulysses", "the token order has {} members, the group {}",
                  order.members(), members);
  return comm ? comm->rank() : 0;
}

// Sizes of one all-to-all between sequence shards x [B, heads, n_me, W] and head shards
// y [B, mine.count, N_group, W], checked against the buffers.
struct Exchange {
  int me = 0;
  std::vector<int64_t> tokens;  // per member
  int64_t n_me = 0, n_group = 0;
  HeadRange mine;
  std::vector<size_t> sequence_blocks, head_blocks;  // per member: [B, ranges[u].count, n_me, W] and [B, mine.count, n_u, W]

  Exchange(Communicator* comm, const GroupOrder& order, std::span<const HeadRange> ranges, int64_t batch,
           int64_t heads, int64_t width, size_t x_size, size_t y_size)
      : me(member_of(comm, order)), tokens(order.member_sizes()), n_me(tokens[static_cast<size_t>(me)]),
        n_group(order.size()), mine(ranges[static_cast<size_t>(me)]) {
    ATTNSCALE_CHECK(static_cast<int64_t>(x_size) == batch * heads * n_me * width &&
                        static_cast<int64_t>(y_size) == batch * mine.count * n_group * width,
                    "ulysses", "buffers of {} and {} elements do not fit [{}, {}, {}, {}] and [{}, {}, {}, {}]",
                    x_size, y_size, batch, heads, n_me, width, batch, mine.count, n_group, width);
    for (size_t u = 0; u < tokens.size(); ++u) {
      sequence_blocks.push_back(static_cast<size_t>(batch * ranges[u].count * n_me * width));
      head_blocks.push_back(static_cast<size_t>(batch * mine.count * tokens[u] * width));
    }
  }
};

// The all-to-all of one exchange, or the send buffer itself for a group of one.
template <typename T>
DeviceVector<T> all_to_all(Communicator* comm, DeviceVector<T> send, const std::vector<size_t>& send_counts,
                           const std::vector<size_t>& recv_counts) {
  if (!comm) return send;
  DeviceVector<T> recv(send.device());
  recv.resize(std::accumulate(recv_counts.begin(), recv_counts.end(), size_t{0}));
  comm->all_to_all_v(std::span<const T>(send.span()), send_counts, recv.span(), recv_counts);
  return recv;
}

// Calls fn(first_row, count, packed_offset) for each run of consecutive group rows of `rows`
// (a member's tokens in group order), packed_offset counting tokens before the run.
template <typename Fn>
void for_each_row_run(const std::vector<int64_t>& rows, Fn&& fn) {
  for (size_t i = 0; i < rows.size();) {
    size_t j = i + 1;
    while (j < rows.size() && rows[j] == rows[j - 1] + 1) ++j;
    fn(rows[i], static_cast<int64_t>(j - i), static_cast<int64_t>(i));
    i = j;
  }
}

std::vector<size_t> to_sizes(const std::vector<int64_t>& v, int64_t factor) {
  std::vector<size_t> out;
  for (const int64_t x : v) out.push_back(static_cast<size_t>(x * factor));
  return out;
}

}  // namespace

HeadSplit split_heads(int64_t q_heads, int64_t kv_heads, int members) {
  ATTNSCALE_CHECK(members >= 1, "ulysses", "group size must be >= 1, got {}", members);
  ATTNSCALE_CHECK(q_heads % members == 0, "ulysses", "heads ({}) not divisible by ulysses degree ({})",
                  q_heads, members);
  ATTNSCALE_CHECK(kv_heads >= 1 && q_heads % kv_heads == 0, "ulysses",
                  "query heads ({}) not divisible by key/value heads ({})", q_heads, kv_heads);
  ATTNSCALE_CHECK(kv_heads % members == 0 || members % kv_heads == 0, "ulysses",
                  "key/value heads ({}) and ulysses degree ({}) must divide one another", kv_heads,
                  members);
  HeadSplit split;
  const int64_t per_member = q_heads / members, group = q_heads / kv_heads;
  for (int u = 0; u < members; ++u) {
    const int64_t first = u * per_member;
    split.q.push_back({first, per_member});
    const int64_t kv_first = first / group, kv_last = (first + per_member - 1) / group;
    split.kv.push_back({kv_first, kv_last - kv_first + 1});
  }
  return split;
}

template <typename T>
void sequence_to_heads(Communicator* comm, const GroupOrder& order, std::span<const HeadRange> ranges,
                       int64_t batch, int64_t heads, int64_t width, std::span<const T> x, std::span<T> y,
                       Device device) {
  const Exchange e(comm, order, ranges, batch, heads, width, x.size(), y.size());
  // Block u of the send buffer: the heads of member u, which are contiguous in x (replicated kv
  // heads go to every member that reads them, so the buffer may exceed x).
  DeviceVector<T> send(device);
  send.resize(std::accumulate(e.sequence_blocks.begin(), e.sequence_blocks.end(), size_t{0}));
  size_t packed = 0;
  for (const HeadRange& r : ranges)
    for (int64_t b = 0; b < batch; ++b) {
      const auto n = static_cast<size_t>(r.count * e.n_me * width);
      copy_into<T>(device, send.span().subspan(packed, n),
                   x.subspan(static_cast<size_t>((b * heads + r.begin) * e.n_me * width), n));
      packed += n;
    }
  const DeviceVector<T> recv = all_to_all(comm, std::move(send), e.sequence_blocks, e.head_blocks);
  size_t from = 0;
  for (int u = 0; u < order.members(); ++u) {
    const auto& rows = order.rows[static_cast<size_t>(u)];
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < e.mine.count; ++h) {
        const std::span<T> base = y.subspan(static_cast<size_t>((b * e.mine.count + h) * e.n_group * width));
        for_each_row_run(rows, [&](int64_t row, int64_t count, int64_t offset) {
          copy_into<T>(device, base.subspan(static_cast<size_t>(row * width), static_cast<size_t>(count * width)),
                       recv.span().subspan(from + static_cast<size_t>(offset * width),
                                           static_cast<size_t>(count * width)));
        });
        from += rows.size() * static_cast<size_t>(width);
      }
  }
}

template <typename T>
void heads_to_sequence(Communicator* comm, const GroupOrder& order, std::span<const HeadRange> ranges,
                       int64_t batch, int64_t heads, int64_t width, std::span<const T> y, std::span<T> x,
                       Device device) {
  const Exchange e(comm, order, ranges, batch, heads, width, x.size(), y.size());
  DeviceVector<T> send(device);
  send.resize(y.size());
  size_t packed = 0;
  for (int u = 0; u < order.members(); ++u) {
    const auto& rows = order.rows[static_cast<size_t>(u)];
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < e.mine.count; ++h) {
        const std::span<const T> base = y.subspan(static_cast<size_t>((b * e.mine.count + h) * e.n_group * width));
        for_each_row_run(rows, [&](int64_t row, int64_t count, int64_t offset) {
          copy_into<T>(device,
                       send.span().subspan(packed + static_cast<size_t>(offset * width),
                                           static_cast<size_t>(count * width)),
                       base.subspan(static_cast<size_t>(row * width), static_cast<size_t>(count * width)));
        });
        packed += rows.size() * static_cast<size_t>(width);
      }
  }
  const DeviceVector<T> recv = all_to_all(comm, std::move(send), e.head_blocks, e.sequence_blocks);
  fill<T>(device, x, T{0});
  size_t from = 0;
  for (const HeadRange& r : ranges)
    for (int64_t b = 0; b < batch; ++b) {
      const auto n = static_cast<size_t>(r.count * e.n_me * width);
      // replicated kv heads sum
      add_into<T>(device, x.subspan(static_cast<size_t>((b * heads + r.begin) * e.n_me * width), n),
                  recv.span().subspan(from, n));
      from += n;
    }
}

std::vector<int32_t> gather_tokens(Communicator* comm, const GroupOrder& order, int64_t batch,
                                   std::span<const int32_t> local) {
  const std::vector<int64_t> tokens = order.member_sizes();
  const int me = member_of(comm, order);
  ATTNSCALE_CHECK(static_cast<int64_t>(local.size()) == batch * tokens[static_cast<size_t>(me)], "ulysses",
                  "per-token values hold {} entries, expected {} x {}", local.size(), batch,
                  tokens[static_cast<size_t>(me)]);
  std::vector<int32_t> all(static_cast<size_t>(batch * order.size()));
  if (comm) {
    comm->all_gather_v(local, all, to_sizes(tokens, batch));
  } else {
    std::copy(local.begin(), local.end(), all.begin());
  }
  // all holds member blocks [B, n_u] one after another; reorder into [B, N_group].
  std::vector<int32_t> out(all.size());
  const int32_t* from = all.data();
  for (int u = 0; u < order.members(); ++u)
    for (int64_t b = 0; b < batch; ++b)
      for (const int64_t row : order.rows[static_cast<size_t>(u)]) out[static_cast<size_t>(b * order.size() + row)] = *from++;
  return out;
}

template void sequence_to_heads<float>(Communicator*, const GroupOrder&, std::span<const HeadRange>, int64_t,
                                       int64_t, int64_t, std::span<const float>, std::span<float>, Device);
template void sequence_to_heads<double>(Communicator*, const GroupOrder&, std::span<const HeadRange>, int64_t,
                                        int64_t, int64_t, std::span<const double>, std::span<double>, Device);
template void heads_to_sequence<float>(Communicator*, const GroupOrder&, std::span<const HeadRange>, int64_t,
                                       int64_t, int64_t, std::span<const float>, std::span<float>, Device);
template void heads_to_sequence<double>(Communicator*, const GroupOrder&, std::span<const HeadRange>, int64_t,
                                        int64_t, int64_t, std::span<const double>, std::span<double>, Device);

}  // namespace attnscale::cp
