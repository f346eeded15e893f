#include "framework/core/tensor/host_allocator.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale::host_memory {
namespace {

constexpr size_t kMinLimit = size_t{1} << 30;

size_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : kMinLimit * 8;
}

// The first number in `file` (after `key` when given); nullopt when unreadable or "max".
std::optional<size_t> read_number(const char* file, std::string_view key = {}) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(key)) continue;
    size_t value = 0;
    const char* begin = line.data() + key.size();
    while (*begin == ' ') ++begin;
    const auto [end, error] = std::from_chars(begin, line.data() + line.size(), value);
    if (error != std::errc()) return std::nullopt;
    return std::string_view(end, line.data() + line.size()).find("kB") != std::string_view::npos ? value << 10 : value;
  }
  return std::nullopt;
}

// What the container's memory limit leaves, when it has one (the cgroup mounted at the root).
std::optional<size_t> cgroup_headroom() {
  for (const auto& [limit_file, usage_file] : {std::pair{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
                                               std::pair{"/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                                         "/sys/fs/cgroup/memory/memory.usage_in_bytes"}}) {
    const auto limit = read_number(limit_file), usage = read_number(usage_file);
    if (limit && usage) return *limit > *usage ? *limit - *usage : 0;
  }
  return std::nullopt;
}

// The automatic limit for a largest request of `largest` bytes.
size_t automatic_limit(size_t largest) {
  static const size_t ceiling = std::max(kMinLimit, physical_memory() / 8);
  return std::clamp(largest * 8, kMinLimit, ceiling);
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<std::byte*, size_t> live_large;  // large blocks handed out, by rounded size
  std::multimap<size_t, std::byte*> free_blocks;      // rounded size -> cached block
  size_t cached_bytes = 0;
  size_t limit_bytes = kMinLimit;
  bool automatic = true;  // limit_bytes follows largest_request
  size_t largest_request = 0;
  size_t hits = 0, misses = 0;

  // Frees cached blocks, largest first, until at most `target` bytes remain. Caller holds mutex.
  void shrink_to(size_t target) {
    while (cached_bytes > target && !free_blocks.empty()) {
      auto last = std::prev(free_blocks.end());
      cached_bytes -= last->first;
      std::free(last->second);
      free_blocks.erase(last);
    }
  }
};

// Never destroyed: tensors held in static objects may release their blocks after main returns.
Cache& cache() {
  static Cache& instance = *new Cache;
  return instance;
}

size_t round_up(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

std::byte* system_allocate(size_t rounded) {
  auto* p = static_cast<std::byte*>(std::aligned_alloc(kAlignment, rounded));
  if (!p) throw RuntimeFailure(fmt::format("[storage] out of memory allocating {} bytes", rounded));
  return p;
}

}  // namespace

std::byte* allocate(size_t bytes) {
  const size_t rounded = round_up(bytes == 0 ? 1 : bytes);
  if (rounded < kCachedBlockBytes) return system_allocate(rounded);
  Cache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    if (auto it = c.free_blocks.find(rounded); it != c.free_blocks.end()) {
      std::byte* p = it->second;
      c.free_blocks.erase(it);
      c.cached_bytes -= rounded;
      c.live_large.emplace(p, rounded);
      ++c.hits;
      return p;
    }
    ++c.misses;
    if (rounded > c.largest_request) {
      c.largest_request = rounded;
      if (c.automatic) c.limit_bytes = automatic_limit(rounded);
    }
  }
  std::byte* p = system_allocate(rounded);
  std::lock_guard lock(c.mutex);
  c.live_large.emplace(p, rounded);
  return p;
}

void release(std::byte* block) {
  if (!block) return;
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  const auto it = c.live_large.find(block);
  if (it == c.live_large.end()) {  // a small block
    std::free(block);
    return;
  }
  const size_t size = it->second;
  c.live_large.erase(it);
  if (size > c.limit_bytes) {
    std::free(block);
    return;
  }
  // The block just released is the likeliest to be asked for again (the next step's same tensor),
  // so older blocks make room for it.
  c.shrink_to(c.limit_bytes - size);
  c.free_blocks.emplace(size, block);
  c.cached_bytes += size;
}

CacheStats cache_stats() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return {c.cached_bytes, c.limit_bytes, c.hits, c.misses};
}

void set_cache_limit(size_t bytes) {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.automatic = bytes == 0;
  c.limit_bytes = c.automatic ? automatic_limit(c.largest_request) : bytes;
  c.shrink_to(c.limit_bytes);
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.shrink_to(0);
}

size_t available_memory() {
  size_t available = read_number("/proc/meminfo", "MemAvailable:").value_or(physical_memory());
  if (const auto headroom = cgroup_headroom()) available = std::min(available, *headroom);
  return available + cache_stats().cached_bytes;
}

}  // namespace attnscale::host_memory
