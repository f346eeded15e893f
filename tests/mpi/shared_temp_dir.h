// A temporary directory every rank of a communicator shares (rank 0 creates it and broadcasts the
// path; it removes it after all ranks are done), for MPI tests that write run directories.
#pragma once

#include <filesystem>
#include <random>
#include <string>

#include "framework/checkpoint/group.h"

namespace attnscale::test {

class SharedTempDir {
 public:
  explicit SharedTempDir(Communicator& comm) : comm_(comm) {
    std::string path;
    if (comm.rank() == 0) {
      path = (std::filesystem::temp_directory_path() / ("attnscale-mpi-" + std::to_string(std::random_device{}())))
                 .string();
      std::filesystem::create_directories(path);
    }
    path_ = checkpoint::CheckpointGroup(&comm).broadcast(path);
  }
  ~SharedTempDir() {
    comm_.barrier();
    std::error_code ignored;
    if (comm_.rank() == 0) std::filesystem::remove_all(path_, ignored);
  }
  SharedTempDir(const SharedTempDir&) = delete;
  SharedTempDir& operator=(const SharedTempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  Communicator& comm_;
  std::filesystem::path path_;
};

}  // namespace attnscale::test
