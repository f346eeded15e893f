#include "distributed/comm/mpi_loc_reduction.h"

#include "distributed/comm/mpi_check.h"

namespace attnscale {
namespace {

template <LocOp Loc>
void reduce_pairs(void* in, void* inout, int* length, MPI_Datatype* /*datatype*/) {
  const auto* a = static_cast<const ValueIndex*>(in);
  auto* b = static_cast<ValueIndex*>(inout);
  for (int i = 0; i < *length; ++i) b[i] = reduce_loc(a[i], b[i], Loc);
}

}  // namespace

MpiLocReduction::MpiLocReduction() {
  ATTNSCALE_MPI_CHECK(MPI_Type_contiguous(static_cast<int>(sizeof(ValueIndex)), MPI_BYTE, &datatype_));
  ATTNSCALE_MPI_CHECK(MPI_Type_commit(&datatype_));
  ATTNSCALE_MPI_CHECK(MPI_Op_create(&reduce_pairs<LocOp::maxloc>, /*commute=*/1, &maxloc_));
  ATTNSCALE_MPI_CHECK(MPI_Op_create(&reduce_pairs<LocOp::minloc>, /*commute=*/1, &minloc_));
}

MpiLocReduction::~MpiLocReduction() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (minloc_ != MPI_OP_NULL) MPI_Op_free(&minloc_);
  if (maxloc_ != MPI_OP_NULL) MPI_Op_free(&maxloc_);
  if (datatype_ != MPI_DATATYPE_NULL) MPI_Type_free(&datatype_);
}

}  // namespace attnscale
