// Typed tests of the ops over the device (label gpu): one op on the CPU and on cuda:0 with the same
// inputs, its outputs and the gradients of every floating input compared, NaN failing. On a machine
// with a GPU this runs the nvcc kernels; in the emulation build (ATTNSCALE_CUDA_EMULATION) the same
// op code runs the kernels' sources on the host emulator; elsewhere the tests skip with the reason.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "framework/core/autograd/gradcheck.h"
#include "framework/core/ops/ops.h"
#include "framework/core/tensor/cuda_runtime.h"
#include "tests/cuda_host/cuda_host_test_util.h"

namespace attnscale::test {

inline constexpr Device kGpu = cuda_device(0);

// Skips without a usable CUDA device (the emulation build always has one).
class DeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const cuda::Availability available = cuda::probe();
    if (available.device_count == 0) GTEST_SKIP() << "needs a CUDA device: " << available.reason;
  }
};

template <typename T>
constexpr DType dtype_of() {
  return sizeof(T) == 4 ? DType::f32 : DType::f64;
}

// Tolerance of a CPU vs GPU comparison: the devices sum in different orders (tree reductions,
// tiles), so float results differ in their last bits, scaled by the length of the sums.
template <typename T>
constexpr Tolerance device_tolerance() {
  return sizeof(T) == 4 ? Tolerance{1e-4, 1e-5} : Tolerance{1e-10, 1e-12};
}

// A typed suite's element type as a dtype, and its comparison tolerance.
template <typename T>
class DeviceOpTest : public DeviceTest {
 protected:
  static constexpr DType dtype = dtype_of<T>();
  static constexpr Tolerance tol = device_tolerance<T>();
};

using DeviceOp = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

inline ::testing::AssertionResult same_values(const Tensor& got, const Tensor& want, Tolerance tol) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << "shapes differ: " << shape_str(got.shape()) << " vs "
                                         << shape_str(want.shape());
  if (got.dtype() != want.dtype())
    return ::testing::AssertionFailure() << "dtypes differ: " << dtype_name(got.dtype()) << " vs "
                                         << dtype_name(want.dtype());
  return all_close(got.to_vector<double>(), want.to_vector<double>(), tol);
}

// Runs `op` on CPU copies of `inputs` and on cuda:0 copies. The floating inputs are leaves that need
// a gradient; every floating output is weighted by a fixed random tensor and summed, and the sum is
// back-propagated on each device. Checks that the GPU run kept its outputs and gradients on the GPU
// (no silent CPU fallback), and compares outputs and gradients.
inline void expect_same_on_cpu_and_gpu(const DeviceOp& op, const std::vector<Tensor>& inputs, Tolerance tol,
                                       uint64_t seed = 11) {
  struct Run {
    std::vector<Tensor> leaves, outputs;
  };
  std::vector<Tensor> weights;
  auto run = [&](Device device) {
    Run r;
    for (const Tensor& x : inputs) {
      Tensor leaf = x.to(device).detach();
      if (is_floating(x.dtype())) leaf.set_requires_grad();
      r.leaves.push_back(leaf);
    }
    r.outputs = op(r.leaves);
    Tensor objective;
    for (size_t i = 0; i < r.outputs.size(); ++i) {
      const Tensor& out = r.outputs[i];
      EXPECT_EQ(out.device(), device) << "output " << i;
      if (!is_floating(out.dtype()) || !out.requires_grad()) continue;
      if (weights.size() <= i) weights.resize(i + 1);
      if (!weights[i].defined()) {
        Generator gen(seed + i);
        weights[i] = Tensor::randn(out.shape(), gen, out.dtype());
      }
      const Tensor term = sum(mul(out, weights[i].to(device)));
      objective = objective.defined() ? add(objective, term) : term;
    }
    if (objective.defined()) objective.backward();
    return r;
  };
  const Run cpu = run(kCpu), gpu = run(kGpu);
  ASSERT_EQ(cpu.outputs.size(), gpu.outputs.size());
  for (size_t i = 0; i < cpu.outputs.size(); ++i)
    EXPECT_TRUE(same_values(gpu.outputs[i], cpu.outputs[i], tol)) << "output " << i;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor want = cpu.leaves[i].grad(), got = gpu.leaves[i].grad();
    ASSERT_EQ(want.defined(), got.defined()) << "gradient of input " << i;
    if (!want.defined()) continue;
    EXPECT_EQ(got.device(), kGpu) << "gradient of input " << i;
    EXPECT_TRUE(same_values(got, want, tol)) << "gradient of input " << i;
  }
}

// The fp64 finite-difference gradient check of `f` run on the GPU: the host inputs move to cuda:0
// inside f (a differentiable copy), so the gradients come from the ops' CUDA backward.
inline void expect_gradcheck_on_gpu(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                    std::vector<Tensor> inputs) {
  const auto on_gpu = [&](const std::vector<Tensor>& xs) {
    std::vector<Tensor> moved;
    for (const Tensor& x : xs) moved.push_back(x.to(kGpu));
    const Tensor out = f(moved);
    EXPECT_EQ(out.device(), kGpu);
    return out.to(kCpu);
  };
  const autograd::GradcheckResult result = autograd::gradcheck(on_gpu, std::move(inputs));
  EXPECT_TRUE(result.ok) << result.report;
}

}  // namespace attnscale::test
