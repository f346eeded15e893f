#include "framework/attention/mask_builder.h"

#include <limits>
#include <vector>

namespace attnscale::attention {

Tensor mask_bias(const kernels::Mask& mask, const kernels::Positions& q_positions,
                 const kernels::Positions& k_positions, DType dtype) {
  const int64_t n = q_positions.size(), m = k_positions.size();
  std::vector<int64_t> qp(n), kp(m);
  q_positions.fill(qp);
  k_positions.fill(kp);
  Tensor bias = Tensor::zeros({n, m}, dtype);
  ATTNSCALE_DISPATCH_FLOAT(dtype, "mask_bias", [&] {
    scalar_t* p = bias.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j)
        if (!mask.allows(qp[i], kp[j])) p[i * m + j] = -std::numeric_limits<scalar_t>::infinity();
  });
  return bias;
}

}  // namespace attnscale::attention
