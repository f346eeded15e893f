// Fault injection for the save protocol: what a crash or an I/O error at each step of a save leaves
// behind. Set in the environment of every rank (mpirun passes it on):
//   ATTNSCALE_CHECKPOINT_FAULT=<point>[:<mode>[:<rank>[:<save>]]]
//     point  started | model_written | ranks_written | manifest_written | committed | latest_updated | pruned
//     mode   kill (SIGKILL, like a crashed node; the default) | fail (an I/O error: throws)
//     rank   the world rank that fails (default 0); save: its n-th save in this process (default 1)
// e.g. ATTNSCALE_CHECKPOINT_FAULT=manifest_written:kill:0:2 kills rank 0 after it wrote the
// manifest of its second save, before the rename that would have committed it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace attnscale::checkpoint {

// The steps of a save, in order. Ranks other than 0 only pass `started`.
enum class SavePoint { started, model_written, ranks_written, manifest_written, committed, latest_updated, pruned };
enum class SaveFaultMode { kill, fail };

std::string_view save_point_name(SavePoint point);

struct SaveFault {
  std::optional<SavePoint> point;  // none: no fault
  SaveFaultMode mode = SaveFaultMode::kill;
  int rank = 0;
  std::int64_t save = 1;

  // UsageError naming the variable and the accepted values when the text is malformed.
  static SaveFault parse(std::string_view spec);
  static SaveFault from_env();

  // At each point of a save: kills this process or throws RuntimeFailure when it is the planned
  // point, rank and save number.
  void at(SavePoint point, int rank, std::int64_t save_number) const;
};

}  // namespace attnscale::checkpoint
