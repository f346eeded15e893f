// Indexing, joining and selection ops. Index tensors are int64; an index outside its axis is a
// UsageError naming the op, the index, its position and the axis size. Every op accepts float and
// int64 data and is differentiable in its floating operands (never in indices or conditions).
#pragma once

#include <vector>

#include "framework/core/tensor/tensor.h"
#include "kernels/indexing.h"

namespace attnscale {

namespace ops_detail {
// Position of the first entry of the int64 tensor `index` (on any device, in row-major order)
// outside [0, limit) and not equal to `ignored`, or -1. On a GPU the search runs there and only
// its answer is copied back.
int64_t find_index_out_of_range(const Tensor& index, int64_t limit, int64_t ignored = kernels::kNoIgnoredIndex);
}  // namespace ops_detail

// out[..., i, ...] = x[..., index[..., i, ...], ...] along `axis` (torch.gather): index has x's
// rank and x's sizes on every other axis; the output has index's shape.
Tensor gather(const Tensor& x, int axis, const Tensor& index);

// x with whole slices picked along `axis` by a 1-d index: out.shape[axis] = index.numel().
Tensor index_select(const Tensor& x, int axis, const Tensor& index);

// A copy of x with src[..., i, ...] added at x[..., index[..., i, ...], ...] along `axis`
// (torch.scatter_add): index has src's shape, and x's sizes on every axis but `axis`.
// Repeated indices accumulate.
Tensor scatter_add(const Tensor& x, int axis, const Tensor& index, const Tensor& src);

// Joins tensors along an existing axis; they must agree on every other axis and on dtype.
Tensor concat(const std::vector<Tensor>& parts, int axis);

// Joins equally shaped tensors along a new axis (axis in [-(dim+1), dim]).
Tensor stack(const std::vector<Tensor>& parts, int axis);

// Views of x along `axis`: pieces of split_size (the last may be shorter) ...
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int axis = 0);
// ... or pieces of the given sizes, which must add up to x's size on `axis`. A one-element braced
// list `{n}` selects the overload above (split_size n).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis = 0);

// cond ? a : b elementwise with numpy broadcasting of all three; cond may have any dtype and is
// true where nonzero (NaN counts as nonzero). a and b share a dtype, which the output has.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// x with `value` wherever mask is nonzero; mask broadcasts to x's shape (not beyond it).
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// Rows of weight [V, D] picked by ids (int64, any shape): output [*ids.shape, D]. The gradient
// adds each output row back into weight's row (repeated ids accumulate).
Tensor embedding(const Tensor& weight, const Tensor& ids);

}  // namespace attnscale
