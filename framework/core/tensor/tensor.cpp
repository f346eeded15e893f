#include "framework/core/tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "framework/core/autograd/node.h"
#include "framework/core/tensor/cuda_runtime.h"
#include "kernels/bf16_convert.h"
#include "kernels/elementwise.h"

#if ATTNSCALE_HAVE_CUDA
#include "framework/core/tensor/cuda_handles.h"
#include "kernels/cuda/elementwise.h"
#endif

namespace attnscale {

TensorImpl& Tensor::impl() const {
  if (!impl_) throw UsageError("[tensor] use of an undefined tensor");
  return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape)
    ATTNSCALE_CHECK(s >= 0, "tensor", "negative size in shape {}", shape_str(shape));
  ATTNSCALE_CHECK(dtype != DType::bf16 || device.is_cpu(), "tensor",
                  "bfloat16 tensors live on the CPU in this build, not on {} (model.dtype bf16 is CPU-only)",
                  device.str());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(numel_of(shape) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::arange(int64_t n, DType dtype) {
  Tensor t = empty({n}, dtype);
  ATTNSCALE_DISPATCH_ALL(dtype, [&] {
    scalar_t* p = t.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<scalar_t>(i);
  });
  return t;
}

template <typename T>
Tensor Tensor::from(std::span<const T> values, const Shape& shape) {
  ATTNSCALE_CHECK(static_cast<int64_t>(values.size()) == numel_of(shape), "tensor",
                  "{} values do not fill shape {}", values.size(), shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>());
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}
template Tensor Tensor::from<float>(std::span<const float>, const Shape&);
template Tensor Tensor::from<double>(std::span<const double>, const Shape&);
template Tensor Tensor::from<int64_t>(std::span<const int64_t>, const Shape&);

namespace {
// p[i] = draw(i); each element's value depends only on i, so any thread split gives the same tensor.
template <typename T, typename Draw>
void fill_random(T* p, int64_t n, Draw draw) {
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(draw(i));
}
}  // namespace

Tensor Tensor::randn(const Shape& shape, Generator& gen, DType dtype, double stddev) {
  Tensor t = empty(shape, dtype);
  const int64_t n = t.numel();
  const uint64_t first = gen.reserve(n);
  ATTNSCALE_DISPATCH_FLOAT(dtype, "randn", [&] {
    fill_random(t.data<scalar_t>(), n, [&](int64_t i) { return stddev * Generator::normal(gen.seed(), first + i); });
  });
  return t;
}

Tensor Tensor::rand(const Shape& shape, Generator& gen, DType dtype, double low, double high) {
  Tensor t = empty(shape, dtype);
  const int64_t n = t.numel();
  const uint64_t first = gen.reserve(n);
  ATTNSCALE_DISPATCH_FLOAT(dtype, "rand", [&] {
    fill_random(t.data<scalar_t>(), n,
                [&](int64_t i) { return low + (high - low) * Generator::uniform(gen.seed(), first + i); });
  });
  return t;
}

int64_t Tensor::size(int64_t axis) const { return shape()[normalize_axis(axis, dim(), "size")]; }

bool Tensor::is_contiguous() const {
  const auto& s = shape();
  const auto& st = strides();
  int64_t expected = 1;
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] != 1 && st[i] != expected) return false;
    expected *= s[i];
  }
  return true;
}

template <typename T>
T* Tensor::device_data() {
  if (dtype() != dtype_of<T>())
    throw UsageError(fmt::format("[tensor] data<{}>() on a {} tensor", dtype_name(dtype_of<T>()), dtype_name(dtype())));
  return reinterpret_cast<T*>(impl().storage->data()) + impl().offset;
}
template <typename T>
const T* Tensor::device_data() const {
  return const_cast<Tensor*>(this)->device_data<T>();
}
template <typename T>
T* Tensor::data() {
  if (!device().is_cpu())
    throw UsageError(fmt::format("[tensor] host code read a tensor on {}: move it with to(kCpu) first, or the op "
                                 "that reads it has no kernel for that device",
                                 device().str()));
  return device_data<T>();
}
template <typename T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}
#define ATTNSCALE_INSTANTIATE_DATA(T)              \
  template T* Tensor::data<T>();                   \
  template const T* Tensor::data<T>() const;       \
  template T* Tensor::device_data<T>();            \
  template const T* Tensor::device_data<T>() const;
ATTNSCALE_INSTANTIATE_DATA(float)
ATTNSCALE_INSTANTIATE_DATA(double)
ATTNSCALE_INSTANTIATE_DATA(int64_t)
ATTNSCALE_INSTANTIATE_DATA(bf16)
#undef ATTNSCALE_INSTANTIATE_DATA

template <typename T>
std::vector<T> Tensor::to_vector() const {
  const Tensor c = to(kCpu).to(dtype_of<T>()).contiguous();
  return std::vector<T>(c.data<T>(), c.data<T>() + c.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

double Tensor::item() const {
  ATTNSCALE_CHECK(numel() == 1, "item", "tensor of shape {} has {} elements, not 1", shape_str(shape()), numel());
  const Tensor host = to(kCpu);
  if (dtype() == DType::bf16) return kernels::bf16_to_float(*host.data<bf16>());
  return ATTNSCALE_DISPATCH_ALL(dtype(), [&] { return static_cast<double>(*host.data<scalar_t>()); });
}

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

namespace {
// The first byte of a tensor's elements, in its own device's memory.
std::byte* first_byte(const Tensor& x) {
  return x.storage()->data() + x.offset() * static_cast<int64_t>(dtype_size(x.dtype()));
}

// Plain (non-recording) contiguous copy of any tensor, on its device.
Tensor copy_contiguous(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (!x.device().is_cpu()) {
#if ATTNSCALE_HAVE_CUDA
    ATTNSCALE_DISPATCH_ALL(x.dtype(), [&] {
      cuda::strided_copy<scalar_t>(static_cast<int>(x.dim()), x.shape().data(), x.device_data<scalar_t>(),
                                   x.strides().data(), out.device_data<scalar_t>(), cuda::compute_stream(x.device()));
    });
#endif
    return out;
  }
  if (x.dtype() == DType::bf16) {
    kernels::strided_copy<bf16>(static_cast<int>(x.dim()), x.shape().data(), x.data<bf16>(), x.strides().data(),
                                out.data<bf16>());
    return out;
  }
  ATTNSCALE_DISPATCH_ALL(x.dtype(), [&] {
    kernels::strided_copy<scalar_t>(static_cast<int>(x.dim()), x.shape().data(), x.data<scalar_t>(),
                                    x.strides().data(), out.data<scalar_t>());
  });
  return out;
}

// out = src converted, where one of them is bf16 (host memory): through the conversion kernels
// for float32, through double (correctly rounded, kernels/bf16.h) for float64 and int64.
void convert_bf16_elements(const Tensor& src, Tensor& out) {
  const int64_t n = src.numel();
  if (src.dtype() == DType::bf16) {
    if (out.dtype() == DType::f32) return kernels::bf16_to_f32(n, src.data<bf16>(), out.data<float>());
    const bf16* ps = src.data<bf16>();
    ATTNSCALE_DISPATCH_ALL(out.dtype(), [&] {
      scalar_t* pd = out.data<scalar_t>();
      for (int64_t i = 0; i < n; ++i) pd[i] = static_cast<scalar_t>(kernels::bf16_to_float(ps[i]));
    });
    return;
  }
  if (src.dtype() == DType::f32) return kernels::f32_to_bf16(n, src.data<float>(), out.data<bf16>());
  bf16* pd = out.data<bf16>();
  ATTNSCALE_DISPATCH_ALL(src.dtype(), [&] {
    const scalar_t* ps = src.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) pd[i] = kernels::bf16_from_double(static_cast<double>(ps[i]));
  });
}
// out = static_cast of every element of src (both contiguous, same shape and device).
void convert_elements(const Tensor& src, Tensor& out) {
#if ATTNSCALE_HAVE_CUDA
  if (!src.device().is_cpu()) {
    ATTNSCALE_DISPATCH_ALL(src.dtype(), [&] {
      using from_t = scalar_t;
      ATTNSCALE_DISPATCH_ALL(out.dtype(), [&] {
        cuda::cast<from_t, scalar_t>(src.numel(), src.device_data<from_t>(), out.device_data<scalar_t>(),
                                     cuda::compute_stream(src.device()));
      });
    });
    return;
  }
#endif
  if (src.dtype() == DType::bf16 || out.dtype() == DType::bf16) return convert_bf16_elements(src, out);
  ATTNSCALE_DISPATCH_ALL(src.dtype(), [&] {
    using from_t = scalar_t;
    const from_t* ps = src.data<from_t>();
    ATTNSCALE_DISPATCH_ALL(out.dtype(), [&] {
      scalar_t* pd = out.data<scalar_t>();
      for (int64_t i = 0, n = src.numel(); i < n; ++i) pd[i] = static_cast<scalar_t>(ps[i]);
    });
  });
}
}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = copy_contiguous(*this);
  return autograd::record(out, "clone", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  const Tensor src = contiguous();
  Tensor out = empty(shape(), target, device());
  convert_elements(src, out);
  if (!is_floating(target) || !is_floating(dtype())) return out;
  const DType source = dtype();
  return autograd::record(out, "to", {*this}, [source](const Tensor& g) { return std::vector<Tensor>{g.to(source)}; });
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  // The dtype and layout are settled on the CPU side, so a plain byte copy moves the tensor.
  const Tensor src = contiguous();
  Tensor out = empty(shape(), dtype(), target);
  cuda::copy_bytes(out.storage()->data(), target, first_byte(src), src.device(), out.storage()->bytes());
  if (!is_floating(dtype())) return out;
  const Device source = device();
  return autograd::record(out, "to", {*this}, [source](const Tensor& g) { return std::vector<Tensor>{g.to(source)}; });
}

void Tensor::copy_(const Tensor& src) {
  ATTNSCALE_CHECK(src.shape() == shape(), "copy_", "source shape {} does not match destination shape {}",
                  shape_str(src.shape()), shape_str(shape()));
  ATTNSCALE_CHECK(is_contiguous(), "copy_", "destination must be contiguous");
  if (!device().is_cpu() || !src.device().is_cpu()) {
    // Between devices, or on one GPU: convert and lay out on the source's side, then copy bytes.
    const Tensor s = src.device().is_cpu() ? src.to(dtype()).contiguous() : src.contiguous().to(dtype());
    cuda::copy_bytes(first_byte(*this), device(),
                     first_byte(s), s.device(), static_cast<size_t>(numel()) * dtype_size(dtype()));
    return;
  }
  const Tensor s = src.to(dtype());
  if (dtype() == DType::bf16) {
    kernels::strided_copy<bf16>(static_cast<int>(dim()), shape().data(), s.data<bf16>(), s.strides().data(),
                                data<bf16>());
    return;
  }
  ATTNSCALE_DISPATCH_ALL(dtype(), [&] {
    kernels::strided_copy<scalar_t>(static_cast<int>(dim()), shape().data(), s.data<scalar_t>(), s.strides().data(),
                                    data<scalar_t>());
  });
}

void Tensor::move_to_(Device target) {
  ATTNSCALE_CHECK(!grad_fn(), "move_to_", "only leaf tensors move in place; this one is the output of an op");
  if (target == device()) return;
  const Tensor moved = detach().to(target);
  TensorImpl& self = impl();
  self.storage = moved.storage();
  self.strides = moved.strides();
  self.offset = 0;
  if (self.grad) Tensor(self.grad).move_to_(target);
}

void Tensor::fill_(double value) {
  ATTNSCALE_CHECK(is_contiguous(), "fill_", "tensor must be contiguous");
  if (!device().is_cpu()) {
    if (value == 0.0 && !std::signbit(value)) {  // all-zero bytes in every dtype: no kernel needed
      cuda::zero_bytes(first_byte(*this), device(), static_cast<size_t>(numel()) * dtype_size(dtype()));
      return;
    }
#if ATTNSCALE_HAVE_CUDA
    ATTNSCALE_DISPATCH_ALL(dtype(), [&] {
      cuda::fill<scalar_t>(numel(), static_cast<scalar_t>(value), device_data<scalar_t>(),
                           cuda::compute_stream(device()));
    });
#endif
    return;
  }
  if (dtype() == DType::bf16) {
    std::fill_n(data<bf16>(), numel(), kernels::bf16_from_double(value));
    return;
  }
  ATTNSCALE_DISPATCH_ALL(dtype(), [&] { std::fill_n(data<scalar_t>(), numel(), static_cast<scalar_t>(value)); });
}

Tensor& Tensor::set_requires_grad(bool on) {
  ATTNSCALE_CHECK(!on || is_floating(dtype()), "requires_grad", "only floating tensors can require gradients");
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
void Tensor::set_grad(const Tensor& g) const { impl().grad = g.defined() ? g.impl_ptr() : nullptr; }
void Tensor::zero_grad() const { impl().grad = nullptr; }

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

void Tensor::backward() const {
  ATTNSCALE_CHECK(numel() == 1, "backward", "backward() without a gradient needs a 1-element tensor, got shape {}",
                  shape_str(shape()));
  autograd::run_backward(*this, Tensor::ones(shape(), dtype()).to(device()));
}

void Tensor::backward(const Tensor& grad_output) const { autograd::run_backward(*this, grad_output); }

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype());
  if (!device().is_cpu()) os << ", device=" << device().str();
  if (numel() <= 16) {
    os << ", values=[";
    const auto v = to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    os << "]";
  }
  os << ")";
  return os.str();
}

}  // namespace attnscale
