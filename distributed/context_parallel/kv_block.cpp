#include "distributed/context_parallel/kv_block.h"

#include "distributed/context_parallel/row_set.h"

namespace attnscale::cp {

template <typename T>
void KvBuffer<T>::resize(const KvDims& dims, int64_t rows) {
  k_.resize(static_cast<size_t>(dims.outer() * rows * dims.head_dim));
  v_.resize(static_cast<size_t>(dims.outer() * rows * dims.value_dim));
  segment_.resize(dims.segments ? static_cast<size_t>(dims.batch * rows) : 0);
  valid_.resize(dims.valid ? static_cast<size_t>(dims.batch * rows) : 0);
}

template <typename T>
void gather_kv(const KvView<T>& src, const RowSet& src_rows, KvBuffer<T>& dst, const RowSet& rows,
               const KvDims& dims) {
  dst.resize(dims, rows.size());
  const Device device = dst.device();
  gather_rows<T>(device, src.k, src_rows, dst.k(), rows, dims.outer(), dims.head_dim);
  gather_rows<T>(device, src.v, src_rows, dst.v(), rows, dims.outer(), dims.value_dim);
  if (dims.segments) gather_rows<int32_t>(device, src.segment, src_rows, dst.segment(), rows, dims.batch, 1);
  if (dims.valid) gather_rows<int32_t>(device, src.valid, src_rows, dst.valid(), rows, dims.batch, 1);
}

template <typename E>
Request ring_transfer(Communicator& comm, std::span<const E> send, int dest, std::span<E> recv,
                      int source, int tag) {
  if (!send.empty() && !recv.empty()) return comm.isendrecv(send, dest, recv, source, tag);
  if (!send.empty()) return comm.isend(send, dest, tag);
  if (!recv.empty()) return comm.irecv(recv, source, tag);
  return {};
}

template <typename T>
void exchange_kv(Communicator& comm, const KvView<T>& send, int dest, KvBuffer<T>& recv, int source,
                 int tag_base, std::vector<Request>& requests) {
  requests.push_back(ring_transfer<T>(comm, send.k, dest, recv.k(), source, tag_base));
  requests.push_back(ring_transfer<T>(comm, send.v, dest, recv.v(), source, tag_base + 1));
  requests.push_back(ring_transfer<int32_t>(comm, send.segment, dest, recv.segment(), source, tag_base + 2));
  requests.push_back(ring_transfer<int32_t>(comm, send.valid, dest, recv.valid(), source, tag_base + 3));
}

void ProgressDriver::operator()() noexcept {
  if (failure_ || comm_ == nullptr) return;
  try {
    comm_->progress();
  } catch (...) {
    failure_ = std::current_exception();
  }
}

void ProgressDriver::rethrow_if_failed() const {
  if (failure_) std::rethrow_exception(failure_);
}

template class KvBuffer<float>;
template class KvBuffer<double>;
template void gather_kv<float>(const KvView<float>&, const RowSet&, KvBuffer<float>&, const RowSet&,
                               const KvDims&);
template void gather_kv<double>(const KvView<double>&, const RowSet&, KvBuffer<double>&, const RowSet&,
                                const KvDims&);
template Request ring_transfer<float>(Communicator&, std::span<const float>, int, std::span<float>, int, int);
template Request ring_transfer<double>(Communicator&, std::span<const double>, int, std::span<double>, int,
                                       int);
template Request ring_transfer<int32_t>(Communicator&, std::span<const int32_t>, int, std::span<int32_t>,
                                        int, int);
template void exchange_kv<float>(Communicator&, const KvView<float>&, int, KvBuffer<float>&, int, int,
                                 std::vector<Request>&);
template void exchange_kv<double>(Communicator&, const KvView<double>&, int, KvBuffer<double>&, int, int,
                                  std::vector<Request>&);

}  // namespace attnscale::cp
