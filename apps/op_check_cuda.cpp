// `attnscale op-check attention --device cuda`: the op-check contract (kernels/README.md) on the
// CUDA attention kernels (kernels/cuda/attention.h for softmax, kernels/cuda/sparsemax_attention.h
// for sparsemax). The inputs go to GPU 0, the forward (and, with dout, delta and the backward) run
// on one stream, the results come back and are written
// exactly as the CPU run writes them, so the two output files of one input compare directly.
#include "apps/op_check_attention.h"

#include <algorithm>
#include <span>
#include <vector>

#include "base/error.h"
#include "framework/core/tensor/cuda_runtime.h"

#if defined(ATTNSCALE_HAVE_CUDA)
#include "framework/core/tensor/cuda_handles.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/sparsemax_attention.h"
#endif

namespace attnscale::app {

constexpr Device kGpu = cuda_device(0);

void require_cuda_device() {
  const cuda::Availability available = cuda::probe();
  if (available.device_count == 0)
    throw UsageError(fmt::format("[op-check] --device cuda: no CUDA device ({})", available.reason));
  cuda::set_current(kGpu);
}

#if defined(ATTNSCALE_HAVE_CUDA)
namespace {

// `count` values of T in the device's memory pool, optionally copied from the host; released when it
// goes. Every kernel of the run is ordered on the device's compute stream, as the pool is.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t count)
      : count_(count), block_(cuda::allocate(std::max<size_t>(count, 1) * sizeof(T), kGpu)) {}
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    cuda::copy_bytes(block_, kGpu, host.data(), kCpu, host.size() * sizeof(T));
  }
  ~DeviceArray() { cuda::release(block_, std::max<size_t>(count_, 1) * sizeof(T), kGpu); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  std::span<T> span() const { return {reinterpret_cast<T*>(block_), count_}; }
  std::vector<T> to_host() const {  // waits for the kernels writing it
    std::vector<T> host(count_);
    cuda::copy_bytes(host.data(), kCpu, block_, kGpu, count_ * sizeof(T));
    return host;
  }

 private:
  size_t count_;
  std::byte* block_;
};

}  // namespace

template <typename T>
AttentionOutput<T> run_attention_cuda(const AttentionInput<T>& input) {
  const kernels::AttentionShape& s = input.shape();
  const cuda::Stream stream = cuda::compute_stream(kGpu);
  const DeviceArray<T> q(input.q.data), k(input.k.data), v(input.v.data);
  const DeviceArray<int32_t> q_segment(input.q_segment), k_segment(input.k_segment),
      k_valid(input.k_valid);
  kernels::AttentionParams params = input.params;  // the mask's per-token spans on the device
  if (!input.q_segment.empty()) {
    params.mask.q_segment = q_segment.span();
    params.mask.k_segment = k_segment.span();
  }
  if (!input.k_valid.empty()) params.mask.k_valid = k_valid.span();

  AttentionOutput<T> r;
  if (!input.softmax()) {  // sparsemax: no lse, no delta
    const DeviceArray<T> out(static_cast<size_t>(s.out_size()));
    cuda::sparsemax_attention_forward<T>(params, {q.span(), k.span(), v.span(), out.span(), {}}, stream);
    r.out = out.to_host();
    if (input.dout) {
      const DeviceArray<T> dout(input.dout->data), dq(static_cast<size_t>(s.q_size())),
          dk(static_cast<size_t>(s.k_size())), dv(static_cast<size_t>(s.v_size()));
      cuda::sparsemax_attention_backward<T>(
          params, {q.span(), k.span(), v.span(), dout.span(), {}, {}, dq.span(), dk.span(), dv.span()}, stream);
      r.dq = dq.to_host();
      r.dk = dk.to_host();
      r.dv = dv.to_host();
    }
    return r;
  }
  const DeviceArray<T> out(static_cast<size_t>(s.out_size())), lse(static_cast<size_t>(s.rows()));
  cuda::attention_forward<T>(params, {q.span(), k.span(), v.span(), out.span(), lse.span()},
                             stream);
  r.out = out.to_host();
  r.lse = lse.to_host();
  if (input.dout) {
    const DeviceArray<T> dout(input.dout->data), delta(static_cast<size_t>(s.rows())),
        dq(static_cast<size_t>(s.q_size())), dk(static_cast<size_t>(s.k_size())),
        dv(static_cast<size_t>(s.v_size()));
    cuda::attention_delta<T>(dout.span(), out.span(), s.value_dim, delta.span(), stream);
    cuda::attention_backward<T>(params,
                                {q.span(), k.span(), v.span(), dout.span(), lse.span(),
                                 delta.span(), dq.span(), dk.span(), dv.span()},
                                stream);
    r.dq = dq.to_host();
    r.dk = dk.to_host();
    r.dv = dv.to_host();
  }
  return r;
}
#else
template <typename T>
AttentionOutput<T> run_attention_cuda(const AttentionInput<T>&) {
  require_cuda_device();  // never returns
  return {};
}
#endif

template AttentionOutput<float> run_attention_cuda<float>(const AttentionInput<float>&);
template AttentionOutput<double> run_attention_cuda<double>(const AttentionInput<double>&);

}  // namespace attnscale::app
