// Saving a checkpoint: the commit protocol (DESIGN.md 6, layout in format.h).
//
//   1. rank 0 makes <dir>/step_N.tmp/; every rank packs its own state   -> all ranks agree
//   2. rank 0 writes model.h5, ranks.h5 and metrics.jsonl, fsyncs each, writes manifest.json
//      (sizes and SHA-256 of the others), fsyncs the directory, renames it to step_N/ and fsyncs
//      <dir>: the rename is the commit                                 -> all ranks agree
//   3. rank 0 points `latest` at step_N and deletes all but the newest `keep` checkpoints
//
// Rank 0 refuses to save a state holding NaN or infinity (a diverged run): the save fails like
// any other, naming the tensor.
//
// A failure on any rank before the commit (disk full, an I/O error, an injected fault) is agreed on
// by every rank: nothing is committed, step_N.tmp is removed, the previous checkpoints are
// untouched, and every rank throws the same RuntimeFailure naming the failing rank and its reason.
// A process killed mid-save leaves only step_N.tmp, which the next writer removes. Failures in
// step 3 are logged: the checkpoint is already committed and valid.
#pragma once

#include <cstdint>
#include <filesystem>

#include "distributed/comm/communicator.h"
#include "framework/checkpoint/fault.h"
#include "framework/checkpoint/group.h"
#include "framework/checkpoint/state.h"

namespace attnscale::checkpoint {

struct WriterOptions {
  std::filesystem::path dir;  // checkpoint.dir
  std::int64_t keep = 3;      // checkpoint.keep
  SaveFault fault = SaveFault::from_env();
};

class CheckpointWriter {
 public:
  // `comm`: the ranks that save together (null: this process alone). Rank 0 removes unfinished
  // saves (*.tmp) from the directory (a failure to is logged); no collective.
  CheckpointWriter(WriterOptions options, Communicator* comm);

  // Collective. Every rank passes its content (rank 0's tensors are the ones written); returns the
  // committed directory on every rank.
  std::filesystem::path save(const Content& content);

  const std::filesystem::path& dir() const { return options_.dir; }

 private:
  void commit(const Content& content, const SavedRanks& ranks, const std::filesystem::path& tmp_dir,
              const std::filesystem::path& final_dir) const;
  void after_commit(std::int64_t step, const std::filesystem::path& final_dir) const;

  WriterOptions options_;
  CheckpointGroup group_;
  std::int64_t saves_ = 0;
};

// The files of a checkpoint, each written and fsync'ed (steps of save(), for tools and tests).
void write_model_file(const std::filesystem::path& file, const Content& content);
void write_ranks_file(const std::filesystem::path& file, const SavedRanks& ranks);

}  // namespace attnscale::checkpoint
