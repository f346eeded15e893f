// How much of the attention's communication over a cp group a run hid behind computation. The
// counters say how many K/V transfers a rank made (ring sendrecv, halo send/recv, block-fetch
// all_to_all_v), how many bytes they carried and how long it sat blocked waiting for them; a short
// calibration (an exchange of the average size with the ring neighbours, with nothing to overlap)
// says how long those transfers take on their own. hidden = 1 - blocked / unhidden, in [0, 1].
#pragma once

#include <cstdint>
#include <string>

#include "distributed/comm/communicator.h"

namespace attnscale {

struct OverlapReport {
  std::uint64_t transfers = 0;      // K/V transfers this rank started
  std::uint64_t bytes_sent = 0;
  double blocked_s = 0;             // time spent waiting for them
  double unhidden_s = 0;            // what they would take with no overlap (calibrated)
  double hidden_share = 0;          // 1 - blocked / unhidden

  std::string str() const;
};

// Collective over `cp` (every rank calls it once, after the run). Reads cp's point-to-point and
// all_to_all_v counters, then times `repeats` blocking exchanges of the average message size with
// the ring neighbours.
OverlapReport measure_overlap(Communicator& cp, int repeats = 5);

}  // namespace attnscale
