// The parameter list every optimizer, the gradient clipper and the data-parallel gradient reducer
// take: named tensors in a fixed order (Module::named_parameters() order). The name is the key of
// the optimizer state and of checkpoints; the order is the order every rank walks the list in, so
// two ranks holding the same model agree on buckets and state without exchanging names.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "framework/core/tensor/tensor.h"

#include "framework/core/tensor/named_tensor.h"

namespace attnscale {

// Checks what an optimizer needs of its parameters: non-empty unique names, defined tensors that
// are distinct (no tensor twice, under two names), contiguous, float32 or float64.
// Throws UsageError("[where] ...") naming the offending parameter.
void check_param_list(std::span<const NamedTensor> params, std::string_view where);

// Total number of elements over the list.
int64_t total_numel(std::span<const NamedTensor> params);

// A 64-bit hash of the names, dtypes and shapes in list order (not the values). Ranks that must hold
// the same parameter list (data-parallel replicas) compare it before reducing gradients by position.
uint64_t param_list_fingerprint(std::span<const NamedTensor> params);

}  // namespace attnscale
