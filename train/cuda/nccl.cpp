#include "train/cuda/nccl.h"

#include <nccl.h>

#include <cstring>

#include "core/cuda/check.cuh"
#include "core/error.h"

#define MPQ_NCCL_CHECK(call)                                                            \
  do {                                                                                  \
    const ncclResult_t mpq_nccl_err_ = (call);                                          \
    MPQ_CHECK(mpq_nccl_err_ == ncclSuccess, "NCCL error in ", #call, ": ",              \
              ncclGetErrorString(mpq_nccl_err_), " (", ncclGetLastError(nullptr), ")"); \
  } while (0)

namespace mpq::train::nccl {

namespace {
ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32:
      return ncclFloat32;
    case DType::f64:
      return ncclFloat64;
    case DType::i32:
      return ncclInt32;
    case DType::i8:
      return ncclInt8;
    case DType::u8:
      return ncclUint8;
  }
  MPQ_FAIL("NCCL: unsupported dtype");
}
}  // namespace

std::string unique_id() {
  static_assert(sizeof(ncclUniqueId) == kIdBytes);
  ncclUniqueId id;
  MPQ_NCCL_CHECK(ncclGetUniqueId(&id));
  return std::string(reinterpret_cast<const char*>(&id), sizeof id);
}

Communicator::Communicator(int rank, int size, const std::string& id, Device device)
    : device_(device) {
  MPQ_CHECK(id.size() == sizeof(ncclUniqueId), "NCCL: unique id of ", id.size(), " bytes");
  ncclUniqueId uid;
  std::memcpy(&uid, id.data(), sizeof uid);
  MPQ_CUDA_CHECK(cudaSetDevice(device.index));
  ncclComm_t comm = nullptr;
  MPQ_NCCL_CHECK(ncclCommInitRank(&comm, size, uid, rank));
  comm_ = comm;
}

Communicator::~Communicator() {
  if (comm_) ncclCommDestroy(static_cast<ncclComm_t>(comm_));
}

void Communicator::all_reduce(void* data, std::size_t count, DType dtype, bool average) {
  MPQ_NCCL_CHECK(ncclAllReduce(data, data, count, nccl_type(dtype), average ? ncclAvg : ncclSum,
                               static_cast<ncclComm_t>(comm_), cuda::stream(device_)));
}

void Communicator::broadcast(void* data, std::size_t bytes, int root) {
  MPQ_NCCL_CHECK(ncclBroadcast(data, data, bytes, ncclUint8, root, static_cast<ncclComm_t>(comm_),
                               cuda::stream(device_)));
}

}  // namespace mpq::train::nccl
