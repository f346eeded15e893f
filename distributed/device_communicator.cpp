#include "distributed/device_communicator.h"

#include "base/logging.h"
#include "distributed/comm/node_info.h"
#include "framework/core/tensor/cuda_runtime.h"

#if ATTNSCALE_HAVE_CUDA
#include "framework/core/tensor/cuda_handles.h"
#endif

#if ATTNSCALE_HAVE_NCCL
#include "distributed/comm/nccl_communicator.h"
#endif

namespace attnscale {
namespace {

#if ATTNSCALE_HAVE_CUDA
// Device buffers through pinned host memory: sends are downloaded before MPI starts, receives
// uploaded when the operation completed. The copies are ordered after the device's compute stream
// (cuda::copy_bytes), where the buffers were written.
class PinnedStaging final : public BufferStaging {
 public:
  explicit PinnedStaging(Device device) : device_(device) {}
  std::string describe() const override { return "device buffers staged through pinned host memory"; }
  bool needs_staging(const void* data) const override { return cuda::is_device_memory(data); }
  std::unique_ptr<StagingBlock> allocate(std::size_t bytes) const override { return std::make_unique<Block>(bytes); }
  void into_block(void* block, const void* user, std::size_t bytes) const override {
    cuda::copy_bytes(block, kCpu, user, device_, bytes);
  }
  void from_block(void* user, const void* block, std::size_t bytes) const override {
    cuda::copy_bytes(user, device_, block, kCpu, bytes);
  }

 private:
  struct Block final : StagingBlock {
    explicit Block(std::size_t bytes) : pinned(bytes) {}
    void* data() const override { return pinned.data(); }
    cuda::PinnedBuffer pinned;
  };
  Device device_;
};
#endif

// Why NCCL cannot serve this communicator (empty when it can). Collective over `host`, so that
// every rank decides alike.
std::string why_not_nccl(MpiCommunicator& host) {
  if (cuda::emulated()) return "the emulation build has no NCCL (its device is host memory)";
#if !ATTNSCALE_HAVE_NCCL
  return "this attnscale was built without NCCL";
#else
  const NodeInfo node = node_info();
  const int devices = cuda::probe().device_count;
  const int crowded = host.all_reduce_value<std::int32_t>(node.local_size > devices ? 1 : 0, ReduceOp::max);
  if (crowded == 0) return "";
  return node.local_size > devices
             ? fmt::format("{} ranks share {} GPU(s) on this node, and NCCL refuses two ranks on one GPU",
                           node.local_size, devices)
             : "ranks share a GPU on another node, and NCCL refuses two ranks on one GPU";
#endif
}

}  // namespace

std::shared_ptr<const BufferStaging> pinned_staging(Device device) {
#if ATTNSCALE_HAVE_CUDA
  return std::make_shared<PinnedStaging>(device);
#else
  throw UsageError(fmt::format("[comm] {}: this attnscale was built without CUDA", device.str()));
#endif
}

DeviceCommChoice make_device_communicator(MpiCommunicator& host, Device device, const std::string& name) {
  ATTNSCALE_CHECK(device.is_cuda(), "comm", "a device communicator for '{}' needs a GPU, got {}", name, device.str());
  DeviceCommChoice choice;
  const std::string why = why_not_nccl(host);
#if ATTNSCALE_HAVE_NCCL
  if (why.empty()) {
    auto nccl = std::make_unique<NcclCommunicator>(host, name);
    nccl->order_after(cuda::compute_stream(device));  // transfers wait for the kernels that wrote their buffers
    choice.comm = std::move(nccl);
    choice.reason = "one GPU per rank";
  }
#endif
  if (!choice.comm) {
    choice.comm = std::make_unique<MpiCommunicator>(host, pinned_staging(device), name);
    choice.reason = why;
  }
  if (host.rank() == 0)
    LOG_INFO("[comm] '{}' ({} ranks) moves device buffers over {}: {}", name, host.size(),
             choice.comm->backend() == "nccl" ? "NCCL" : "MPI, staged through pinned host memory", choice.reason);
  return choice;
}

}  // namespace attnscale
