#include "distributed/comm/comm_state.h"

#include <fmt/format.h>

namespace attnscale {

std::string CommState::where() const {
  return fmt::format("rank {} ({} rank {} of {})", context->root_rank(), name, rank, size);
}

}  // namespace attnscale
