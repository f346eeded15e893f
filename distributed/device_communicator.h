// The communicator that moves a rank's device buffers (run.device: cuda), chosen once per
// communicator, identically on every rank of it:
//   - NCCL (distributed/comm/nccl_communicator.h) when the build has it and every rank has a GPU of
//     its own: the ncclUniqueId travels over the MPI communicator, which stays the launcher's;
//   - otherwise MPI with device buffers staged through pinned host memory (PinnedStaging below):
//     when ranks share a GPU (NCCL refuses two ranks on one device), in a build without NCCL, and
//     in the emulation build (its device is host memory).
// The log says which and why. Both take host buffers too, so an algorithm hands every buffer it
// has (K/V blocks on the device, segment summaries on the host) to the one communicator.
#pragma once

#include <memory>
#include <string>

#include "distributed/comm/mpi_communicator.h"
#include "framework/core/tensor/device.h"

namespace attnscale {

struct DeviceCommChoice {
  std::unique_ptr<Communicator> comm;
  std::string reason;  // "one GPU per rank", "4 ranks share 1 GPU on a node: NCCL refuses ..."
};

// Collective over `host`. `device` is this rank's GPU (cuda:i, already current).
DeviceCommChoice make_device_communicator(MpiCommunicator& host, Device device, const std::string& name);

// MPI's staging of device buffers through pinned host memory (exposed for tests).
std::shared_ptr<const BufferStaging> pinned_staging(Device device);

}  // namespace attnscale
