// The host allocator's cache: large blocks come back for the same size, the limit holds, and
// every block is 64-byte aligned.
#include <gtest/gtest.h>

#include <cstdint>

#include "framework/tensor/host_allocator.h"
#include "framework/tensor/tensor.h"

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
  const size_t saved_limit = host_memory::cache_stats().limit_bytes;
  host_memory::set_cache_limit(kOddLargeSize - 1);
  host_memory::release(host_memory::allocate(kOddLargeSize));
  EXPECT_EQ(host_memory::cache_stats().cached_bytes, 0u) << "a block over the limit must be freed";
  host_memory::set_cache_limit(saved_limit);
}

TEST(HostAllocator, ANewlyReleasedBlockEvictsOlderOnesWhenFull) {
  host_memory::empty_cache();
  const size_t saved_limit = host_memory::cache_stats().limit_bytes;
  host_memory::set_cache_limit(kOddLargeSize + (size_t{512} << 10));
  host_memory::release(host_memory::allocate(size_t{1} << 20));  // 1 MiB cached
  std::byte* newer = host_memory::allocate(kOddLargeSize);
  host_memory::release(newer);  // does not fit next to the 1 MiB block ...
  EXPECT_EQ(host_memory::cache_stats().cached_bytes, kOddLargeSize);
  EXPECT_EQ(host_memory::allocate(kOddLargeSize), newer) << "... so the older block made room for it";
  host_memory::release(newer);
  host_memory::set_cache_limit(saved_limit);
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
