// Tensor: a strided view of a Storage, with autograd metadata. Copying a Tensor copies a handle
// (like torch.Tensor); views share storage. Differentiable operations are free functions in
// framework/core/ops/; this class holds data access, factories and the autograd entry points.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "framework/core/tensor/device.h"
#include "framework/core/tensor/dtype.h"
#include "framework/core/tensor/random.h"
#include "framework/core/tensor/shape.h"
#include "framework/core/tensor/storage.h"

namespace attnscale {

namespace autograd {
struct Node;
}

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;            // accumulated gradient of a leaf
  std::shared_ptr<autograd::Node> grad_fn;     // the op that produced this tensor
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories ----
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = kCpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = kCpu);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = kCpu);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = kCpu);
  static Tensor scalar(double value, DType dtype = DType::f32);
  static Tensor arange(int64_t n, DType dtype = DType::i64);
  template <typename T>
  static Tensor from(std::span<const T> values, const Shape& shape);
  template <typename T>
  static Tensor from(const std::vector<T>& values, const Shape& shape) {
    return from(std::span<const T>(values), shape);
  }
  static Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::f32, double stddev = 1.0);
  static Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::f32, double low = 0.0,
                     double high = 1.0);

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t axis) const;
  int64_t numel() const { return numel_of(impl().shape); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  int64_t offset() const { return impl().offset; }
  bool is_contiguous() const;
  std::string str() const;  // shape, dtype, and values when small

  // ---- data ----
  template <typename T>
  T* data();  // pointer to element 0 (checks the dtype)
  template <typename T>
  const T* data() const;
  template <typename T>
  std::vector<T> to_vector() const;  // row-major copy of the logical elements
  double item() const;               // the single element of a 1-element tensor, as double
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }

  // ---- copies and conversions (not differentiable unless noted) ----
  Tensor contiguous() const;          // differentiable; returns *this when already contiguous
  Tensor clone() const;               // differentiable copy
  Tensor to(DType dtype) const;       // differentiable between float types
  void copy_(const Tensor& src);      // in place, no autograd; shapes must match
  void fill_(double value);           // in place, no autograd

  // ---- autograd ----
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool on = true);
  Tensor grad() const;                // undefined until a backward reached this leaf
  void set_grad(const Tensor& g) const;
  void zero_grad() const;
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl().grad_fn; }
  Tensor detach() const;              // shares storage, no history
  void backward() const;              // from a 1-element tensor
  void backward(const Tensor& grad_output) const;

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Makes a tensor of `shape` that views `base`'s storage with the given strides and offset.
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);

}  // namespace attnscale
