#include "distributed/context_parallel/device_ops.h"

#include <algorithm>
#include <utility>

#include "framework/core/tensor/cuda_runtime.h"

#if ATTNSCALE_HAVE_CUDA
#include "framework/core/tensor/cuda_handles.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/elementwise.h"
#endif

namespace attnscale::cp {
namespace {

#if !ATTNSCALE_HAVE_CUDA
[[noreturn]] void no_cuda(Device device) {
  throw UsageError(fmt::format("[context_parallel] {}: this attnscale was built without CUDA", device.str()));
}
#endif

// Calls fn(dst_offset, src_offset, count) in elements for every contiguous run a row copy moves:
// the `sub` rows of each of `outer` blocks, between a buffer packed by `sub` and one by `super`.
template <typename Fn>
void for_each_run(const RowSet& sub, const RowSet& super, int64_t outer, int64_t width, Fn&& fn) {
  for (int64_t o = 0; o < outer; ++o)
    detail::for_each_subset_range(sub, super, [&](int64_t sub_row, int64_t super_row, int64_t count) {
      fn(static_cast<std::size_t>((o * sub.size() + sub_row) * width),
         static_cast<std::size_t>((o * super.size() + super_row) * width), static_cast<std::size_t>(count * width));
    });
}

}  // namespace

template <typename T>
DeviceVector<T>::DeviceVector(DeviceVector&& other) noexcept
    : device_(other.device_),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

template <typename T>
DeviceVector<T>& DeviceVector<T>::operator=(DeviceVector&& other) noexcept {
  if (this != &other) {
    free();
    device_ = other.device_;
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

template <typename T>
void DeviceVector<T>::resize(std::size_t size) {
  if (size > capacity_) {
    free();
    data_ = device_.is_cpu() ? new T[size] : reinterpret_cast<T*>(cuda::allocate(size * sizeof(T), device_));
    capacity_ = size;
  }
  size_ = size;
}

template <typename T>
void DeviceVector<T>::free() noexcept {
  if (data_ == nullptr) return;
  if (device_.is_cpu())
    delete[] data_;
  else
    cuda::release(reinterpret_cast<std::byte*>(data_), capacity_ * sizeof(T), device_);
  data_ = nullptr;
  size_ = capacity_ = 0;
}

template <typename T>
void fill(Device device, std::span<T> out, T value) {
  if (out.empty()) return;
  if (device.is_cpu()) {
    std::fill(out.begin(), out.end(), value);
    return;
  }
#if ATTNSCALE_HAVE_CUDA
  cuda::fill<T>(static_cast<int64_t>(out.size()), value, out.data(), cuda::compute_stream(device));
#else
  no_cuda(device);
#endif
}

template <typename T>
void add_into(Device device, std::span<T> dst, std::span<const T> src) {
  ATTNSCALE_CHECK(dst.size() == src.size(), "context_parallel", "add_into: {} and {} elements", dst.size(),
                  src.size());
  if (dst.empty()) return;
  if (device.is_cpu()) {
    for (std::size_t x = 0; x < dst.size(); ++x) dst[x] += src[x];
    return;
  }
#if ATTNSCALE_HAVE_CUDA
  const int64_t n = static_cast<int64_t>(dst.size()), unit = 1;
  cuda::binary<T>(kernels::BinaryOp::add, 1, &n, dst.data(), &unit, src.data(), &unit, dst.data(),
                  cuda::compute_stream(device));
#else
  no_cuda(device);
#endif
}

template <typename T>
void copy_into(Device device, std::span<T> dst, std::span<const T> src) {
  ATTNSCALE_CHECK(dst.size() == src.size(), "context_parallel", "copy_into: {} and {} elements", dst.size(),
                  src.size());
  cuda::copy_bytes(dst.data(), device, src.data(), device, src.size_bytes());
}

template <typename T>
void upload(std::span<const T> src, DeviceVector<T>& dst) {
  dst.resize(src.size());
  cuda::copy_bytes(dst.span().data(), dst.device(), src.data(), kCpu, src.size_bytes());
}

template <typename T>
void gather_rows(Device device, std::span<const T> src, const RowSet& src_rows, std::span<T> dst,
                 const RowSet& dst_rows, int64_t outer, int64_t width) {
  if (device.is_cpu()) return gather_rows<T>(src, src_rows, dst, dst_rows, outer, width);
  detail::check_extent(src.size(), outer, src_rows, width, "gather source");
  detail::check_extent(dst.size(), outer, dst_rows, width, "gather destination");
  for_each_run(dst_rows, src_rows, outer, width, [&](std::size_t to, std::size_t from, std::size_t n) {
    copy_into<T>(device, dst.subspan(to, n), src.subspan(from, n));
  });
}

template <typename T>
void scatter_rows(Device device, std::span<const T> src, const RowSet& src_rows, std::span<T> dst,
                  const RowSet& dst_rows, int64_t outer, int64_t width, bool add) {
  if (device.is_cpu()) return scatter_rows<T>(src, src_rows, dst, dst_rows, outer, width, add);
  detail::check_extent(src.size(), outer, src_rows, width, "scatter source");
  detail::check_extent(dst.size(), outer, dst_rows, width, "scatter destination");
  for_each_run(src_rows, dst_rows, outer, width, [&](std::size_t from, std::size_t to, std::size_t n) {
    if (add)
      add_into<T>(device, dst.subspan(to, n), src.subspan(from, n));
    else
      copy_into<T>(device, dst.subspan(to, n), src.subspan(from, n));
  });
}

template <typename T>
void attention_forward(Device device, const kernels::AttentionParams& params,
                       const kernels::AttentionForwardBuffers<T>& io) {
  if (device.is_cpu()) return kernels::attention_forward<T>(params, io);
#if ATTNSCALE_HAVE_CUDA
  cuda::attention_forward<T>(params, io, cuda::compute_stream(device));
#else
  no_cuda(device);
#endif
}

template <typename T>
void attention_backward(Device device, const kernels::AttentionParams& params,
                        const kernels::AttentionBackwardBuffers<T>& io) {
  if (device.is_cpu()) return kernels::attention_backward<T>(params, io);
#if ATTNSCALE_HAVE_CUDA
  cuda::attention_backward<T>(params, io, cuda::compute_stream(device));
#else
  no_cuda(device);
#endif
}

template <typename T>
void attention_delta(Device device, std::span<const T> dout, std::span<const T> out, int64_t dv,
                     std::span<T> delta) {
  if (device.is_cpu()) return kernels::attention_delta<T>(dout, out, dv, delta);
#if ATTNSCALE_HAVE_CUDA
  cuda::attention_delta<T>(dout, out, dv, delta, cuda::compute_stream(device));
#else
  no_cuda(device);
#endif
}

#define ATTNSCALE_INSTANTIATE_MOVED(T)     \
  template class DeviceVector<T>;          \
  template void copy_into<T>(Device, std::span<T>, std::span<const T>); \
  template void gather_rows<T>(Device, std::span<const T>, const RowSet&, std::span<T>, const RowSet&, int64_t, int64_t);
ATTNSCALE_INSTANTIATE_MOVED(float)
ATTNSCALE_INSTANTIATE_MOVED(double)
ATTNSCALE_INSTANTIATE_MOVED(int32_t)
#undef ATTNSCALE_INSTANTIATE_MOVED
template void upload<int32_t>(std::span<const int32_t>, DeviceVector<int32_t>&);

#define ATTNSCALE_INSTANTIATE_COMPUTED(T)                                                                   \
  template void fill<T>(Device, std::span<T>, T);                                                           \
  template void add_into<T>(Device, std::span<T>, std::span<const T>);                                      \
  template void scatter_rows<T>(Device, std::span<const T>, const RowSet&, std::span<T>, const RowSet&, int64_t, \
                                int64_t, bool);                                                             \
  template void attention_forward<T>(Device, const kernels::AttentionParams&,                               \
                                     const kernels::AttentionForwardBuffers<T>&);                           \
  template void attention_backward<T>(Device, const kernels::AttentionParams&,                              \
                                      const kernels::AttentionBackwardBuffers<T>&);                         \
  template void attention_delta<T>(Device, std::span<const T>, std::span<const T>, int64_t, std::span<T>);
ATTNSCALE_INSTANTIATE_COMPUTED(float)
ATTNSCALE_INSTANTIATE_COMPUTED(double)
#undef ATTNSCALE_INSTANTIATE_COMPUTED

}  // namespace attnscale::cp
