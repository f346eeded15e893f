#include "distributed/data_parallel/gradient_reducer.h"

#include <algorithm>
#include <cstring>

#include "framework/core/tensor/cuda_runtime.h"
#include "framework/core/tensor/param_list.h"

namespace attnscale {
namespace {

CommDType comm_dtype(DType t) {
  switch (t) {
    case DType::f32: return CommDType::f32;
    case DType::f64: return CommDType::f64;
    case DType::i64: return CommDType::i64;
    case DType::bf16: break;  // model.dtype bf16 reduces its float32 masters' gradients
  }
  throw UsageError(fmt::format("[gradient_reducer] cannot sum {} gradients: reduce them in float32",
                               dtype_name(t)));
}

}  // namespace

GradientReducer::GradientReducer(std::span<const NamedTensor> params, Communicator& comm, std::size_t bucket_bytes)
    : params_(params.begin(), params.end()), comm_(comm) {
  check_param_list(params_, "gradient_reducer");
  // Consecutive parameters of one dtype share a bucket until it holds bucket_bytes.
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].tensor;
    const std::size_t bytes = static_cast<std::size_t>(p.numel()) * dtype_size(p.dtype());
    if (buckets_.empty() || buckets_.back().dtype != p.dtype() || buckets_.back().device != p.device() ||
        (buckets_.back().elements * dtype_size(p.dtype()) + bytes > bucket_bytes && !buckets_.back().params.empty()))
      buckets_.push_back(Bucket{p.dtype(), p.device(), {}, 0, Tensor()});
    buckets_.back().params.push_back(i);
    buckets_.back().elements += static_cast<std::size_t>(p.numel());
  }
  for (Bucket& b : buckets_) b.buffer = Tensor::empty({static_cast<int64_t>(b.elements)}, b.dtype, b.device);
}

void GradientReducer::reduce() {
  if (comm_.size() == 1) return;
  std::vector<Request> pending;
  pending.reserve(buckets_.size());
  for (Bucket& b : buckets_) {
    std::byte* dst = reinterpret_cast<std::byte*>(b.buffer.storage()->data());
    const std::size_t elem = dtype_size(b.dtype);
    for (std::size_t i : b.params) {
      const Tensor& p = params_[i].tensor;
      const std::size_t bytes = static_cast<std::size_t>(p.numel()) * elem;
      const Tensor g = p.grad();
      if (g.defined()) {
        const Tensor gc = g.contiguous();
        cuda::copy_bytes(dst, b.device, reinterpret_cast<const std::byte*>(gc.storage()->data()) + gc.offset() * elem,
                         gc.device(), bytes);
      } else if (b.device.is_cpu()) {
        std::memset(dst, 0, bytes);
      } else {
        cuda::zero_bytes(dst, b.device, bytes);
      }
      dst += bytes;
    }
    pending.push_back(comm_.iall_reduce(b.buffer.storage()->data(), b.elements, comm_dtype(b.dtype), ReduceOp::sum));
    comm_.progress();
  }
  for (std::size_t k = 0; k < buckets_.size(); ++k) {
    pending[k].wait();
    const Bucket& b = buckets_[k];
    const std::byte* src = reinterpret_cast<const std::byte*>(b.buffer.storage()->data());
    const std::size_t elem = dtype_size(b.dtype);
    for (std::size_t i : b.params) {
      const Tensor& p = params_[i].tensor;
      const std::size_t bytes = static_cast<std::size_t>(p.numel()) * elem;
      Tensor g = Tensor::empty(p.shape(), p.dtype(), b.device);
      cuda::copy_bytes(g.storage()->data(), b.device, src, b.device, bytes);
      p.set_grad(g);
      src += bytes;
    }
  }
}

}  // namespace attnscale
