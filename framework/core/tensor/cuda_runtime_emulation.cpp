// The CUDA runtime layer of the emulation build (CMake ATTNSCALE_CUDA_EMULATION=ON): cuda_runtime.h
// and cuda_handles.h over host memory, for a libattnscale whose kernels/cuda/ launchers run on the
// host emulator (kernels/cuda/primitives.cuh). It stands in for cuda_runtime.cpp's CUDA-runtime half
// and nothing else, so every op, the trainer and the checkpoints run their CUDA code as written.
//
//   - One device, cuda:0, named "host emulation of CUDA", with the host's memory as its total.
//   - Device memory is host memory (the host allocator's aligned blocks), counted by the same
//     current/peak bookkeeping as the GPU pool, and filled with 0xff bytes when allocated: NaN in
//     every float (and -1 in every integer), so a kernel or op that reads memory nothing wrote shows
//     it in its results instead of reading zeros by luck.
//   - Copies are memcpy, zeroing is memset. A launch has run its whole grid when it returns, so
//     streams, events and synchronisation have nothing to order and do nothing; pinned buffers are
//     plain host memory.
// What only the CUDA runtime does (stream order, asynchronous copies, the cudaMallocAsync pool,
// device properties of a real GPU) is therefore not exercised here: README "GPU status".
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>

#include "base/error.h"
#include "framework/core/tensor/cuda_handles.h"
#include "framework/core/tensor/cuda_runtime.h"
#include "framework/core/tensor/host_allocator.h"
#include "framework/core/tensor/memory_counter.h"

namespace attnscale::cuda {
namespace {

constexpr unsigned char kUnwrittenDeviceByte = 0xff;  // NaN in every float, as the emulator's shared memory

struct EmulatedDevice {
  std::mutex mutex;  // guards counter and blocks
  MemoryCounter counter;
  std::map<const std::byte*, size_t> blocks;  // the device's allocations: start -> bytes
};

// The one emulated device; checks that `device` is it.
EmulatedDevice& state(Device device) {
  ATTNSCALE_CHECK(device.is_cuda(), "cuda", "{} is not a CUDA device", device.str());
  ATTNSCALE_CHECK(device.index == 0, "cuda", "{} does not exist: the host emulation has one device, cuda:0",
                  device.str());
  static auto& emulated = *new EmulatedDevice;  // never destroyed: tensors may be released at exit
  return emulated;
}

size_t host_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
}

}  // namespace

bool compiled() { return true; }

Availability probe() { return {1, ""}; }

void set_current(Device device) { state(device); }

DeviceProperties properties(Device device) {
  state(device);
  return {"host emulation of CUDA", host_memory_bytes(), 0, 0};
}

void synchronize(Device device) {
  if (device.is_cuda()) state(device);
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (dst_device.is_cuda()) state(dst_device);
  if (src_device.is_cuda()) state(src_device);
  if (bytes) std::memcpy(dst, src, bytes);
}

// The emulated device's memory is host memory: a pointer is "device memory" when it lies in a block
// allocate() handed out, so communicators stage exactly what they would stage on a GPU.
bool is_device_memory(const void* data) {
  EmulatedDevice& s = state(cuda_device(0));
  const auto* p = static_cast<const std::byte*>(data);
  std::lock_guard lock(s.mutex);
  auto it = s.blocks.upper_bound(p);
  if (it == s.blocks.begin()) return false;
  --it;
  return p < it->first + it->second;
}

void zero_bytes(void* dst, Device device, size_t bytes) {
  state(device);
  if (bytes) std::memset(dst, 0, bytes);
}

std::byte* allocate(size_t bytes, Device device) {
  if (bytes == 0) return nullptr;
  EmulatedDevice& s = state(device);
  std::byte* block = host_memory::allocate(bytes);
  std::memset(block, kUnwrittenDeviceByte, bytes);
  std::lock_guard lock(s.mutex);
  s.counter.allocated(bytes);
  s.blocks.emplace(block, bytes);
  return block;
}

void release(std::byte* block, size_t bytes, Device device) noexcept {
  if (!block) return;
  try {
    EmulatedDevice& s = state(device);
    host_memory::release(block);
    std::lock_guard lock(s.mutex);
    s.counter.released(bytes);
    s.blocks.erase(block);
  } catch (...) {
  }
}

MemoryStats memory_stats(Device device) {
  EmulatedDevice& s = state(device);
  std::lock_guard lock(s.mutex);
  return {s.counter.current(), s.counter.peak()};
}

void reset_peak(Device device) {
  EmulatedDevice& s = state(device);
  std::lock_guard lock(s.mutex);
  s.counter.reset_peak();
}

// ---- handles: nothing to order ----

OwnedStream::OwnedStream() = default;
OwnedStream::~OwnedStream() = default;
void OwnedStream::synchronize() const {}

OwnedEvent::OwnedEvent() = default;
OwnedEvent::~OwnedEvent() = default;
void OwnedEvent::record(Stream) const {}
void OwnedEvent::wait_on(Stream) const {}
void OwnedEvent::synchronize() const {}

PinnedBuffer::PinnedBuffer(size_t bytes) : data_(host_memory::allocate(bytes)), bytes_(bytes) {}
PinnedBuffer::~PinnedBuffer() {
  if (data_) host_memory::release(data_);
}

DeviceGuard::DeviceGuard(int index) { state(cuda_device(index)); }
DeviceGuard::~DeviceGuard() = default;

Stream compute_stream(Device device) {
  state(device);
  return nullptr;
}

}  // namespace attnscale::cuda
