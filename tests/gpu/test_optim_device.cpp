// The optimizers and gradient clipping with parameters on GPU 0 against the same updates on the
// CPU: parameters, state buffers (which must live on the parameter's device), step counts and the
// clipping norm, over several steps; fp32 and fp64. Skips, saying why, without a GPU.
#include <limits>
#include <memory>
#include <vector>

#include "framework/core/tensor/non_finite.h"
#include "framework/optim/adam.h"
#include "framework/optim/clip_grad.h"
#include "framework/optim/sgd.h"
#include "tests/gpu/device_compare.h"

namespace attnscale::test {
namespace {

template <typename T>
class GpuOptim : public DeviceOpTest<T> {
 protected:
  // Two parameters (one a matrix, one odd-sized) with their values drawn once, on `device`.
  NamedTensors make_params(Device device) const {
    Generator gen(11);
    return {{"w", Tensor::randn({17, 9}, gen, this->dtype).to(device)},
            {"b", Tensor::randn({1001}, gen, this->dtype).to(device)}};
  }
  // Step `step`'s gradients (the same on both devices); "b" has none on step 2 (it is skipped).
  void set_grads(const NamedTensors& params, int step) const {
    Generator gen(100 + step);
    for (const NamedTensor& p : params) {
      const Tensor g = Tensor::randn(p.tensor.shape(), gen, this->dtype);
      p.tensor.set_grad(p.name == "b" && step == 2 ? Tensor() : g.to(p.tensor.device()));
    }
  }
};
TYPED_TEST_SUITE(GpuOptim, FloatTypes);

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(NamedTensors)>;

// Not bit for bit: the CPU runs the SIMD loops of kernels/cpu, the device the per-element formula
// of kernels/optim_math.h, and their roundings differ in the last bits (measured on the emulator
// after three steps: one ulp of the operands, which are of order 1-10, also where a momentum buffer
// cancels to a small value; a real GPU may also contract multiply-adds). The bound: a few ulp of 8.
template <typename T>
constexpr Tolerance kUpdateTolerance = std::is_same_v<T, float> ? Tolerance{1e-6, 2e-6} : Tolerance{2e-15, 4e-15};

TYPED_TEST(GpuOptim, UpdatesMatchTheCpuAndStateStaysOnTheDevice) {
  const std::vector<std::pair<std::string, MakeOptimizer>> optimizers = {
      {"sgd", [](NamedTensors p) { return std::make_unique<Sgd>(std::move(p), SgdOptions{.lr = 0.1}); }},
      {"sgd momentum", [](NamedTensors p) {
         return std::make_unique<Sgd>(std::move(p), SgdOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.1,
                                                               .weight_decay = 0.01});
       }},
      {"sgd nesterov", [](NamedTensors p) {
         return std::make_unique<Sgd>(std::move(p), SgdOptions{.lr = 0.05, .momentum = 0.8, .nesterov = true});
       }},
      {"adam", [](NamedTensors p) {
         return std::make_unique<Adam>(std::move(p), AdamOptions{.lr = 1e-2, .weight_decay = 0.1});
       }},
      {"adamw", [](NamedTensors p) { return std::make_unique<AdamW>(std::move(p), AdamOptions{.lr = 1e-2}); }},
  };
  for (const auto& [name, make] : optimizers) {
    SCOPED_TRACE(name);
    const NamedTensors cpu_params = this->make_params(kCpu), gpu_params = this->make_params(kGpu);
    const auto cpu = make(cpu_params), on_gpu = make(gpu_params);
    for (const NamedTensor& s : on_gpu->state())
      EXPECT_EQ(s.tensor.device(), s.tensor.dtype() == DType::i64 ? kCpu : kGpu) << s.name;
    for (int step = 1; step <= 3; ++step) {
      this->set_grads(cpu_params, step);
      this->set_grads(gpu_params, step);
      cpu->step();
      on_gpu->step();
    }
    for (size_t i = 0; i < cpu_params.size(); ++i) {
      EXPECT_EQ(gpu_params[i].tensor.device(), kGpu);
      EXPECT_TRUE(same_values(gpu_params[i].tensor.to(kCpu), cpu_params[i].tensor, kUpdateTolerance<TypeParam>))
          << cpu_params[i].name;
    }
    const std::vector<NamedTensor> cpu_state = cpu->state(), gpu_state = on_gpu->state();
    ASSERT_EQ(gpu_state.size(), cpu_state.size());
    for (size_t i = 0; i < cpu_state.size(); ++i)
      EXPECT_TRUE(same_values(gpu_state[i].tensor.to(kCpu), cpu_state[i].tensor, kUpdateTolerance<TypeParam>))
          << cpu_state[i].name;
  }
}

TYPED_TEST(GpuOptim, StateSavedOnOneDeviceResumesOnTheOther) {
  const NamedTensors cpu_params = this->make_params(kCpu), gpu_params = this->make_params(kGpu);
  AdamW cpu(cpu_params, AdamOptions{.lr = 1e-2}), on_gpu(gpu_params, AdamOptions{.lr = 1e-2});
  this->set_grads(cpu_params, 1);
  cpu.step();
  // Resume on the GPU from the CPU's parameters and state (what a checkpoint carries).
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    Tensor target = gpu_params[i].tensor;  // a handle to the parameter's storage
    target.copy_(cpu_params[i].tensor);
  }
  on_gpu.load_state(cpu.state());
  for (const NamedTensor& s : on_gpu.state())
    EXPECT_EQ(s.tensor.device(), s.tensor.dtype() == DType::i64 ? kCpu : kGpu) << s.name;
  this->set_grads(cpu_params, 3);
  this->set_grads(gpu_params, 3);
  cpu.step();
  on_gpu.step();
  for (size_t i = 0; i < cpu_params.size(); ++i)
    EXPECT_TRUE(same_values(gpu_params[i].tensor.to(kCpu), cpu_params[i].tensor, kUpdateTolerance<TypeParam>));
  EXPECT_EQ(on_gpu.state()[0].tensor.item(), 2.0);  // the step count came across
}

TYPED_TEST(GpuOptim, GradientClippingOnTheDevice) {
  for (const double max_norm : {0.0, 1.0, 1e6}) {
    SCOPED_TRACE(max_norm);
    const NamedTensors cpu_params = this->make_params(kCpu), gpu_params = this->make_params(kGpu);
    this->set_grads(cpu_params, 1);
    this->set_grads(gpu_params, 1);
    const double cpu_norm = clip_grad_norm(cpu_params, max_norm), gpu_norm = clip_grad_norm(gpu_params, max_norm);
    EXPECT_NEAR(gpu_norm, cpu_norm, 1e-12 * cpu_norm);  // both sum squares in double, in other orders
    for (size_t i = 0; i < cpu_params.size(); ++i) {
      EXPECT_EQ(gpu_params[i].tensor.grad().device(), kGpu);
      EXPECT_TRUE(same_values(gpu_params[i].tensor.grad().to(kCpu), cpu_params[i].tensor.grad(), this->tol));
    }
  }
}

TYPED_TEST(GpuOptim, ANonFiniteGradientOnTheDeviceIsNamed) {
  for (const Device device : {kCpu, kGpu}) {
    SCOPED_TRACE(device.str());
    const NamedTensors params = this->make_params(device);
    this->set_grads(params, 1);
    std::vector<double> values(1001, 0.5);
    values[700] = std::numeric_limits<double>::infinity();
    values[900] = std::numeric_limits<double>::quiet_NaN();
    params[1].tensor.set_grad(Tensor::from(values, {1001}).to(this->dtype).to(device));
    try {
      clip_grad_norm(params, 1.0);
      ADD_FAILURE() << "expected NonFiniteGradient";
    } catch (const NonFiniteGradient& e) {
      EXPECT_EQ(e.parameter(), "b");
      EXPECT_NE(std::string(e.what()).find("'b' (shape [1001]) holds 2 non-finite value(s), the first at flat index "
                                           "700 = inf"),
                std::string::npos)
          << e.what();
    }
    // Finite gradients are left alone by the search.
    EXPECT_FALSE(first_non_finite(NamedTensors{{"w", params[0].tensor.grad()}}).has_value());
  }
}

}  // namespace
}  // namespace attnscale::test
