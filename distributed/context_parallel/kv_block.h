// The keys of one shard as they travel a ring: K [B*Hkv, rows, D], V [B*Hkv, rows, Dv] and the
// per-token mask parts that must travel with them (segment ids and key padding, [B, rows]), all
// packed by the RowSet of the rows carried, in host or GPU memory (the block's Device). Transfers
// go part by part with fixed tags, and only the parts that hold data are posted.
#pragma once

#include <cstdint>
#include <exception>
#include <span>
#include <vector>

#include "distributed/comm/communicator.h"
#include "distributed/context_parallel/device_ops.h"
#include "distributed/context_parallel/row_set.h"

namespace attnscale::cp {

struct KvDims {
  int64_t batch = 1, kv_heads = 1, head_dim = 1, value_dim = 1;
  bool segments = false;  // per-token segment ids travel
  bool valid = false;     // per-token key padding travels
  int64_t outer() const { return batch * kv_heads; }
};

template <typename T>
struct KvView {
  std::span<const T> k, v;
  std::span<const int32_t> segment, valid;
};

// A block of `rows` keys packed by `rows`: gather_from / scatter_into move rows between blocks.
template <typename T>
class KvBuffer {
 public:
  explicit KvBuffer(Device device = kCpu) : k_(device), v_(device), segment_(device), valid_(device) {}
  void resize(const KvDims& dims, int64_t rows);
  Device device() const { return k_.device(); }
  KvView<T> view() const { return {k_.span(), v_.span(), segment_.span(), valid_.span()}; }
  std::span<T> k() { return k_.span(); }
  std::span<T> v() { return v_.span(); }
  std::span<int32_t> segment() { return segment_.span(); }
  std::span<int32_t> valid() { return valid_.span(); }

 private:
  DeviceVector<T> k_, v_;
  DeviceVector<int32_t> segment_, valid_;
};

// Packs the `rows` (within `src_rows`) of src into dst (resized); src is on dst's device.
template <typename T>
void gather_kv(const KvView<T>& src, const RowSet& src_rows, KvBuffer<T>& dst, const RowSet& rows,
               const KvDims& dims);

// One transfer of a ring step: sends `send` to dest and receives `recv` from source as a
// sendrecv, or as a lone send or receive when one side is empty, or not at all. Both ends derive
// the sizes from the same plan, so a side is posted exactly when its peer posts the other.
template <typename E>
Request ring_transfer(Communicator& comm, std::span<const E> send, int dest, std::span<E> recv,
                     int source, int tag);

// Posts the transfer of every part of a block; tags tag_base .. tag_base + 3.
template <typename T>
void exchange_kv(Communicator& comm, const KvView<T>& send, int dest, KvBuffer<T>& recv, int source,
                 int tag_base, std::vector<Request>& requests);

// Drives a communicator from a kernel's progress callback. The callback must not throw (it runs
// inside an OpenMP region), so the first failure is kept and rethrown after the kernel returns.
class ProgressDriver {
 public:
  explicit ProgressDriver(Communicator* comm) : comm_(comm) {}
  void operator()() noexcept;
  void rethrow_if_failed() const;

 private:
  Communicator* comm_;
  std::exception_ptr failure_;
};

}  // namespace attnscale::cp
