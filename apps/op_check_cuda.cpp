// `attnscale op-check attention --device cuda`: the op-check contract (kernels/README.md) on the
// CUDA attention kernels (kernels/cuda/attention.h). The inputs go to GPU 0, the forward (and,
// with dout, delta and the backward) run on one stream, the results come back and are written
// exactly as the CPU run writes them, so the two output files of one input compare directly.
#include "apps/op_check_attention.h"

#include <algorithm>
#include <span>
#include <vector>

#include "base/error.h"

#if defined(ATTNSCALE_HAVE_CUDA)
#include <cuda_runtime_api.h>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/check.h"
#endif

namespace attnscale::app {

#if defined(ATTNSCALE_HAVE_CUDA)
namespace {

// The stream of one op-check run (the kernels' scratch memory is ordered on it).
class RunStream {
 public:
  RunStream() { ATTNSCALE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  ~RunStream() { cudaStreamDestroy(stream_); }
  RunStream(const RunStream&) = delete;
  RunStream& operator=(const RunStream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// `count` values of T in GPU memory, optionally copied from the host; freed when it goes.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t count) : count_(count) {
    ATTNSCALE_CUDA_CHECK(
        cudaMalloc(reinterpret_cast<void**>(&data_), std::max<size_t>(count, 1) * sizeof(T)));
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    ATTNSCALE_CUDA_CHECK(
        cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~DeviceArray() { cudaFree(data_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  std::span<T> span() const { return {data_, count_}; }
  std::vector<T> to_host() const {  // waits for the kernels writing it
    std::vector<T> host(count_);
    ATTNSCALE_CUDA_CHECK(
        cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  size_t count_;
  T* data_ = nullptr;
};

}  // namespace

void require_cuda_device() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0)
    throw UsageError(fmt::format("[op-check] --device cuda: no CUDA device ({})",
                                 status != cudaSuccess ? cudaGetErrorString(status)
                                                       : "the driver reports none"));
  ATTNSCALE_CUDA_CHECK(cudaSetDevice(0));
}

template <typename T>
AttentionOutput<T> run_attention_cuda(const AttentionInput<T>& input) {
  const kernels::AttentionShape& s = input.shape();
  const RunStream stream;
  const DeviceArray<T> q(input.q.data), k(input.k.data), v(input.v.data);
  const DeviceArray<int32_t> q_segment(input.q_segment), k_segment(input.k_segment),
      k_valid(input.k_valid);
  kernels::AttentionParams params = input.params;  // the mask's per-token spans on the device
  if (!input.q_segment.empty()) {
    params.mask.q_segment = q_segment.span();
    params.mask.k_segment = k_segment.span();
  }
  if (!input.k_valid.empty()) params.mask.k_valid = k_valid.span();

  const DeviceArray<T> out(static_cast<size_t>(s.out_size())), lse(static_cast<size_t>(s.rows()));
  cuda::attention_forward<T>(params, {q.span(), k.span(), v.span(), out.span(), lse.span()},
                             stream.get());
  ATTNSCALE_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
  AttentionOutput<T> r;
  r.out = out.to_host();
  r.lse = lse.to_host();
  if (input.dout) {
    const DeviceArray<T> dout(input.dout->data), delta(static_cast<size_t>(s.rows())),
        dq(static_cast<size_t>(s.q_size())), dk(static_cast<size_t>(s.k_size())),
        dv(static_cast<size_t>(s.v_size()));
    cuda::attention_delta<T>(dout.span(), out.span(), s.value_dim, delta.span(), stream.get());
    cuda::attention_backward<T>(params,
                                {q.span(), k.span(), v.span(), dout.span(), lse.span(),
                                 delta.span(), dq.span(), dk.span(), dv.span()},
                                stream.get());
    ATTNSCALE_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
    r.dq = dq.to_host();
    r.dk = dk.to_host();
    r.dv = dv.to_host();
  }
  return r;
}
#else
void require_cuda_device() {
  throw UsageError("[op-check] --device cuda: no CUDA device (this build has no CUDA backend)");
}

template <typename T>
AttentionOutput<T> run_attention_cuda(const AttentionInput<T>&) {
  require_cuda_device();  // never returns
  return {};
}
#endif

template AttentionOutput<float> run_attention_cuda<float>(const AttentionInput<float>&);
template AttentionOutput<double> run_attention_cuda<double>(const AttentionInput<double>&);

}  // namespace attnscale::app
