// Layouts: which global sequence positions each rank holds. Kernels, masks and the ring/halo
// schedulers all work on global positions, so a shard is described by its Positions: a short list
// of strided runs (contiguous = 1 run of stride 1, zigzag = 2 runs, striped = 1 run of stride P).
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace attnscale::kernels {

// Global positions start, start + stride, ..., start + (count - 1) * stride.
struct StridedRun {
  int64_t start = 0;
  int64_t count = 0;
  int64_t stride = 1;  // >= 1

  int64_t last() const { return start + (count - 1) * stride; }
  bool operator==(const StridedRun&) const = default;
};

// The global positions of a shard's tokens in local order.
class Positions {
 public:
  Positions() = default;
  // Runs with count 0 are dropped; stride must be >= 1 (UsageError otherwise).
  explicit Positions(std::vector<StridedRun> runs);
  static Positions contiguous(int64_t start, int64_t count);
  static Positions strided(int64_t start, int64_t count, int64_t stride);
  // Explicit global positions, in local order, as greedy runs of constant positive stride (a run
  // goes on while the step stays the same): one run for a contiguous or striped shard, two for zigzag.
  static Positions compact(std::span<const int64_t> global);

  int64_t size() const { return size_; }
  std::span<const StridedRun> runs() const { return runs_; }
  // Global position of local index `local` (0 <= local < size()).
  int64_t at(int64_t local) const;
  // Writes the global position of every local index into `global` (size() entries).
  void fill(std::span<int64_t> global) const;
  // Smallest and largest global position among local indices [begin, end), begin < end.
  std::pair<int64_t, int64_t> range(int64_t begin, int64_t end) const;

  bool operator==(const Positions& other) const { return runs_ == other.runs_; }

 private:
  std::vector<StridedRun> runs_;
  std::vector<int64_t> run_begin_;  // local index of each run's first token
  int64_t size_ = 0;
};

enum class LayoutKind { contiguous, zigzag, striped };

// Parses "contiguous", "zigzag", "striped" (UsageError otherwise).
LayoutKind parse_layout_kind(const char* name);
const char* layout_kind_name(LayoutKind kind);

// How a sequence of `length` tokens is spread over `ranks` ranks. Lengths need not divide evenly:
// pieces differ by at most one token and the first pieces are the longer ones.
//   contiguous: rank r holds piece r of P.
//   zigzag:     the sequence is cut into 2P chunks; rank r holds chunks r and 2P-1-r (balances
//               causal work in ring attention).
//   striped:    token t lives on rank t mod P.
struct Layout {
  LayoutKind kind = LayoutKind::contiguous;
  int64_t length = 0;
  int ranks = 1;

  // Validates ranks >= 1 and length >= 0 (UsageError otherwise).
  Layout(LayoutKind kind, int64_t length, int ranks);

  int64_t local_length(int rank) const;
  Positions positions(int rank) const;
  int64_t global_position(int rank, int64_t local) const;

  struct Owner {
    int rank = 0;
    int64_t local = 0;
  };
  // Which rank holds global position `global` and at which local index.
  Owner owner(int64_t global) const;
};

// Splits `length` into `pieces` parts differing by at most one (longer parts first); returns the
// start of piece `index` (index == pieces gives length).
int64_t even_split_begin(int64_t length, int64_t pieces, int64_t index);

}  // namespace attnscale::kernels
