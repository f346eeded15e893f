#include "framework/checkpoint/reshard.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale::checkpoint {
namespace {

const GeneratorState* find_stream(const RankState& state, const std::string& name) {
  for (const GeneratorState& g : state.generators)
    if (g.name == name) return &g;
  return nullptr;
}

}  // namespace

bool same_layout(const GridShape& a, const GridShape& b) {
  return a.dp == b.dp && a.cp == b.cp && a.ulysses == b.ulysses;
}

RankState resume_rank_state(const SavedRanks& saved, const GridShape& grid, int rank,
                            std::span<const GeneratorState> live, const std::filesystem::path& source) {
  const auto refuse = [&](const std::string& why) {
    return CheckpointError(fmt::format("[checkpoint] {}: {}", source.string(), why));
  };
  if (saved.ranks.empty()) throw refuse("holds no rank state");
  for (std::size_t r = 0; r < saved.ranks.size(); ++r) {
    for (const GeneratorState& g : live)
      if (!find_stream(saved.ranks[r], g.name))
        throw refuse(fmt::format("rank {} saved no random stream '{}', which this task uses", r, g.name));
    for (const GeneratorState& g : saved.ranks[r].generators)
      if (std::none_of(live.begin(), live.end(), [&](const GeneratorState& l) { return l.name == g.name; }))
        throw refuse(fmt::format("rank {} saved a random stream '{}' that this task does not have", r, g.name));
  }

  RankState state;
  if (same_layout(saved.grid, grid) && static_cast<std::size_t>(rank) < saved.ranks.size()) {
    const RankState& own = saved.ranks[static_cast<std::size_t>(rank)];
    state.data_cursor = own.data_cursor;
    for (const GeneratorState& g : live) state.generators.push_back(*find_stream(own, g.name));
    return state;
  }

  state.data_cursor = saved.ranks.front().data_cursor;
  for (std::size_t r = 1; r < saved.ranks.size(); ++r)
    if (saved.ranks[r].data_cursor != state.data_cursor)
      throw refuse(fmt::format("the saved ranks are at different data positions (rank 0 at {}, rank {} at {}), so the "
                               "state cannot be mapped to a different layout (dp {} x cp {} -> dp {} x cp {})",
                               state.data_cursor, r, saved.ranks[r].data_cursor, saved.grid.dp, saved.grid.cp, grid.dp,
                               grid.cp));
  for (const GeneratorState& g : live) {
    GeneratorState resumed = g;
    for (const RankState& s : saved.ranks) resumed.offset = std::max(resumed.offset, find_stream(s, g.name)->offset);
    state.generators.push_back(resumed);
  }
  return state;
}

}  // namespace attnscale::checkpoint
