// The per-rank state rule of framework/checkpoint/reshard.h.
#include <gtest/gtest.h>

#include "base/error.h"
#include "framework/checkpoint/reshard.h"

namespace attnscale::checkpoint {
namespace {

SavedRanks four_ranks() {
  SavedRanks saved{GridShape{2, 2, 1}, {}};
  for (std::uint64_t r = 0; r < 4; ++r) saved.ranks.push_back({40, {{"dropout", 100 + r, 1000 * (r + 1)}}});
  return saved;
}

std::vector<GeneratorState> live(std::uint64_t seed) { return {{"dropout", seed, 0}}; }

TEST(Reshard, TheSameLayoutResumesEachRankExactly) {
  const SavedRanks saved = four_ranks();
  for (int r = 0; r < 4; ++r) {
    const RankState state = resume_rank_state(saved, GridShape{2, 2, 1}, r, live(7), "ck");
    EXPECT_EQ(state, saved.ranks[static_cast<std::size_t>(r)]) << "rank " << r;
  }
}

TEST(Reshard, AnotherLayoutKeepsTheCursorAndAdvancesEveryStreamPastAllSavedOffsets) {
  const SavedRanks saved = four_ranks();
  for (const GridShape grid : {GridShape{2, 1, 1}, GridShape{1, 2, 1}, GridShape{4, 2, 1}, GridShape{4, 1, 1}}) {
    for (int r = 0; r < grid.world_size(); ++r) {
      const RankState state = resume_rank_state(saved, grid, r, live(100 + static_cast<std::uint64_t>(r)), "ck");
      EXPECT_EQ(state.data_cursor, 40);
      ASSERT_EQ(state.generators.size(), 1u);
      EXPECT_EQ(state.generators[0].seed, 100u + static_cast<std::uint64_t>(r));  // the rank's own seed
      EXPECT_EQ(state.generators[0].offset, 4000u);                                // past every saved draw
    }
  }
}

TEST(Reshard, DisagreeingCursorsCannotBeResharded) {
  SavedRanks saved = four_ranks();
  saved.ranks[3].data_cursor = 41;
  EXPECT_NO_THROW(resume_rank_state(saved, GridShape{2, 2, 1}, 3, live(1), "ck"));
  try {
    resume_rank_state(saved, GridShape{1, 1, 1}, 0, live(1), "ck/ranks.h5");
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("ck/ranks.h5: the saved ranks are at different data positions"),
              std::string::npos)
        << e.what();
  }
}

TEST(Reshard, StreamsMustMatchByName) {
  const SavedRanks saved = four_ranks();
  const std::vector<GeneratorState> more{{"dropout", 1, 0}, {"sampling", 2, 0}};
  EXPECT_THROW(resume_rank_state(saved, GridShape{2, 2, 1}, 0, more, "ck"), CheckpointError);
  EXPECT_THROW(resume_rank_state(saved, GridShape{2, 2, 1}, 0, {}, "ck"), CheckpointError);
}

}  // namespace
}  // namespace attnscale::checkpoint
