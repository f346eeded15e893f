// Device tensors on a real GPU (label gpu): copies both ways, the allocator's bookkeeping, the
// device check of the op front end, and checkpoint tensors written from the GPU. Every test skips
// with the reason when the runtime sees no GPU (CI machines).
#include <gtest/gtest.h>

#include <filesystem>

#include "framework/io/hdf5.h"
#include "framework/nn/module.h"
#include "framework/core/ops/ops.h"
#include "framework/core/tensor/cuda_runtime.h"

namespace attnscale {
namespace {

class Gpu : public ::testing::Test {
 protected:
  void SetUp() override {
    const cuda::Availability available = cuda::probe();
    if (available.device_count == 0) GTEST_SKIP() << "needs a GPU: " << available.reason;
  }
  const Device gpu = cuda_device(0);
};

TEST_F(Gpu, CopiesToTheDeviceAndBackExactly) {
  Generator gen(1);
  for (const DType dtype : {DType::f32, DType::f64}) {
    const Tensor host = Tensor::randn({3, 70001}, gen, dtype);  // more than one staging chunk for f64
    const Tensor device = host.to(gpu);
    EXPECT_EQ(device.device(), gpu);
    EXPECT_EQ(device.to_vector<double>(), host.to_vector<double>());
    const Tensor view = transpose(host, 0, 1);  // a strided source is laid out on the host first
    EXPECT_EQ(view.to(gpu).to(kCpu).to_vector<double>(), view.to_vector<double>());
  }
  const Tensor ids = Tensor::from(std::vector<int64_t>{4, -1, 7}, {3});
  EXPECT_EQ(ids.to(gpu).to_vector<int64_t>(), ids.to_vector<int64_t>());
}

TEST_F(Gpu, CopyIntoADeviceTensorAndZeros) {
  Tensor target = Tensor::zeros({4, 5}, DType::f32, gpu);
  EXPECT_EQ(target.to_vector<float>(), std::vector<float>(20, 0.0f));
  const Tensor source = Tensor::full({4, 5}, 2.5, DType::f64);  // converted on the host, then copied
  target.copy_(source);
  EXPECT_EQ(target.to_vector<float>(), std::vector<float>(20, 2.5f));
  EXPECT_DOUBLE_EQ(Tensor::scalar(3.0).to(gpu).item(), 3.0);
}

TEST_F(Gpu, AllocatorCountsCurrentAndPeakBytes) {
  const cuda::MemoryStats before = cuda::memory_stats(gpu);
  {
    const Tensor a = Tensor::empty({1 << 20}, DType::f32, gpu);  // 4 MiB
    const cuda::MemoryStats held = cuda::memory_stats(gpu);
    EXPECT_EQ(held.current_bytes, before.current_bytes + (4u << 20));
    EXPECT_GE(held.peak_bytes, held.current_bytes);
  }
  EXPECT_EQ(cuda::memory_stats(gpu).current_bytes, before.current_bytes);
  cuda::reset_peak(gpu);
  EXPECT_EQ(cuda::memory_stats(gpu).peak_bytes, before.current_bytes);
}

TEST_F(Gpu, OpsRefuseMixedDevicesNamingBoth) {
  const Tensor a = Tensor::ones({3}), b = Tensor::ones({3}).to(gpu);
  try {
    add(a, b);
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("[add] inputs are on different devices: cpu and cuda:0"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(b.data<float>(), UsageError);  // host code never dereferences device memory
}

TEST_F(Gpu, GradientOfAMoveReturnsToTheSourceDevice) {
  Tensor x = Tensor::ones({4}).set_requires_grad();
  const Tensor on_gpu = x.to(gpu);
  on_gpu.backward(Tensor::full({4}, 2.0).to(gpu));
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().device(), kCpu);
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(4, 2.0f));
}

TEST_F(Gpu, CheckpointTensorsAreWrittenFromAHostCopy) {
  const std::filesystem::path file = std::filesystem::temp_directory_path() / "attnscale_gpu_tensor.h5";
  Generator gen(5);
  const Tensor host = Tensor::randn({8, 3}, gen);
  {
    h5::File out = h5::File::create(file);
    out.write_tensor("w", host.to(gpu));
    out.close();
  }
  const Tensor back = h5::File::open_read(file).read_tensor("w");
  EXPECT_EQ(back.device(), kCpu);
  EXPECT_EQ(back.to_vector<float>(), host.to_vector<float>());
  Tensor param = Tensor::zeros({8, 3}, DType::f32, gpu);
  param.copy_(back);  // loading onto the GPU: the trainer's copy into its parameters
  EXPECT_EQ(param.to_vector<float>(), host.to_vector<float>());
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace attnscale
