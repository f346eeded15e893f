// The host-side interface to the CUDA runtime: which GPUs exist, memory on a device, copies between
// devices. It includes no CUDA header, so every file may use it; in a build without CUDA it reports
// no device and every device operation throws. The CUDA types themselves (streams, events, pinned
// buffers, the checked-call macro) are in cuda_handles.h, for code compiled with CUDA.
#pragma once

#include <cstddef>
#include <string>

#include "framework/core/tensor/device.h"

namespace attnscale::cuda {

// True when this build has the CUDA backend.
bool compiled();

// How many GPUs this process can use, and why none when device_count is 0 (no driver, no device,
// not compiled in). Any error from the runtime counts as "no device".
struct Availability {
  int device_count = 0;
  std::string reason;
};
Availability probe();

// Which GPU a rank uses: local_rank % device_count (ranks on a node share its GPUs round robin).
// Throws UsageError when device_count is 0.
int gpu_for_local_rank(int local_rank, int device_count);

// Makes `device` current for this thread (later kernels and allocations go there).
void set_current(Device device);

// run.allow_tf32: whether cuBLAS GEMMs may round fp32 inputs to TF32 (process-wide, default false).
void set_allow_tf32(bool allow);
bool allow_tf32();

// True in the emulation build (ATTNSCALE_CUDA_EMULATION): the CUDA backend's kernels run on the
// host emulator and its one device, cuda:0, is host memory (cuda_runtime_emulation.cpp).
bool emulated();

struct DeviceProperties {
  std::string name;
  size_t total_memory = 0;
  int major = 0, minor = 0;  // compute capability; 0.0 on the emulated device
};
DeviceProperties properties(Device device);
// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)"; the emulated device without a compute capability.
std::string describe(const DeviceProperties& p);

// Copies `bytes` between any two devices (cpu or cuda). Host <-> device copies go through a pinned
// staging buffer and return once the data is at `dst`; copies between GPU memories are ordered on
// the destination's compute stream (where every later use of dst runs) and return at once.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
// True when `data` points into GPU memory (a communicator asks, to stage it through host memory).
bool is_device_memory(const void* data);
// Sets `bytes` at `dst` on a GPU to zero (stream-ordered on the device's compute stream).
void zero_bytes(void* dst, Device device, size_t bytes);
// Waits for every kernel queued on the device's compute stream.
void synchronize(Device device);

// ---- device memory: a stream-ordered caching pool per GPU -----------------------------------------
// Blocks come from cudaMallocAsync on the device's compute stream, out of its default memory pool
// with the release threshold raised to the maximum, so freed memory stays in the pool for the next
// step instead of going back to the driver.
std::byte* allocate(size_t bytes, Device device);
// Never throws (storage deleters call it, possibly after the runtime shut down at exit).
void release(std::byte* block, size_t bytes, Device device) noexcept;

struct MemoryStats {
  size_t current_bytes = 0;  // held by tensors now
  size_t peak_bytes = 0;     // most held at once since the start or the last reset_peak
};
MemoryStats memory_stats(Device device);
void reset_peak(Device device);

}  // namespace attnscale::cuda
