#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

// Rank r's message to anyone: (r + 1) * 1000 + 7 elements, so neighbours' sizes differ.
std::size_t message_length(int rank) { return static_cast<std::size_t>(rank + 1) * 1000 + 7; }

std::vector<float> message_from(int rank) {
  std::vector<float> m(message_length(rank));
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = static_cast<float>(rank * 100000 + static_cast<int>(i));
  return m;
}

TEST(PointToPoint, RingSendRecvWithUnevenSizes) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const int r = comm->rank();
  const int next = (r + 1) % p;
  const int prev = (r + p - 1) % p;
  std::vector<float> got(message_length(prev));
  comm->sendrecv(message_from(r), next, got, prev);
  EXPECT_EQ(got, message_from(prev));
}

TEST(PointToPoint, RingRotationOverlapsWithProgressCalls) {
  // Ring attention's pattern: rotate a block round the ring P - 1 times with isendrecv, driving
  // the transfer with progress() between "tiles" and waiting only at the end of each step.
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const int r = comm->rank();
  std::vector<float> current = message_from(r), incoming;
  for (int step = 1; step < p; ++step) {
    const int origin = (r - step + p) % p;  // whose block arrives in this step
    incoming.assign(message_length(origin), 0.0f);
    Request rotation = comm->isendrecv(current, (r + 1) % p, incoming, (r + p - 1) % p, step);
    for (int tile = 0; tile < 8 && rotation.pending(); ++tile) {
      comm->progress();
      rotation.test();
    }
    rotation.wait();
    ASSERT_EQ(incoming, message_from(origin)) << "step " << step;
    current.swap(incoming);
  }
}

TEST(PointToPoint, AllPairsDrivenOnlyByProgress) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const int r = comm->rank();
  const std::vector<float> mine = message_from(r);
  std::vector<std::vector<float>> received(static_cast<std::size_t>(p));
  std::vector<Request> requests;
  for (int peer = 0; peer < p; ++peer) {
    received[static_cast<std::size_t>(peer)].resize(message_length(peer));
    requests.push_back(comm->irecv(received[static_cast<std::size_t>(peer)], peer, /*tag=*/peer));
  }
  for (int peer = 0; peer < p; ++peer) requests.push_back(comm->isend(mine, peer, /*tag=*/r));
  // No wait(): progress() plus test() alone must complete every transfer.
  auto all_done = [&] {
    bool done = true;
    for (Request& q : requests) done = q.test() && done;
    return done;
  };
  while (!all_done()) comm->progress();
  for (int peer = 0; peer < p; ++peer) EXPECT_EQ(received[static_cast<std::size_t>(peer)], message_from(peer));
}

TEST(PointToPoint, LargeMessageCompletesThroughProgress) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const int r = comm->rank();
  std::vector<double> out(1 << 20);  // 8 MiB: rendezvous protocol, needs progress on both sides
  std::iota(out.begin(), out.end(), r * 10.0);
  std::vector<double> in(out.size());
  Request recv = comm->irecv(in, (r + p - 1) % p);
  Request send = comm->isend(out, (r + 1) % p);
  while (recv.pending() || send.pending()) {
    comm->progress();
    recv.test();
    send.test();
  }
  std::vector<double> expected(out.size());
  std::iota(expected.begin(), expected.end(), ((r + p - 1) % p) * 10.0);
  EXPECT_EQ(in, expected);
}

TEST(PointToPoint, TagsKeepMessagesApart) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const int r = comm->rank();
  const std::vector<int> first{r, 1}, second{r, 2};
  std::vector<int> got_first(2), got_second(2);
  const int prev = (r + p - 1) % p;
  // Receive in the opposite order of sending: tags, not order, decide where each lands.
  Request b = comm->irecv(got_second, prev, 2);
  Request a = comm->irecv(got_first, prev, 1);
  Request s1 = comm->isend(first, (r + 1) % p, 1);
  Request s2 = comm->isend(second, (r + 1) % p, 2);
  std::vector<Request> all;
  all.push_back(std::move(b));
  all.push_back(std::move(a));
  all.push_back(std::move(s1));
  all.push_back(std::move(s2));
  Request::wait_all(all);
  EXPECT_EQ(got_first, (std::vector<int>{prev, 1}));
  EXPECT_EQ(got_second, (std::vector<int>{prev, 2}));
}

TEST(PointToPoint, EmptyMessagesAndHalfWords) {
  auto comm = test::fresh_comm();
  const int p = comm->size();
  const int r = comm->rank();
  comm->sendrecv(nullptr, 0, (r + 1) % p, nullptr, 0, (r + p - 1) % p, CommDType::f32);
  // bf16 travels as 16-bit words, bit for bit.
  const std::vector<std::uint16_t> bits{0x3f80, 0xc000, static_cast<std::uint16_t>(0x7f00 + r)};
  std::vector<std::uint16_t> got(3);
  comm->sendrecv(bits.data(), 3, (r + 1) % p, got.data(), 3, (r + p - 1) % p, CommDType::bf16);
  EXPECT_EQ(got[2], 0x7f00 + (r + p - 1) % p);
  EXPECT_EQ(got[0], 0x3f80);
}

}  // namespace
}  // namespace attnscale
