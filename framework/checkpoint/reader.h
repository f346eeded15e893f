// Loading a checkpoint: check first, then read. Opening a checkpoint directory reads and checks its
// manifest and the size and SHA-256 of every file it lists, before any tensor is read; every
// refusal is a CheckpointError (exit code 4) naming the file and the reason: missing manifest or
// file, corrupt manifest, truncated file, hash mismatch, unreadable HDF5 data (Fletcher32), a
// format this program does not read. HDF5 lock failures stay h5::LockError (an environment
// problem, with the HDF5_USE_FILE_LOCKING hint).
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "framework/checkpoint/manifest.h"
#include "framework/checkpoint/state.h"

namespace attnscale::checkpoint {

enum class Verify {
  hashes,  // sizes and SHA-256 of every file (what one rank does before the others read)
  sizes,   // sizes only (ranks that read after another rank verified the hashes)
};

class CheckpointReader {
 public:
  explicit CheckpointReader(std::filesystem::path dir, Verify verify = Verify::hashes);

  const std::filesystem::path& dir() const { return dir_; }
  const Manifest& manifest() const { return manifest_; }

  // The tensors of a model.h5 group (kParamsGroup, kBuffersGroup, kOptimizerGroup), by name.
  NamedTensors read_group(std::string_view group) const;
  // Every saving rank's state, with the saving job's layout.
  SavedRanks read_ranks() const;
  // The metrics records up to this step (JSON lines); "" when the run wrote none.
  std::string metrics_text() const;
  // Reads every dataset (so Fletcher32 checks every chunk) and checks the files against the
  // manifest's step and layout, and every tensor for NaN and infinity (CheckpointError listing
  // them): what `attnscale checkpoint verify` adds to opening.
  void read_everything() const;

 private:
  std::filesystem::path dir_;
  Manifest manifest_;
};

// Copies `saved` into `live` by name: every name must be in both, with the same shape and dtype;
// otherwise CheckpointError naming `source`, `what` ("parameter", "buffer") and the first
// difference, and nothing is copied.
void load_named_tensors(std::span<const NamedTensor> live, std::span<const NamedTensor> saved, std::string_view what,
                        const std::filesystem::path& source);

}  // namespace attnscale::checkpoint
