// The host allocator's cache: large blocks come back for the same size, the limit holds, and
// every block is 64-byte aligned.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include <cstdint>

#include "framework/core/tensor/host_allocator.h"
#include "framework/core/tensor/tensor.h"

namespace attnscale {
namespace {

bool aligned(const std::byte* p) { return reinterpret_cast<uintptr_t>(p) % host_memory::kAlignment == 0; }

// A size no other test allocates, so cached blocks of other tests cannot interfere.
constexpr size_t kOddLargeSize = (size_t{3} << 20) + 7 * 64;

TEST(HostAllocator, ReusesALargeBlockOfTheSameSize) {
  host_memory::empty_cache();
  std::byte* first = host_memory::allocate(kOddLargeSize);
  ASSERT_TRUE(aligned(first));
  host_memory::release(first);
  EXPECT_EQ(host_memory::cache_stats().cached_bytes, kOddLargeSize);
  const size_t hits_before = host_memory::cache_stats().hits;
  std::byte* second = host_memory::allocate(kOddLargeSize);
  EXPECT_EQ(second, first);
  EXPECT_EQ(host_memory::cache_stats().hits, hits_before + 1);
  EXPECT_EQ(host_memory::cache_stats().cached_bytes, 0u);
  host_memory::release(second);
  host_memory::empty_cache();
  EXPECT_EQ(host_memory::cache_stats().cached_bytes, 0u);
}

TEST(HostAllocator, RespectsTheCacheLimit) {
  host_memory::empty_cache();
  host_memory::set_cache_limit(kOddLargeSize - 1);
  host_memory::release(host_memory::allocate(kOddLargeSize));
  EXPECT_EQ(host_memory::cache_stats().cached_bytes, 0u) << "a block over the limit must be freed";
  host_memory::set_cache_limit(0);  // back to automatic
}

TEST(HostAllocator, ANewlyReleasedBlockEvictsOlderOnesWhenFull) {
  host_memory::empty_cache();
  host_memory::set_cache_limit(kOddLargeSize + (size_t{512} << 10));
  host_memory::release(host_memory::allocate(size_t{1} << 20));  // 1 MiB cached
  std::byte* newer = host_memory::allocate(kOddLargeSize);
  host_memory::release(newer);  // does not fit next to the 1 MiB block ...
  EXPECT_EQ(host_memory::cache_stats().cached_bytes, kOddLargeSize);
  EXPECT_EQ(host_memory::allocate(kOddLargeSize), newer) << "... so the older block made room for it";
  host_memory::release(newer);
  host_memory::set_cache_limit(0);
  host_memory::empty_cache();
}

TEST(HostAllocator, TheAutomaticLimitFollowsTheLargestBlock) {
  host_memory::set_cache_limit(0);
  const size_t gib = size_t{1} << 30;
  EXPECT_GE(host_memory::cache_stats().limit_bytes, gib);
  // A 192 MiB block asks for 1.5 GiB of cache, unless an eighth of the machine's memory is less.
  const size_t block = size_t{192} << 20;
  const size_t physical = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGE_SIZE));
  host_memory::release(host_memory::allocate(block));
  EXPECT_EQ(host_memory::cache_stats().limit_bytes, std::clamp(8 * block, gib, std::max(gib, physical / 8)));
  EXPECT_EQ(host_memory::cache_stats().cached_bytes, block) << "the block is kept for the next step";
  host_memory::set_cache_limit(2 * block);  // an explicit cap stays put
  host_memory::release(host_memory::allocate(block + 4096));
  EXPECT_EQ(host_memory::cache_stats().limit_bytes, 2 * block);
  host_memory::set_cache_limit(0);
  host_memory::empty_cache();
}

TEST(HostAllocator, SmallAndEmptyBlocksAreAlignedAndNotCached) {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{100}, size_t{4096}}) {
    std::byte* p = host_memory::allocate(bytes);
    EXPECT_TRUE(aligned(p)) << bytes;
    const size_t cached = host_memory::cache_stats().cached_bytes;
    host_memory::release(p);
    EXPECT_EQ(host_memory::cache_stats().cached_bytes, cached) << bytes;
  }
}

TEST(HostAllocator, TensorsOfARepeatedShapeReuseMemory) {
  host_memory::empty_cache();
  const void* first = nullptr;
  {
    const Tensor t = Tensor::empty({1024, 1031});  // ~4 MiB, an odd size
    first = t.data<float>();
  }
  const Tensor again = Tensor::empty({1024, 1031});
  EXPECT_EQ(again.data<float>(), first);
}

}  // namespace
}  // namespace attnscale
