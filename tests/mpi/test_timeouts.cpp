// Timeouts without ending the job: the waiter throws a RuntimeFailure that names the rank, the
// operation and the step, and the communicator stays usable (point to point) or refuses further
// work (a collective MPI cannot cancel).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "tests/mpi/mpi_test_env.h"

namespace attnscale {
namespace {

using namespace std::chrono_literals;

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const RuntimeFailure& e) {
    return e.what();
  }
  return "(no RuntimeFailure)";
}

TEST(Timeouts, ReceiveFromASilentPeerThrowsAndTheTagStaysUsable) {
  auto comm = test::fresh_comm("p2p");
  const int world_rank = test::world().rank();
  std::vector<float> data(16, 0.0f);
  if (comm->rank() == 0) {
    comm->set_timeout(300ms);
    comm->set_step("timeout test");
    Request recv = comm->irecv(data, 1, 9);  // rank 1 never sends this
    const std::string what = message_of([&] { recv.wait(); });
    EXPECT_NE(what.find(fmt::format("[comm] rank {} (p2p rank 0 of {}): recv of 16 x f32 from rank 1 (tag 9) "
                                    "timed out after 0.3 s at step 'timeout test'",
                                    world_rank, comm->size())),
              std::string::npos)
        << what;
    comm->set_timeout(60s);
  }
  comm->barrier();
  // The timed-out receive was cancelled: the next message on tag 9 reaches the next receive.
  const std::vector<float> payload(16, 3.0f);
  if (comm->rank() == 1) comm->isend(payload, 0, 9).wait();
  if (comm->rank() == 0) {
    comm->irecv(data, 1, 9).wait();
    EXPECT_EQ(data, std::vector<float>(16, 3.0f));
  }
  comm->barrier();
}

TEST(Timeouts, CollectiveThatAPeerSkipsThrowsAndRetiresTheCommunicator) {
  auto comm = test::fresh_comm("skipped");
  comm->set_step("collective timeout test");
  if (comm->rank() != 0) {
    comm->set_timeout(300ms);
    const std::string what = message_of([&] { comm->barrier(); });  // rank 0 is not there yet
    EXPECT_NE(what.find("barrier timed out after 0.3 s at step 'collective timeout test'"), std::string::npos)
        << what;
    // MPI cannot cancel a collective: the communicator refuses further work, by name.
    const std::string refused = message_of([&] { comm->barrier(); });
    EXPECT_NE(refused.find("the communicator is unusable: an abandoned barrier could not be cancelled"),
              std::string::npos)
        << refused;
    comm->set_timeout(60s);  // bounds how long its destructor waits for the abandoned barrier
  }
  test::world().barrier();
  // Rank 0 arrives late; the barrier the others abandoned completes while their destructors
  // settle it, so nothing is left pending in MPI.
  if (comm->rank() == 0) comm->barrier();
  comm.reset();
  test::world().barrier();
}

TEST(Timeouts, RequestDroppedWhileUnwindingIsCancelledAtOnce) {
  auto comm = test::fresh_comm("unwind");
  if (comm->rank() == 0) {
    std::vector<int> lost(4, -1);
    try {
      Request recv = comm->irecv(lost, 1, 5);
      throw std::runtime_error("compute failed between tiles");
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(lost, std::vector<int>(4, -1));
  }
  comm->barrier();
  const std::vector<int> payload(4, 8);
  if (comm->rank() == 1) comm->isend(payload, 0, 5).wait();
  if (comm->rank() == 0) {
    std::vector<int> got(4);
    comm->irecv(got, 1, 5).wait();
    EXPECT_EQ(got, std::vector<int>(4, 8));
  }
  comm->barrier();
}

TEST(Timeouts, StepLabelIsSharedWithSplitsAndTimeoutIsCopied) {
  MpiCommunicator& world = test::world();
  world.set_step("epoch 2 step 7");
  auto child = world.split(0, world.rank(), "child");
  EXPECT_EQ(child->step(), "epoch 2 step 7");
  child->set_step("ring fwd 1");
  EXPECT_EQ(world.step(), "ring fwd 1");
  EXPECT_EQ(child->timeout(), world.timeout());
  child->set_timeout(5s);
  EXPECT_NE(world.timeout(), 5s);
  world.set_step("");
}

}  // namespace
}  // namespace attnscale
