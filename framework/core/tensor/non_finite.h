// Finding NaN and infinity in named tensors: what the gradient clip names when the norm is not
// finite, what a checkpoint refuses to save, and what `checkpoint verify` reports.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "framework/core/tensor/named_tensor.h"

namespace attnscale {

struct NonFiniteElement {
  std::string tensor;  // its name
  Shape shape;
  int64_t index = 0;   // flat index of the first NaN or infinity
  double value = 0;
  int64_t count = 0;   // NaN and infinite elements in that tensor
};

// The first tensor (in list order) holding a NaN or an infinity, and its first such element;
// nothing when all are finite. Integer tensors are skipped; a GPU tensor is searched on its
// device (only one holding a non-finite value is copied to the host to be described).
std::optional<NonFiniteElement> first_non_finite(std::span<const NamedTensor> tensors);

// "'name' (shape [..]) holds 27 non-finite value(s), the first at flat index 3 = inf"
std::string describe(const NonFiniteElement& element);

}  // namespace attnscale
