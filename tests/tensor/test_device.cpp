// Devices on a machine of any kind: device names, the rank -> GPU rule, the device-memory
// bookkeeping, the op front end's device check, version formatting, and what a request for a GPU
// does when the runtime sees none. What needs a GPU itself is in tests/gpu/ (label gpu).
#include <gtest/gtest.h>

#include "framework/core/tensor/build_info.h"
#include "framework/nn/module.h"
#include "framework/core/ops/op_helpers.h"
#include "framework/core/ops/ops.h"
#include "framework/core/tensor/cuda_runtime.h"
#include "framework/core/tensor/memory_counter.h"

namespace attnscale {
namespace {

std::string usage_error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UsageError";
  return {};
}

TEST(Device, ParsesNamesAndPrintsThemBack) {
  EXPECT_EQ(parse_device("cpu"), kCpu);
  EXPECT_EQ(parse_device("cuda"), cuda_device(0));
  EXPECT_EQ(parse_device("cuda:3"), cuda_device(3));
  EXPECT_EQ(parse_device("cuda:3").str(), "cuda:3");
  EXPECT_EQ(kCpu.str(), "cpu");
  for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:1x", "CPU", "cuda:0:1", ""}) {
    SCOPED_TRACE(bad);
    EXPECT_NE(usage_error_of([&] { parse_device(bad); }).find("[device] '"), std::string::npos);
  }
}

TEST(Device, RanksShareANodesGpusRoundRobin) {
  EXPECT_EQ(cuda::gpu_for_local_rank(0, 4), 0);
  EXPECT_EQ(cuda::gpu_for_local_rank(3, 4), 3);
  EXPECT_EQ(cuda::gpu_for_local_rank(5, 4), 1);
  EXPECT_EQ(cuda::gpu_for_local_rank(2, 1), 0);
  EXPECT_NE(usage_error_of([] { cuda::gpu_for_local_rank(0, 0); }).find("no CUDA device"), std::string::npos);
  EXPECT_NE(usage_error_of([] { cuda::gpu_for_local_rank(-1, 2); }).find("negative local rank"), std::string::npos);
}

TEST(MemoryCounter, TracksCurrentAndPeakBytes) {
  MemoryCounter c;
  c.allocated(100);
  c.allocated(50);
  c.released(100);
  EXPECT_EQ(c.current(), 50u);
  EXPECT_EQ(c.peak(), 150u);
  c.reset_peak();
  EXPECT_EQ(c.peak(), 50u);
  c.allocated(10);
  EXPECT_EQ(c.peak(), 60u);
  EXPECT_THROW(c.released(1000), RuntimeFailure);  // more than is held: a double free
  EXPECT_EQ(c.current(), 60u);
}

TEST(DeviceCheck, NamesBothDevicesWhenInputsDiffer) {
  const Tensor a = Tensor::zeros({2});
  EXPECT_EQ(ops_detail::common_device("add", {a, a}), kCpu);
  const Tensor absent;
  EXPECT_EQ(ops_detail::common_device("add", {absent, a}), kCpu);  // an absent input (no bias) is skipped
  const std::string message =
      usage_error_of([] { ops_detail::common_device("add", {kCpu, cuda_device(1)}); });
  EXPECT_NE(message.find("[add] inputs are on different devices: cpu and cuda:1"), std::string::npos) << message;
}

TEST(DeviceCheck, AnOpWithoutAKernelNamesItselfAndTheDevice) {
  const std::string message = usage_error_of([] { throw_no_kernel("softmax", cuda_device(0)); });
  EXPECT_NE(message.find("[softmax] no kernel for device cuda:0: the CUDA backend"), std::string::npos) << message;
}

TEST(DeviceCopy, ToTheSameDeviceIsTheSameTensorAndModulesStayPut) {
  Generator gen(3);
  const Tensor x = Tensor::randn({3, 4}, gen);
  EXPECT_TRUE(x.to(kCpu).same(x));
  Tensor leaf = Tensor::randn({2}, gen).set_requires_grad();
  leaf.move_to_(kCpu);
  EXPECT_EQ(leaf.device(), kCpu);
  const Tensor computed = mul(leaf, 2.0);
  EXPECT_NE(usage_error_of([&] { Tensor(computed).move_to_(kCpu); }).find("only leaf tensors"), std::string::npos);
}

// Without a usable GPU (this CI machine), asking for GPU memory is a clear usage error, not a crash.
TEST(DeviceCopy, GpuMemoryWithoutAGpuIsAClearError) {
  const cuda::Availability available = cuda::probe();
  if (available.device_count > 0) GTEST_SKIP() << "a GPU is present: tests/gpu covers device tensors";
  EXPECT_FALSE(available.reason.empty());
  const std::string message = usage_error_of([] { Tensor::zeros({4}, DType::f32, cuda_device(0)); });
  EXPECT_NE(message.find("[cuda]"), std::string::npos) << message;
  EXPECT_NE(usage_error_of([] { Tensor::ones({2}).to(cuda_device(0)); }).find("[cuda]"), std::string::npos);
}

TEST(BuildInfo, VersionCodesAndReport) {
  EXPECT_EQ(cuda_version_string(13000), "13.0");
  EXPECT_EQ(cuda_version_string(12080), "12.8");
  EXPECT_EQ(library_version_string(130100), "13.1.0");  // cuBLAS
  EXPECT_EQ(library_version_string(91900), "9.19.0");   // cuDNN 9
  EXPECT_EQ(library_version_string(22809), "2.28.9");   // NCCL
  BuildInfo info;
  info.version = "1.2.3";
  info.backends = {"cpu", "cuda"};
  info.cuda_architectures = "80 90";
  info.libraries = {{"cuBLAS", "13.1.0", "13.1.0"}, {"cuDNN", "9.19.0", ""}, {"NCCL", "", ""}};
  info.driver = "none (no usable CUDA device: CUDA driver version is insufficient for CUDA runtime version)";
  EXPECT_EQ(format_build_info(info),
            "attnscale 1.2.3\n"
            "backends: cpu, cuda\n"
            "CUDA architectures: 80 90\n"
            "cuBLAS: compiled 13.1.0, loaded 13.1.0\n"
            "cuDNN: compiled 9.19.0, loaded unknown\n"
            "NCCL: not compiled in\n"
            "CUDA driver: none (no usable CUDA device: CUDA driver version is insufficient for CUDA runtime version)\n"
            "GPUs: none\n");
}

TEST(BuildInfo, ReportsWhatThisBuildHas) {
  const BuildInfo info = build_info();
  EXPECT_EQ(info.version, ATTNSCALE_VERSION);
  EXPECT_EQ(info.backends.front(), "cpu");
  EXPECT_EQ(info.backends.size() == 2, cuda::compiled());
  if (!cuda::compiled()) return;
  EXPECT_FALSE(info.cuda_architectures.empty());
  for (const LibraryVersion& lib : info.libraries) {
    SCOPED_TRACE(lib.name);
    if (lib.name == "CUDA runtime" || lib.name == "cuBLAS") {
      EXPECT_FALSE(lib.compiled.empty());
    }
    const auto major = [](const std::string& v) { return v.substr(0, v.find('.')); };
    if (!lib.compiled.empty()) {
      EXPECT_EQ(major(lib.loaded), major(lib.compiled));
    }
  }
  EXPECT_EQ(info.devices.size(), static_cast<size_t>(cuda::probe().device_count));
}

}  // namespace
}  // namespace attnscale
