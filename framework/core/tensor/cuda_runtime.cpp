#include "framework/core/tensor/cuda_runtime.h"

#include <atomic>
#include <cstring>

#include "base/error.h"

// Three builds: the CUDA runtime below (nvcc builds), no CUDA (the stubs at the end), and the
// emulation build, whose implementation is cuda_runtime_emulation.cpp (only the shared part here).
#if ATTNSCALE_HAVE_CUDA && !defined(ATTNSCALE_CUDA_HOST_EMULATION)
#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include "framework/core/tensor/cuda_handles.h"
#include "framework/core/tensor/memory_counter.h"
#endif

namespace attnscale::cuda {

namespace {
std::atomic<bool> tf32_allowed{false};
}  // namespace

void set_allow_tf32(bool allow) { tf32_allowed = allow; }
bool allow_tf32() { return tf32_allowed; }

bool emulated() {
#if defined(ATTNSCALE_CUDA_HOST_EMULATION)
  return true;
#else
  return false;
#endif
}

std::string describe(const DeviceProperties& p) {
  const double gib = static_cast<double>(p.total_memory) / double(1 << 30);
  if (p.major == 0) return fmt::format("{} ({:.1f} GiB of host memory)", p.name, gib);
  return fmt::format("{} (sm_{}{}, {:.1f} GiB)", p.name, p.major, p.minor, gib);
}

int gpu_for_local_rank(int local_rank, int device_count) {
  if (device_count <= 0) throw UsageError("[device] no CUDA device to assign to this rank");
  ATTNSCALE_CHECK(local_rank >= 0, "device", "negative local rank {}", local_rank);
  return local_rank % device_count;
}

#if ATTNSCALE_HAVE_CUDA && !defined(ATTNSCALE_CUDA_HOST_EMULATION)

bool compiled() { return true; }

Availability probe() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();  // the error is sticky for the next call otherwise
    return {0, fmt::format("no usable CUDA device: {}", cudaGetErrorString(status))};
  }
  if (count == 0) return {0, "no CUDA device found"};
  return {count, ""};
}

// ---- RAII handles ----

OwnedStream::OwnedStream() { ATTNSCALE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
OwnedStream::~OwnedStream() {
  if (stream_) cudaStreamDestroy(stream_);
}
void OwnedStream::synchronize() const { ATTNSCALE_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

OwnedEvent::OwnedEvent() { ATTNSCALE_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
OwnedEvent::~OwnedEvent() {
  if (event_) cudaEventDestroy(event_);
}
void OwnedEvent::record(Stream stream) const { ATTNSCALE_CUDA_CHECK(cudaEventRecord(event_, stream)); }
void OwnedEvent::wait_on(Stream stream) const { ATTNSCALE_CUDA_CHECK(cudaStreamWaitEvent(stream, event_, 0)); }
void OwnedEvent::synchronize() const { ATTNSCALE_CUDA_CHECK(cudaEventSynchronize(event_)); }

PinnedBuffer::PinnedBuffer(size_t bytes) : bytes_(bytes) {
  void* p = nullptr;
  ATTNSCALE_CUDA_CHECK(cudaMallocHost(&p, bytes));
  data_ = static_cast<std::byte*>(p);
}
PinnedBuffer::~PinnedBuffer() {
  if (data_) cudaFreeHost(data_);
}

DeviceGuard::DeviceGuard(int index) {
  ATTNSCALE_CUDA_CHECK(cudaGetDevice(&previous_));
  if (index != previous_) ATTNSCALE_CUDA_CHECK(cudaSetDevice(index));
}
DeviceGuard::~DeviceGuard() { cudaSetDevice(previous_); }

namespace {

// Host <-> device copies move through this many pinned bytes at a time.
constexpr size_t kStagingBytes = size_t{16} << 20;

// One GPU's compute stream, allocator bookkeeping and staging buffer. Made on first use and never
// destroyed: tensors held in static objects may be released after main returns.
OwnedStream stream_on(int index) {
  DeviceGuard guard(index);
  return OwnedStream();
}

struct DeviceState {
  explicit DeviceState(int index) : stream(stream_on(index)) {
    cudaMemPool_t pool = nullptr;
    ATTNSCALE_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, index));
    uint64_t keep_everything = UINT64_MAX;
    ATTNSCALE_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_everything));
  }
  OwnedStream stream;
  std::mutex mutex;  // guards counter and staging
  MemoryCounter counter;
  std::unique_ptr<PinnedBuffer> staging;
};

DeviceState& state(Device device) {
  ATTNSCALE_CHECK(device.is_cuda(), "cuda", "{} is not a CUDA device", device.str());
  static std::mutex mutex;
  static auto& states = *new std::deque<std::unique_ptr<DeviceState>>;
  std::lock_guard lock(mutex);
  if (states.empty()) {
    const Availability available = probe();
    if (available.device_count == 0) throw UsageError(fmt::format("[cuda] {}", available.reason));
    states.resize(static_cast<size_t>(available.device_count));
  }
  ATTNSCALE_CHECK(device.index >= 0 && static_cast<size_t>(device.index) < states.size(), "cuda",
                  "{} does not exist: this process sees {} GPU(s)", device.str(), states.size());
  auto& slot = states[static_cast<size_t>(device.index)];
  if (!slot) slot = std::make_unique<DeviceState>(device.index);
  return *slot;
}

PinnedBuffer& staging(DeviceState& s) {
  if (!s.staging) s.staging = std::make_unique<PinnedBuffer>(kStagingBytes);
  return *s.staging;
}

}  // namespace

Stream compute_stream(Device device) { return state(device).stream.get(); }

void set_current(Device device) {
  state(device);  // checks the index
  ATTNSCALE_CUDA_CHECK(cudaSetDevice(device.index));
}

DeviceProperties properties(Device device) {
  state(device);
  cudaDeviceProp prop{};
  ATTNSCALE_CUDA_CHECK(cudaGetDeviceProperties(&prop, device.index));
  return {prop.name, prop.totalGlobalMem, prop.major, prop.minor};
}

void synchronize(Device device) {
  if (device.is_cuda()) state(device).stream.synchronize();
}

bool is_device_memory(const void* data) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, data) != cudaSuccess) {
    cudaGetLastError();  // a host pointer the runtime never saw: not an error to keep
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice;
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  auto* out = static_cast<std::byte*>(dst);
  const auto* in = static_cast<const std::byte*>(src);
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(out, in, bytes);
    return;
  }
  if (dst_device.is_cuda() && src_device.is_cuda()) {
    // Stream-ordered: every later use of dst runs on its device's stream.
    DeviceState& dst_state = state(dst_device);
    if (dst_device == src_device) {
      DeviceGuard guard(dst_device.index);
      ATTNSCALE_CUDA_CHECK(cudaMemcpyAsync(out, in, bytes, cudaMemcpyDeviceToDevice, dst_state.stream.get()));
      return;
    }
    // Between GPUs: the copy waits for src's producers, and src's stream (which may free it) waits
    // for the copy. An event is recorded on a stream of its own device.
    DeviceState& src_state = state(src_device);
    std::optional<OwnedEvent> src_ready, copied;
    {
      DeviceGuard guard(src_device.index);
      src_ready.emplace();
      src_ready->record(src_state.stream.get());
    }
    DeviceGuard guard(dst_device.index);
    src_ready->wait_on(dst_state.stream.get());
    ATTNSCALE_CUDA_CHECK(
        cudaMemcpyPeerAsync(out, dst_device.index, in, src_device.index, bytes, dst_state.stream.get()));
    copied.emplace();
    copied->record(dst_state.stream.get());
    copied->wait_on(src_state.stream.get());
    return;
  }
  const Device gpu = dst_device.is_cuda() ? dst_device : src_device;
  DeviceState& s = state(gpu);
  DeviceGuard guard(gpu.index);
  std::lock_guard lock(s.mutex);
  PinnedBuffer& pinned = staging(s);
  for (size_t done = 0; done < bytes; done += pinned.bytes()) {
    const size_t chunk = std::min(pinned.bytes(), bytes - done);
    if (dst_device.is_cuda()) {
      s.stream.synchronize();  // the previous chunk has left the staging buffer
      std::memcpy(pinned.data(), in + done, chunk);
      ATTNSCALE_CUDA_CHECK(cudaMemcpyAsync(out + done, pinned.data(), chunk, cudaMemcpyHostToDevice, s.stream.get()));
    } else {
      ATTNSCALE_CUDA_CHECK(cudaMemcpyAsync(pinned.data(), in + done, chunk, cudaMemcpyDeviceToHost, s.stream.get()));
      s.stream.synchronize();
      std::memcpy(out + done, pinned.data(), chunk);
    }
  }
  s.stream.synchronize();
}

void zero_bytes(void* dst, Device device, size_t bytes) {
  DeviceState& s = state(device);
  DeviceGuard guard(device.index);
  ATTNSCALE_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, s.stream.get()));
}

std::byte* allocate(size_t bytes, Device device) {
  if (bytes == 0) return nullptr;
  DeviceState& s = state(device);
  DeviceGuard guard(device.index);
  void* p = nullptr;
  const cudaError_t status = cudaMallocAsync(&p, bytes, s.stream.get());
  std::lock_guard lock(s.mutex);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw RuntimeFailure(fmt::format("[cuda] out of memory allocating {} bytes on {} ({} bytes held by tensors)",
                                     bytes, device.str(), s.counter.current()));
  }
  if (status != cudaSuccess) throw_cuda_error(status, "cudaMallocAsync", __FILE__, __LINE__);
  s.counter.allocated(bytes);
  return static_cast<std::byte*>(p);
}

void release(std::byte* block, size_t bytes, Device device) noexcept {
  if (!block) return;
  try {
    DeviceState& s = state(device);
    // After the runtime has shut down (static destructors at exit) the free fails: the process is
    // ending and the driver reclaims the memory, so the error is ignored.
    int previous = 0;
    if (cudaGetDevice(&previous) == cudaSuccess && previous != device.index) cudaSetDevice(device.index);
    cudaFreeAsync(block, s.stream.get());
    if (previous != device.index) cudaSetDevice(previous);
    std::lock_guard lock(s.mutex);
    s.counter.released(bytes);
  } catch (...) {
  }
}

MemoryStats memory_stats(Device device) {
  DeviceState& s = state(device);
  std::lock_guard lock(s.mutex);
  return {s.counter.current(), s.counter.peak()};
}

void reset_peak(Device device) {
  DeviceState& s = state(device);
  std::lock_guard lock(s.mutex);
  s.counter.reset_peak();
}

#elif !ATTNSCALE_HAVE_CUDA  // a build without the CUDA backend: no device, and every device operation says so

namespace {
[[noreturn]] void not_compiled(Device device) {
  throw UsageError(fmt::format("[cuda] {}: this attnscale was built without CUDA (ATTNSCALE_CUDA=OFF or no nvcc)",
                               device.str()));
}
}  // namespace

bool compiled() { return false; }
Availability probe() { return {0, "this attnscale was built without CUDA"}; }
void set_current(Device device) { not_compiled(device); }
DeviceProperties properties(Device device) { not_compiled(device); }
void synchronize(Device device) {
  if (device.is_cuda()) not_compiled(device);
}
bool is_device_memory(const void*) { return false; }
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (dst_device.is_cuda()) not_compiled(dst_device);
  if (src_device.is_cuda()) not_compiled(src_device);
  if (bytes) std::memcpy(dst, src, bytes);
}
void zero_bytes(void*, Device device, size_t) { not_compiled(device); }
std::byte* allocate(size_t, Device device) { not_compiled(device); }
void release(std::byte*, size_t, Device) noexcept {}
MemoryStats memory_stats(Device device) { not_compiled(device); }
void reset_peak(Device device) { not_compiled(device); }

#endif

}  // namespace attnscale::cuda
