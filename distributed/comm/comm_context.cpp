#include "distributed/comm/comm_context.h"

namespace attnscale {

CommContext::CommContext(const FaultPlan& fault, int root_rank) : root_rank_(root_rank), fault_(fault) {}

std::string CommContext::step() const {
  const std::lock_guard lock(step_mutex_);
  return step_;
}

void CommContext::set_step(std::string step) {
  const std::lock_guard lock(step_mutex_);
  step_ = std::move(step);
}

void CommContext::count_operation(const OpInfo& op) {
  const std::int64_t index = ++operations_;
  if (fault_.rank == root_rank_ && index == fault_.at_op) inject_fault(fault_, describe(op), step());
}

}  // namespace attnscale
