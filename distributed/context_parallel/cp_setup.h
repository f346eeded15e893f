// Everything a context-parallel attention call derives from the group, the layouts and the mask
// before touching data: which communicator does the all-to-all and which the ring, the token order
// of this rank's Ulysses group, the head split and the ring plan over the groups.
// Internal to distributed/context_parallel.
#pragma once

#include <memory>

#include "distributed/context_parallel/context_parallel_attention.h"
#include "distributed/context_parallel/group_order.h"
#include "distributed/context_parallel/ring_plan.h"
#include "distributed/context_parallel/ulysses.h"

namespace attnscale::cp {

struct CpSetup {
  Communicator* ulysses = nullptr;  // null: groups of one rank (pure ring)
  Communicator* ring = nullptr;     // null: one group (pure Ulysses, or one rank)
  int ulysses_size = 1;
  int ring_size = 1;
  GroupOrder q_order, k_order;  // this rank's Ulysses group
  HeadSplit heads;
  std::shared_ptr<const RingPlan> plan;  // over the ring's groups

  int ulysses_rank() const { return ulysses ? ulysses->rank() : 0; }
  HeadRange my_q_heads() const { return heads.q[static_cast<size_t>(ulysses_rank())]; }
  HeadRange my_kv_heads() const { return heads.kv[static_cast<size_t>(ulysses_rank())]; }
};

// Validates the group (sizes, hybrid rank placement; layouts over the cp size are the caller's
// check) and builds the setup. mask: positional parts. No communication: every rank computes the
// same plan.
CpSetup make_cp_setup(const ContextParallelGroup& group, const kernels::Layout& key_layout,
                      const kernels::Mask& mask, int64_t q_heads, int64_t kv_heads);

}  // namespace attnscale::cp
