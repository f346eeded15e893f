// Host code shared by every backend.
#include "kernels/layout.h"

#include <algorithm>
#include <cstring>

#include "base/error.h"

namespace attnscale::kernels {

Positions::Positions(std::vector<StridedRun> runs) {
  for (const auto& run : runs) {
    ATTNSCALE_CHECK(run.count >= 0, "layout", "run count {} is negative", run.count);
    ATTNSCALE_CHECK(run.stride >= 1, "layout", "run stride {} is below 1", run.stride);
    if (run.count == 0) continue;
    run_begin_.push_back(size_);
    runs_.push_back(run);
    size_ += run.count;
  }
}

Positions Positions::contiguous(int64_t start, int64_t count) {
  return Positions({StridedRun{start, count, 1}});
}

Positions Positions::strided(int64_t start, int64_t count, int64_t stride) {
  return Positions({StridedRun{start, count, stride}});
}

Positions Positions::compact(std::span<const int64_t> global) {
  std::vector<StridedRun> runs;
  for (const int64_t p : global) {
    if (!runs.empty()) {
      StridedRun& run = runs.back();
      if (run.count == 1 && p > run.start) {
        run.stride = p - run.start;
        run.count = 2;
        continue;
      }
      if (run.count > 1 && p == run.last() + run.stride) {
        ++run.count;
        continue;
      }
    }
    runs.push_back({p, 1, 1});
  }
  return Positions(std::move(runs));
}

int64_t Positions::at(int64_t local) const {
  ATTNSCALE_CHECK(local >= 0 && local < size_, "layout", "local index {} outside [0, {})", local,
                  size_);
  const auto it = std::upper_bound(run_begin_.begin(), run_begin_.end(), local) - 1;
  const auto r = static_cast<size_t>(it - run_begin_.begin());
  return runs_[r].start + (local - *it) * runs_[r].stride;
}

void Positions::fill(std::span<int64_t> global) const {
  ATTNSCALE_CHECK(static_cast<int64_t>(global.size()) == size_, "layout",
                  "fill needs {} entries, got {}", size_, global.size());
  size_t out = 0;
  for (const auto& run : runs_)
    for (int64_t k = 0; k < run.count; ++k) global[out++] = run.start + k * run.stride;
}

std::pair<int64_t, int64_t> Positions::range(int64_t begin, int64_t end) const {
  ATTNSCALE_CHECK(0 <= begin && begin < end && end <= size_, "layout",
                  "range [{}, {}) is empty or outside [0, {})", begin, end, size_);
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (size_t r = 0; r < runs_.size(); ++r) {
    const int64_t run_lo = std::max(begin, run_begin_[r]);
    const int64_t run_hi = std::min(end, run_begin_[r] + runs_[r].count);  // exclusive
    if (run_lo >= run_hi) continue;
    // Within a run positions increase with the local index.
    lo = std::min(lo, runs_[r].start + (run_lo - run_begin_[r]) * runs_[r].stride);
    hi = std::max(hi, runs_[r].start + (run_hi - 1 - run_begin_[r]) * runs_[r].stride);
  }
  return {lo, hi};
}

LayoutKind parse_layout_kind(const char* name) {
  if (std::strcmp(name, "contiguous") == 0) return LayoutKind::contiguous;
  if (std::strcmp(name, "zigzag") == 0) return LayoutKind::zigzag;
  if (std::strcmp(name, "striped") == 0) return LayoutKind::striped;
  throw UsageError(fmt::format(
      "[layout] unknown layout '{}' (expected contiguous, zigzag or striped)", name));
}

const char* layout_kind_name(LayoutKind kind) {
  switch (kind) {
    case LayoutKind::contiguous: return "contiguous";
    case LayoutKind::zigzag: return "zigzag";
    case LayoutKind::striped: return "striped";
  }
  return "?";
}

int64_t even_split_begin(int64_t length, int64_t pieces, int64_t index) {
  const int64_t base = length / pieces, extra = length % pieces;
  return index * base + std::min(index, extra);
}

Layout::Layout(LayoutKind kind_, int64_t length_, int ranks_)
    : kind(kind_), length(length_), ranks(ranks_) {
  ATTNSCALE_CHECK(ranks >= 1, "layout", "ranks must be >= 1, got {}", ranks);
  ATTNSCALE_CHECK(length >= 0, "layout", "length must be >= 0, got {}", length);
}

Positions Layout::positions(int rank) const {
  ATTNSCALE_CHECK(rank >= 0 && rank < ranks, "layout", "rank {} outside [0, {})", rank, ranks);
  switch (kind) {
    case LayoutKind::contiguous: {
      const int64_t b = even_split_begin(length, ranks, rank);
      return Positions::contiguous(b, even_split_begin(length, ranks, rank + 1) - b);
    }
    case LayoutKind::zigzag: {
      const int64_t chunks = 2 * int64_t{ranks};
      const int64_t mirror = chunks - 1 - rank;
      const int64_t b0 = even_split_begin(length, chunks, rank);
      const int64_t b1 = even_split_begin(length, chunks, mirror);
      return Positions({StridedRun{b0, even_split_begin(length, chunks, rank + 1) - b0, 1},
                        StridedRun{b1, even_split_begin(length, chunks, mirror + 1) - b1, 1}});
    }
    case LayoutKind::striped: {
      const int64_t count = rank < length ? (length - rank + ranks - 1) / ranks : 0;
      return Positions::strided(rank, count, ranks);
    }
  }
  return {};
}

int64_t Layout::local_length(int rank) const { return positions(rank).size(); }

int64_t Layout::global_position(int rank, int64_t local) const {
  return positions(rank).at(local);
}

Layout::Owner Layout::owner(int64_t global) const {
  ATTNSCALE_CHECK(global >= 0 && global < length, "layout", "position {} outside [0, {})", global,
                  length);
  auto piece_of = [&](int64_t pieces) {
    // The piece containing `global`: the last piece whose begin is <= global.
    int64_t lo = 0, hi = pieces - 1;
    while (lo < hi) {
      const int64_t mid = (lo + hi + 1) / 2;
      if (even_split_begin(length, pieces, mid) <= global) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  switch (kind) {
    case LayoutKind::contiguous: {
      const int64_t r = piece_of(ranks);
      return {static_cast<int>(r), global - even_split_begin(length, ranks, r)};
    }
    case LayoutKind::zigzag: {
      const int64_t chunks = 2 * int64_t{ranks};
      const int64_t c = piece_of(chunks);
      const int64_t offset = global - even_split_begin(length, chunks, c);
      if (c < ranks) return {static_cast<int>(c), offset};
      const auto r = static_cast<int>(chunks - 1 - c);
      const int64_t first_chunk = even_split_begin(length, chunks, r + 1) -
                                  even_split_begin(length, chunks, r);
      return {r, first_chunk + offset};
    }
    case LayoutKind::striped:
      return {static_cast<int>(global % ranks), global / ranks};
  }
  return {};
}

}  // namespace attnscale::kernels
