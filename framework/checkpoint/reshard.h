// Per-rank state across world sizes: which saved state a rank resumes with.
//
// Parameters, buffers and optimizer state are replicated over dp x cp in this design, so every rank
// of any layout loads the same tensors. Per-rank state maps by this rule:
//  - Same layout (dp, cp and ulysses as saved): rank r resumes with exactly what rank r saved. This
//    is the bit-exact resume.
//  - Another layout (resharding, e.g. 4 ranks -> 2, 2 -> 4, 1 -> 3):
//      data cursor     the global batch position, which every saved rank must hold (they walk the
//                      same global batches, each taking its dp/cp slice); the new ranks continue
//                      from it, at the same point of the data stream. (Which sequences make up a
//                      global batch may depend on the layout: LMTask gives dp rank d of D the
//                      synthetic batch index * D + d.)
//      random streams  each stream keeps the seed the new rank's task derived for itself, and
//                      continues at the largest offset any saved rank (or the live stream) reached. A
//                      rank whose seed matches a saved rank's therefore never replays a counter it
//                      already used, and the result does not depend on which old rank it "was".
//    The random numbers drawn after a layout change differ from those of an unchanged run: only the
//    same layout resumes bit-exactly.
// Streams must match by name: a stream the task has but the checkpoint lacks (or the reverse) is a
// CheckpointError naming `source`, as are disagreeing cursors on a layout change.
#pragma once

#include <filesystem>
#include <span>

#include "framework/checkpoint/state.h"

namespace attnscale::checkpoint {

RankState resume_rank_state(const SavedRanks& saved, const GridShape& grid, int rank,
                            std::span<const GeneratorState> live, const std::filesystem::path& source);

bool same_layout(const GridShape& a, const GridShape& b);

}  // namespace attnscale::checkpoint
