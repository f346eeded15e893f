// Byte and call counters per operation kind, kept per communicator, so tests and benchmarks can
// read how much a rank sent (e.g. "ring attention with a small window sends only the halo").
//
// Bytes are the payload at the level of the operation, not the algorithm's wire traffic:
//   send / recv            the message;
//   sendrecv               sent: the outgoing message; received: the incoming one;
//   all_reduce(_loc)       the buffer, counted as sent and as received;
//   all_gather(_v)         sent: this rank's block; received: the other ranks' blocks;
//   all_to_all(_v)         sent / received: the blocks for / from the other ranks (not self);
//   broadcast              sent at the root, received elsewhere;
//   barrier                calls only.
// wait_seconds is time spent blocked in a wait (the
// communication that was not hidden behind computation).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace attnscale {

enum class CommOp {
  send,
  recv,
  sendrecv,
  all_reduce,
  all_reduce_loc,
  all_gather,
  all_gather_v,
  all_to_all,
  all_to_all_v,
  broadcast,
  barrier,
};
inline constexpr std::size_t comm_op_count = 11;

std::string_view op_name(CommOp op);

struct OpStats {
  std::uint64_t calls = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  double wait_seconds = 0;

  OpStats& operator+=(const OpStats& other);
};

class CommStats {
 public:
  const OpStats& operator[](CommOp op) const { return per_op_[static_cast<std::size_t>(op)]; }
  OpStats& operator[](CommOp op) { return per_op_[static_cast<std::size_t>(op)]; }

  // Sum over every operation kind.
  OpStats total() const;
  void reset() { per_op_ = {}; }
  // One line per operation kind that was called: "all_reduce: 12 calls, 4.0 KiB sent, ...".
  std::string summary() const;

 private:
  std::array<OpStats, comm_op_count> per_op_{};
};

}  // namespace attnscale
