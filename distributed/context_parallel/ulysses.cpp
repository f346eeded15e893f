#include "distributed/context_parallel/ulysses.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"

namespace attnscale::cp {
namespace {

// This rank's member index; checks that the order describes the communicator's group.
int member_of(Communicator* comm, const GroupOrder& order) {
  const int members = comm ? comm->size() : 1;
  ATTNSCALE_CHECK(order.members() == members, "ulysses", "the token order has {} members, the group {}",
                  order.members(), members);
  return comm ? comm->rank() : 0;
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
                       int64_t batch, int64_t heads, int64_t width, std::span<const T> x, std::span<T> y) {
  const int me = member_of(comm, order), members = order.members();
  const std::vector<int64_t> tokens = order.member_sizes();
  const int64_t n_me = tokens[static_cast<size_t>(me)], n_group = order.size();
  const HeadRange mine = ranges[static_cast<size_t>(me)];
  ATTNSCALE_CHECK(static_cast<int64_t>(x.size()) == batch * heads * n_me * width &&
                      static_cast<int64_t>(y.size()) == batch * mine.count * n_group * width,
                  "ulysses", "buffers of {} and {} elements do not fit [{}, {}, {}, {}] -> [{}, {}, {}, {}]",
                  x.size(), y.size(), batch, heads, n_me, width, batch, mine.count, n_group, width);
  // Block u of the send buffer: [B, ranges[u].count, n_me, W]; heads are contiguous in x.
  std::vector<size_t> send_counts, recv_counts;
  for (int u = 0; u < members; ++u) {
    send_counts.push_back(static_cast<size_t>(batch * ranges[static_cast<size_t>(u)].count * n_me * width));
    recv_counts.push_back(static_cast<size_t>(batch * mine.count * tokens[static_cast<size_t>(u)] * width));
  }
  std::vector<T> send(std::accumulate(send_counts.begin(), send_counts.end(), size_t{0}));
  T* to = send.data();
  for (int u = 0; u < members; ++u) {
    const HeadRange r = ranges[static_cast<size_t>(u)];
    for (int64_t b = 0; b < batch; ++b) {
      const T* from = x.data() + (b * heads + r.begin) * n_me * width;
      to = std::copy_n(from, r.count * n_me * width, to);
    }
  }
  std::vector<T> recv;
  if (comm) {
    recv.resize(std::accumulate(recv_counts.begin(), recv_counts.end(), size_t{0}));
    comm->all_to_all_v(send, send_counts, recv, recv_counts);
  } else {
    recv = std::move(send);
  }
  const T* from = recv.data();
  for (int u = 0; u < members; ++u) {
    const auto& rows = order.rows[static_cast<size_t>(u)];
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < mine.count; ++h) {
        T* base = y.data() + (b * mine.count + h) * n_group * width;
        for (const int64_t row : rows) {
          std::copy_n(from, width, base + row * width);
          from += width;
        }
      }
  }
}

template <typename T>
void heads_to_sequence(Communicator* comm, const GroupOrder& order, std::span<const HeadRange> ranges,
                       int64_t batch, int64_t heads, int64_t width, std::span<const T> y, std::span<T> x) {
  const int me = member_of(comm, order), members = order.members();
  const std::vector<int64_t> tokens = order.member_sizes();
  const int64_t n_me = tokens[static_cast<size_t>(me)], n_group = order.size();
  const HeadRange mine = ranges[static_cast<size_t>(me)];
  ATTNSCALE_CHECK(static_cast<int64_t>(x.size()) == batch * heads * n_me * width &&
                      static_cast<int64_t>(y.size()) == batch * mine.count * n_group * width,
                  "ulysses", "buffers of {} and {} elements do not fit [{}, {}, {}, {}] <- [{}, {}, {}, {}]",
                  x.size(), y.size(), batch, heads, n_me, width, batch, mine.count, n_group, width);
  std::vector<size_t> send_counts, recv_counts;
  for (int u = 0; u < members; ++u) {
    send_counts.push_back(static_cast<size_t>(batch * mine.count * tokens[static_cast<size_t>(u)] * width));
    recv_counts.push_back(static_cast<size_t>(batch * ranges[static_cast<size_t>(u)].count * n_me * width));
  }
  std::vector<T> send(std::accumulate(send_counts.begin(), send_counts.end(), size_t{0}));
  T* to = send.data();
  for (int u = 0; u < members; ++u)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < mine.count; ++h) {
        const T* base = y.data() + (b * mine.count + h) * n_group * width;
        for (const int64_t row : order.rows[static_cast<size_t>(u)]) to = std::copy_n(base + row * width, width, to);
      }
  std::vector<T> recv;
  if (comm) {
    recv.resize(std::accumulate(recv_counts.begin(), recv_counts.end(), size_t{0}));
    comm->all_to_all_v(send, send_counts, recv, recv_counts);
  } else {
    recv = std::move(send);
  }
  std::fill(x.begin(), x.end(), T{0});
  const T* from = recv.data();
  for (int u = 0; u < members; ++u) {
    const HeadRange r = ranges[static_cast<size_t>(u)];
    for (int64_t b = 0; b < batch; ++b) {
      T* dest = x.data() + (b * heads + r.begin) * n_me * width;
      for (int64_t e = 0; e < r.count * n_me * width; ++e) dest[e] += *from++;
    }
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
                                       int64_t, int64_t, std::span<const float>, std::span<float>);
template void sequence_to_heads<double>(Communicator*, const GroupOrder&, std::span<const HeadRange>, int64_t,
                                        int64_t, int64_t, std::span<const double>, std::span<double>);
template void heads_to_sequence<float>(Communicator*, const GroupOrder&, std::span<const HeadRange>, int64_t,
                                       int64_t, int64_t, std::span<const float>, std::span<float>);
template void heads_to_sequence<double>(Communicator*, const GroupOrder&, std::span<const HeadRange>, int64_t,
                                        int64_t, int64_t, std::span<const double>, std::span<double>);

}  // namespace attnscale::cp
