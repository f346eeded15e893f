#include "framework/checkpoint/group.h"

#include <exception>

#include <fmt/format.h>

#include "base/error.h"

namespace attnscale::checkpoint {
namespace {

std::span<std::uint8_t> bytes_of(std::string& text) {
  return {reinterpret_cast<std::uint8_t*>(text.data()), text.size()};
}

}  // namespace

Failure capture(const std::function<void()>& work, int rank) {
  try {
    work();
    return {};
  } catch (const Error& e) {
    const int code = static_cast<int>(e.exit_code());
    return {code == 0 ? 1 : code, *e.what() ? e.what() : "unknown error", rank};
  } catch (const std::exception& e) {
    return {static_cast<int>(ExitCode::failure), *e.what() ? e.what() : "unknown error", rank};
  }
}

void throw_failure(const Failure& failure, const std::string& message) {
  switch (static_cast<ExitCode>(failure.exit_code)) {
    case ExitCode::usage: throw UsageError(message);
    case ExitCode::data: throw DataError(message);
    case ExitCode::checkpoint: throw CheckpointError(message);
    default: throw RuntimeFailure(message);
  }
}

Failure CheckpointGroup::first_failure(const Failure& mine) {
  if (!comm_) return mine;
  const int first = comm_->all_reduce_value(mine ? comm_->rank() : comm_->size(), ReduceOp::min);
  if (first == comm_->size()) return {};
  std::uint64_t header[2] = {static_cast<std::uint64_t>(mine.exit_code), mine.message.size()};
  comm_->broadcast(std::span(header), first);
  Failure failure{static_cast<int>(header[0]), comm_->rank() == first ? mine.message : std::string(header[1], '\0'),
                  first};
  comm_->broadcast(bytes_of(failure.message), first);
  return failure;
}

void CheckpointGroup::run_agreed(const std::function<void()>& work, bool rank0_only) {
  if (!comm_) {
    work();
    return;
  }
  const Failure mine = rank0_only && rank() != 0 ? Failure{} : capture(work, rank());
  const Failure first = first_failure(mine);
  if (first) throw_failure(first, fmt::format("{} (rank {})", first.message, first.rank));
}

std::vector<std::vector<std::uint64_t>> CheckpointGroup::all_gather(std::span<const std::uint64_t> values) {
  if (!comm_) return {std::vector<std::uint64_t>(values.begin(), values.end())};
  const std::vector<std::uint64_t> counts64 = comm_->all_gather_value(static_cast<std::uint64_t>(values.size()));
  const std::vector<std::size_t> counts(counts64.begin(), counts64.end());
  std::size_t total = 0;
  for (const std::size_t c : counts) total += c;
  std::vector<std::uint64_t> packed(total);
  comm_->all_gather_v(values, packed, counts);
  std::vector<std::vector<std::uint64_t>> by_rank;
  std::size_t at = 0;
  for (const std::size_t c : counts) {
    by_rank.emplace_back(packed.begin() + static_cast<std::ptrdiff_t>(at),
                         packed.begin() + static_cast<std::ptrdiff_t>(at + c));
    at += c;
  }
  return by_rank;
}

std::string CheckpointGroup::broadcast(std::string text) {
  if (!comm_) return text;
  std::uint64_t length = text.size();
  comm_->broadcast(std::span(&length, 1), 0);
  text.resize(length);
  comm_->broadcast(bytes_of(text), 0);
  return text;
}

}  // namespace attnscale::checkpoint
