#include "framework/core/autograd/node.h"
#include "framework/core/ops/op_helpers.h"
#include "framework/core/ops/ops.h"
#include "kernels/gemm.h"

#if ATTNSCALE_HAVE_CUDA
#include <memory>
#include <optional>

#include "framework/core/tensor/cuda_runtime.h"
#include "kernels/cuda/blas.h"
#endif

namespace attnscale {
namespace {

#if ATTNSCALE_HAVE_CUDA
// The calling thread's cuBLAS handle for `device` (cuBLAS asks for one per device and host thread),
// made while the device is current. TF32 follows run.allow_tf32 (cuda::allow_tf32) at each call.
cuda::Blas& blas_for(Device device) {
  thread_local std::vector<std::unique_ptr<cuda::Blas>> handles;
  if (handles.size() <= static_cast<size_t>(device.index)) handles.resize(static_cast<size_t>(device.index) + 1);
  std::unique_ptr<cuda::Blas>& handle = handles[static_cast<size_t>(device.index)];
  if (!handle) handle = std::make_unique<cuda::Blas>();
  handle->set_allow_tf32(cuda::allow_tf32());
  return *handle;
}
#endif

// A matrix operand as BLAS sees it: the last two axes either row-major or transposed in memory.
struct MatrixOperand {
  Tensor t;  // possibly a contiguous copy
  bool trans = false;
  int64_t ld = 0;
};

MatrixOperand as_blas_operand(const Tensor& x) {
  const int64_t nd = x.dim();
  const int64_t rows = x.shape()[nd - 2], cols = x.shape()[nd - 1];
  const int64_t s_row = x.strides()[nd - 2], s_col = x.strides()[nd - 1];
  if ((s_col == 1 || cols == 1) && s_row >= std::max<int64_t>(cols, 1)) return {x, false, s_row};
  if ((s_row == 1 || rows == 1) && s_col >= std::max<int64_t>(rows, 1)) return {x, true, s_col};
  const Tensor c = x.contiguous();
  return {c, false, std::max<int64_t>(cols, 1)};
}

// The product without autograd: fp32 compute for float (TF32 only with run.allow_tf32), fp64 for
// double.
Tensor matmul_forward(const Tensor& a, const Tensor& b) {
  const Device device = ops_detail::common_device("matmul", {a, b});
  ATTNSCALE_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul", "operands must have at least 2 axes, got {} and {}",
                  shape_str(a.shape()), shape_str(b.shape()));
  ATTNSCALE_CHECK(a.dtype() == b.dtype(), "matmul", "dtype mismatch: {} and {}", dtype_name(a.dtype()),
                  dtype_name(b.dtype()));
  const int64_t n = a.shape()[a.dim() - 2], k = a.shape()[a.dim() - 1];
  const int64_t k2 = b.shape()[b.dim() - 2], m = b.shape()[b.dim() - 1];
  ATTNSCALE_CHECK(k == k2, "matmul", "inner sizes differ: {} @ {}", shape_str(a.shape()), shape_str(b.shape()));

  const Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
  Shape shape_a = batch, shape_b = batch, out_shape = batch;
  shape_a.insert(shape_a.end(), {n, k});
  shape_b.insert(shape_b.end(), {k, m});
  out_shape.insert(out_shape.end(), {n, m});

  // k == 0: every output element is an empty sum.
  Tensor out = k == 0 ? Tensor::zeros(out_shape, a.dtype(), device) : Tensor::empty(out_shape, a.dtype(), device);
  if (k > 0) {
    autograd::NoGradGuard no_grad;
    const MatrixOperand oa = as_blas_operand(expand(a, shape_a)), ob = as_blas_operand(expand(b, shape_b));
    const int64_t batches = numel_of(batch);
    const Tensor ea = oa.t, eb = ob.t;
#if ATTNSCALE_HAVE_CUDA
    std::optional<cuda::DeviceGuard> on_device;
    if (device.is_cuda()) on_device.emplace(device.index);
#endif
    ATTNSCALE_DISPATCH_FLOAT(a.dtype(), "matmul", [&] {
      const int64_t ldc = std::max<int64_t>(m, 1);
      auto gemm = [&](const scalar_t* pa, const scalar_t* pb, scalar_t* pc) {
        ATTNSCALE_ON_CUDA(device, blas_for(device).gemm<scalar_t>(oa.trans, ob.trans, n, m, k, scalar_t(1), pa, oa.ld,
                                                                  pb, ob.ld, scalar_t(0), pc, ldc,
                                                                  cuda::compute_stream(device)));
        kernels::gemm<scalar_t>(oa.trans, ob.trans, n, m, k, scalar_t(1), pa, oa.ld, pb, ob.ld, scalar_t(0), pc, ldc);
      };
      const int nb = static_cast<int>(batch.size());
      for (int64_t bi = 0; bi < batches; ++bi) {
        // Element offsets of this batch entry in each operand (zero strides where broadcast).
        int64_t rem = bi, off_a = 0, off_b = 0;
        for (int d = nb - 1; d >= 0; --d) {
          const int64_t idx = rem % batch[d];
          rem /= batch[d];
          off_a += idx * ea.strides()[d];
          off_b += idx * eb.strides()[d];
        }
        gemm(ea.device_data<scalar_t>() + off_a, eb.device_data<scalar_t>() + off_b,
             out.device_data<scalar_t>() + bi * n * m);
      }
    });
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  // bf16 operands: float32 GEMM on exact float32 copies, the product rounded once; the graph keeps
  // the bf16 operands (op_helpers.h).
  const Tensor out = ops_detail::is_bf16(a) && ops_detail::is_bf16(b)
                         ? ops_detail::bf16_copy(matmul_forward(ops_detail::f32_copy(a), ops_detail::f32_copy(b)))
                         : matmul_forward(a, b);
  const Tensor da = a.detach(), db = b.detach();
  return autograd::record(out, "matmul", {a, b}, [da, db](const Tensor& g) {
    const Tensor ga = matmul(g, transpose(db, -1, -2));
    const Tensor gb = matmul(transpose(da, -1, -2), g);
    return std::vector<Tensor>{sum_to(ga, da.shape()), sum_to(gb, db.shape())};
  });
}

}  // namespace attnscale
