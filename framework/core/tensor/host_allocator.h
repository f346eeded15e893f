// CPU memory for tensor storage: 64-byte aligned blocks, with a cache of large freed blocks.
// Why a cache: a fresh large block comes from mmap, and the first touch of each 4 KiB page costs a
// page fault plus the kernel zeroing it. For a 32 MiB tensor that is ~14 ms, against ~2.6 ms for
// the add that fills it (bench_ops), so every op allocating its output ran at a fraction of memory
// speed. A training step allocates the same shapes every time, so large blocks freed by one step are
// handed back, by exact size, to the next. Small blocks go straight to malloc, which caches them.
#pragma once

#include <cstddef>

namespace attnscale::host_memory {

inline constexpr size_t kAlignment = 64;
// Blocks at least this large are cached on release (smaller ones are malloc's business).
inline constexpr size_t kCachedBlockBytes = size_t{256} << 10;

// A block of at least `bytes` (64-byte aligned); throws RuntimeFailure when out of memory.
std::byte* allocate(size_t bytes);
// Returns a block from allocate(). A large block is cached for reuse, evicting older cached blocks
// if the cache would exceed its limit (a block larger than the limit itself is freed).
void release(std::byte* block);

struct CacheStats {
  size_t cached_bytes = 0;  // held in the cache, free for reuse
  size_t limit_bytes = 0;  // the cap now (automatic: it follows the largest request)
  size_t hits = 0;    // large allocations served from the cache
  size_t misses = 0;  // large allocations that went to the system
};
CacheStats cache_stats();

// Caps the bytes the cache holds; lowering it frees blocks until under the cap. 0 = automatic (the
// default): 8 times the largest block asked for so far, at least 1 GiB and at most an eighth of the
// machine's memory, so that a step's largest activations (512 MiB each for 512k tokens x 256 floats)
// come back from the cache instead of faulting in afresh every step.
void set_cache_limit(size_t bytes);
// Frees every cached block (for example before measuring memory, or when memory is short).
void empty_cache();

// Bytes this process could still allocate: the kernel's MemAvailable, lowered to what the memory
// limit of the container's cgroup (v2 or v1) leaves, plus this cache's free blocks. Readers check a
// file's declared sizes against it before allocating (framework/io/hdf5.h).
size_t available_memory();

}  // namespace attnscale::host_memory
