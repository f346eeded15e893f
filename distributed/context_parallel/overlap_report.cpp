#include "distributed/context_parallel/overlap_report.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include <fmt/format.h>

namespace attnscale {

std::string OverlapReport::str() const {
  const std::string head = fmt::format("{} K/V transfers, {:.1f} MiB sent per rank", transfers,
                                       static_cast<double>(bytes_sent) / (1 << 20));
  // Blocked longer than the transfers take on their own: the rank waited for a slower peer.
  if (blocked_s > unhidden_s)
    return fmt::format("{}, blocked {:.3f} s waiting for other ranks; the transfers alone take {:.3f} s, so the wait "
                       "is uneven work between ranks, not transfer time",
                       head, blocked_s, unhidden_s);
  return fmt::format("{}, blocked {:.3f} s of {:.3f} s unhidden transfer time: {:.0f}% of communication hidden", head,
                     blocked_s, unhidden_s, 100.0 * hidden_share);
}

OverlapReport measure_overlap(Communicator& cp, int repeats) {
  OverlapReport r;
  const CommStats& stats = cp.stats();
  for (const CommOp op : {CommOp::sendrecv, CommOp::send, CommOp::all_to_all_v}) {
    r.transfers += stats[op].calls;
    r.bytes_sent += stats[op].bytes_sent;
  }
  for (const CommOp op : {CommOp::sendrecv, CommOp::send, CommOp::recv, CommOp::all_to_all_v})
    r.blocked_s += stats[op].wait_seconds;
  // Every rank calibrates with the same message size (the largest average), so the exchanges match.
  const std::uint64_t average = r.transfers ? r.bytes_sent / r.transfers : 0;
  const std::uint64_t message = cp.all_reduce_value(average, ReduceOp::max);
  if (message == 0 || cp.size() == 1) return r;
  std::vector<std::uint8_t> send(message, 1), recv(message);
  const int next = (cp.rank() + 1) % cp.size(), prev = (cp.rank() + cp.size() - 1) % cp.size();
  cp.sendrecv(send, next, recv, prev, 0);  // warm-up
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) cp.sendrecv(send, next, recv, prev, 0);
  const double per_transfer =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
  r.unhidden_s = per_transfer * static_cast<double>(r.transfers) * static_cast<double>(average) /
                 static_cast<double>(message);
  r.hidden_share = r.unhidden_s > 0 ? std::clamp(1.0 - r.blocked_s / r.unhidden_s, 0.0, 1.0) : 0.0;
  return r;
}

}  // namespace attnscale
