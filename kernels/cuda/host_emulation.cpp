// The host emulator behind kernels/cuda/primitives.cuh (ATTNSCALE_CUDA_HOST_EMULATION builds only).
//
// A grid runs block after block on the calling OS thread. The threads of a block are fibers
// (ucontext) with their own stacks; a scheduler resumes every runnable fiber in turn until it
// finishes or waits at a barrier. When every live thread of a warp waits at the warp barrier, or
// every live thread of the block at the block barrier, they become runnable again. A round in which
// nothing can run is a deadlock (threads waiting at different barriers) and is reported.
#include <ucontext.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "base/error.h"
#include "kernels/cuda/primitives.cuh"

namespace attnscale::cuda::emulation {
namespace {

constexpr size_t kStackBytes = 256 * 1024;     // per emulated thread (pages are touched lazily)
constexpr size_t kMaxSharedBytes = 227 * 1024;  // the most a block may have on sm_90
constexpr unsigned kMaxBlockThreads = 1024;
constexpr unsigned char kUnwrittenShared = 0xff;  // NaN in every float, so early reads show

enum class Wait { none, warp, block, done };

struct Fiber {
  ucontext_t context;
  uint3 index;
  Wait wait = Wait::none;
};

struct AlignedBuffer {
  std::unique_ptr<unsigned char[]> bytes;
  unsigned char* data = nullptr;

  AlignedBuffer(size_t size, size_t alignment)
      : bytes(new unsigned char[size + alignment]),
        data(bytes.get() + (alignment - reinterpret_cast<uintptr_t>(bytes.get()) % alignment) % alignment) {
    std::memset(data, kUnwrittenShared, size);
  }
};

struct StaticShared {
  const void* key;
  AlignedBuffer buffer;
};

// One block in flight on this OS thread.
struct Block {
  ucontext_t scheduler;
  std::vector<Fiber> fibers;
  int current = 0;
  const std::function<void()>* thread = nullptr;
  AlignedBuffer dynamic_shared{0, 16};
  size_t shared_bytes = 0;  // dynamic + static, against kMaxSharedBytes
  std::vector<StaticShared> static_shared;
  std::vector<uint64_t> warp_slots;  // 32 per warp
  std::exception_ptr error;          // thrown in a fiber, rethrown by the scheduler
};

thread_local Block* t_block = nullptr;
// Fiber stacks, kept between launches (allocating 1024 x 256 KiB per block would dominate).
thread_local std::vector<std::unique_ptr<char[]>> t_stacks;

Block& block() {
  if (!t_block) throw Error("[cuda emulation] a device primitive was called outside a kernel launch");
  return *t_block;
}

void fiber_main() {
  Block& b = *t_block;
  try {
    (*b.thread)();
  } catch (...) {  // an exception cannot unwind past a fiber's first frame
    b.error = std::current_exception();
  }
  b.fibers[b.current].wait = Wait::done;
}  // returns to uc_link: the scheduler

void suspend(Wait wait) {
  Block& b = block();
  Fiber& self = b.fibers[b.current];
  self.wait = wait;
  swapcontext(&self.context, &b.scheduler);
}

// Makes waiting fibers runnable where a barrier is complete; false when none could be released.
bool release_barriers(Block& b) {
  bool released = false;
  const size_t n = b.fibers.size();
  for (size_t first = 0; first < n; first += kWarpSize) {
    const size_t last = std::min(n, first + kWarpSize);
    bool all_at_warp = false, any_other = false;
    for (size_t i = first; i < last; ++i) {
      const Wait w = b.fibers[i].wait;
      if (w == Wait::warp) all_at_warp = true;
      else if (w != Wait::done) any_other = true;
    }
    if (all_at_warp && !any_other) {
      for (size_t i = first; i < last; ++i)
        if (b.fibers[i].wait == Wait::warp) b.fibers[i].wait = Wait::none;
      released = true;
    }
  }
  if (released) return true;
  const bool all_at_block = std::all_of(b.fibers.begin(), b.fibers.end(),
                                        [](const Fiber& f) { return f.wait == Wait::block || f.wait == Wait::done; });
  const bool any_at_block =
      std::any_of(b.fibers.begin(), b.fibers.end(), [](const Fiber& f) { return f.wait == Wait::block; });
  if (all_at_block && any_at_block) {
    for (Fiber& f : b.fibers)
      if (f.wait == Wait::block) f.wait = Wait::none;
    return true;
  }
  return false;
}

std::string describe_waits(const Block& b) {
  std::string text;
  for (size_t i = 0; i < b.fibers.size(); ++i) {
    const Wait w = b.fibers[i].wait;
    if (w == Wait::done) continue;
    if (!text.empty()) text += ", ";
    text += fmt::format("thread {} at {}", i, w == Wait::warp ? "a warp barrier" : "__syncthreads");
    if (text.size() > 200) return text + ", ...";
  }
  return text;
}

void run_block(Block& b, const dim3& block_dim) {
  const size_t threads = b.fibers.size();
  while (t_stacks.size() < threads) t_stacks.emplace_back(new char[kStackBytes]);
  for (size_t i = 0; i < threads; ++i) {
    Fiber& f = b.fibers[i];
    f.index = {static_cast<unsigned>(i % block_dim.x), static_cast<unsigned>(i / block_dim.x % block_dim.y),
               static_cast<unsigned>(i / (block_dim.x * block_dim.y))};
    f.wait = Wait::none;
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = t_stacks[i].get();
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = &b.scheduler;
    makecontext(&f.context, fiber_main, 0);
  }
  for (;;) {
    bool ran = false;
    for (size_t i = 0; i < threads; ++i) {
      if (b.fibers[i].wait != Wait::none) continue;
      b.current = static_cast<int>(i);
      threadIdx = b.fibers[i].index;
      swapcontext(&b.scheduler, &b.fibers[i].context);
      if (b.error) std::rethrow_exception(b.error);
      ran = true;
    }
    const bool all_done =
        std::all_of(b.fibers.begin(), b.fibers.end(), [](const Fiber& f) { return f.wait == Wait::done; });
    if (all_done) return;
    if (!release_barriers(b) && !ran)
      throw Error(fmt::format("[cuda emulation] deadlock in block ({}, {}, {}): {}", blockIdx.x, blockIdx.y,
                              blockIdx.z, describe_waits(b)));
  }
}

}  // namespace

void run_grid(dim3 grid, dim3 block_dim, size_t dynamic_shared_bytes, const std::function<void()>& thread) {
  const uint64_t threads = uint64_t{block_dim.x} * block_dim.y * block_dim.z;
  const uint64_t blocks = uint64_t{grid.x} * grid.y * grid.z;
  if (threads == 0 || threads > kMaxBlockThreads || block_dim.z > 64 || blocks == 0 || grid.y > 65535 ||
      grid.z > 65535 || dynamic_shared_bytes > kMaxSharedBytes)
    throw Error(fmt::format("[cuda emulation] invalid launch configuration: grid ({}, {}, {}), block ({}, {}, {}), "
                            "{} bytes of dynamic shared memory",
                            grid.x, grid.y, grid.z, block_dim.x, block_dim.y, block_dim.z, dynamic_shared_bytes));
  if (t_block) throw Error("[cuda emulation] a kernel launched another kernel (dynamic parallelism is not emulated)");
  Block b;
  b.fibers.resize(threads);
  b.thread = &thread;
  b.warp_slots.assign((threads + kWarpSize - 1) / kWarpSize * kWarpSize, 0);
  t_block = &b;
  struct Reset {
    ~Reset() { t_block = nullptr; }
  } reset;
  gridDim = grid;
  blockDim = block_dim;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = {x, y, z};
        // Shared memory is per block: fresh (and poisoned) for each.
        b.dynamic_shared = AlignedBuffer(dynamic_shared_bytes, 16);
        b.static_shared.clear();
        b.shared_bytes = dynamic_shared_bytes;
        run_block(b, block_dim);
      }
}

void block_barrier() { suspend(Wait::block); }

void warp_barrier() { suspend(Wait::warp); }

uint64_t* warp_slots() {
  Block& b = block();
  return b.warp_slots.data() + static_cast<size_t>(b.current) / kWarpSize * kWarpSize;
}

void* dynamic_shared() { return block().dynamic_shared.data; }

void* static_shared(const void* key, size_t bytes, size_t alignment) {
  Block& b = block();
  for (StaticShared& s : b.static_shared)
    if (s.key == key) return s.buffer.data;
  b.shared_bytes += bytes;
  if (b.shared_bytes > kMaxSharedBytes)
    throw Error(fmt::format("[cuda emulation] the block uses {} bytes of shared memory, more than {}", b.shared_bytes,
                            kMaxSharedBytes));
  b.static_shared.push_back({key, AlignedBuffer(bytes, std::max<size_t>(alignment, 16))});
  return b.static_shared.back().buffer.data;
}

void require_full_mask(unsigned mask, const char* what) {
  if (mask != kFullMask)
    throw Error(fmt::format("[cuda emulation] {} with mask {:#x}: only the full warp (0xffffffff) is emulated", what,
                            mask));
}

}  // namespace attnscale::cuda::emulation
