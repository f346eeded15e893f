// Differentiable tensor operations (front ends): each checks its arguments, calls a kernel through
// the tensor's device, and records its backward. Grouped by file:
//   elementwise.cpp  arithmetic with broadcasting, activations, comparisons
//   views.cpp        reshape, permute, transpose, narrow, expand, squeeze/unsqueeze, contiguous
//   reduce.cpp       sum, mean, max, argmax, logsumexp, sum_to
//   linalg.cpp       matmul / batched matmul (OpenBLAS)
//   softmax.cpp      softmax, log_softmax
// Indexing, joining and loss functions are in framework/core/ops/indexing.h and framework/core/ops/nn_functional.h,
// LayerNorm / RMSNorm in framework/core/ops/norm.h.
#pragma once

#include <vector>

#include "framework/core/tensor/tensor.h"

namespace attnscale {

// ---- elementwise (numpy broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor pow(const Tensor& a, double exponent);
// Comparisons give 0/1 in a's dtype and are not differentiable.
Tensor greater(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor equal(const Tensor& a, const Tensor& b);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact (erf) form
Tensor silu(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return mul(a, 1.0 / s); }

// ---- views (share storage with the input) ----
Tensor reshape(const Tensor& x, Shape shape);  // one -1 allowed; copies when not viewable
Tensor permute(const Tensor& x, const std::vector<int>& axes);
Tensor transpose(const Tensor& x, int a, int b);
Tensor narrow(const Tensor& x, int axis, int64_t start, int64_t length);
Tensor expand(const Tensor& x, Shape shape);  // broadcast to `shape` with zero strides
Tensor unsqueeze(const Tensor& x, int axis);
Tensor squeeze(const Tensor& x, int axis);
Tensor flatten(const Tensor& x, int start_axis = 0, int end_axis = -1);

// ---- reductions ----
Tensor sum(const Tensor& x);  // all elements -> scalar
Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdim = false);
Tensor max(const Tensor& x, int axis, bool keepdim = false);     // gradient to the first maximum
Tensor argmax(const Tensor& x, int axis, bool keepdim = false);  // int64, not differentiable
Tensor logsumexp(const Tensor& x, int axis, bool keepdim = false);
// Sums a broadcast result back to `shape` (the gradient of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- linear algebra ----
// [..., n, k] @ [..., k, m] -> [..., n, m]; batch axes broadcast. 1-d operands are not accepted.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- normalisers ----
Tensor softmax(const Tensor& x, int axis = -1);
Tensor log_softmax(const Tensor& x, int axis = -1);

}  // namespace attnscale
