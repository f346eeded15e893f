// The plain path's view of the kernel mask descriptor (kernels/mask.h), the one mask that the fused
// kernel, the plain path and the distributed schedulers all read. The masks a config asks for are
// built in framework/train/from_config.h.
#pragma once

#include "framework/core/tensor/tensor.h"
#include "kernels/mask.h"

namespace attnscale::attention {

// The positional parts of `mask` as an additive bias [N, M] (0 allowed, -inf masked) for queries
// and keys at the given global positions: the plain path's view of the same descriptor.
Tensor mask_bias(const kernels::Mask& mask, const kernels::Positions& q_positions,
                 const kernels::Positions& k_positions, DType dtype);

}  // namespace attnscale::attention
