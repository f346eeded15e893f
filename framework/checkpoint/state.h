// What a checkpoint holds, as plain values: the training state every rank shares (parameters,
// buffers, optimizer state, step, config) and the state of each rank (random streams, data cursor).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "distributed/comm/process_grid.h"
#include "framework/core/tensor/named_tensor.h"

namespace attnscale::checkpoint {

// A counter-based generator's whole state (framework/core/tensor/random.h), under the stream's name.
struct GeneratorState {
  std::string name;  // "dropout"
  std::uint64_t seed = 0;
  std::uint64_t offset = 0;
  friend bool operator==(const GeneratorState&, const GeneratorState&) = default;
};

// One rank's own state.
struct RankState {
  // The global micro-batch index the rank's loader reads next. Every rank walks the same sequence
  // of global batches and takes its own dp/cp slice of each, so all ranks of a job hold the same
  // value; it is stored per rank so a loader with per-rank positions fits the same format.
  std::int64_t data_cursor = 0;
  std::vector<GeneratorState> generators;  // in the task's order
  friend bool operator==(const RankState&, const RankState&) = default;
};

// Every rank's state as saved, with the layout of the job that saved it.
struct SavedRanks {
  GridShape grid;
  std::vector<RankState> ranks;  // by world rank
};

// One save. The tensors are handles to live state: save() reads them before it returns.
struct Content {
  std::int64_t step = 0;
  NamedTensors parameters;       // Module::named_parameters()
  NamedTensors buffers;          // Module::named_buffers()
  NamedTensors optimizer_state;  // Optimizer::state()
  std::string optimizer;         // Optimizer::name(): "sgd", "adam", "adamw"
  std::string config_yaml;       // to_yaml(cfg): the resolved config
  GridShape grid;                // the saving job's layout (dp x cp == ranks)
  RankState rank_state;          // this rank's
  // Rank 0's metrics.jsonl, copied into the checkpoint; empty or absent = none.
  std::filesystem::path metrics_file;
};

}  // namespace attnscale::checkpoint
