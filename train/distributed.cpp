#include "train/distributed.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/error.h"

#ifdef MPQ_HAVE_MPI
#include <mpi.h>
#endif
#ifdef MPQ_HAVE_NCCL
#include "train/cuda/nccl.h"
#endif

namespace mpq::train {

namespace {

// The number of processes a launcher says this one belongs to (0: none
// started it). Open MPI's mpirun, PMI-1/2 (MPICH's hydra, srun --mpi=pmi2)
// and PMIx (srun --mpi=pmix, Open MPI 4) each set their own variables.
int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"}) {
    const char* v = std::getenv(name);
    if (v && *v) {
      // SLURM_NTASKS alone (an sbatch script) does not mean this process was launched by srun.
      if (std::strcmp(name, "SLURM_NTASKS") == 0 && !std::getenv("SLURM_STEP_ID")) continue;
      return std::max(1, std::atoi(v));
    }
  }
  // PMIx names the rank but not the size: MPI_Init will tell.
  return std::getenv("PMIX_RANK") || std::getenv("PMI_RANK") ? 1 : 0;
}

#ifdef MPQ_HAVE_MPI
MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i32:
      return MPI_INT32_T;
    case DType::i8:
      return MPI_INT8_T;
    case DType::u8:
      return MPI_UINT8_T;
  }
  MPQ_FAIL("Distributed: unsupported dtype");
}
#endif

// data[i] /= n for a floating buffer (all_reduce refused other dtypes).
void divide(void* data, std::size_t count, DType dtype, int n) {
  dispatch_floating(dtype, "Distributed average", [&]<class T>() {
    T* p = static_cast<T*>(data);
    const T inv = T(1) / static_cast<T>(n);
    for (std::size_t i = 0; i < count; ++i) p[i] *= inv;
  });
}

}  // namespace

#ifdef MPQ_HAVE_NCCL
struct Distributed::Nccl {
  std::unique_ptr<nccl::Communicator> comm;
};
#else
struct Distributed::Nccl {};
#endif

Distributed& Distributed::get() {
  static Distributed instance;
  return instance;
}

bool Distributed::built_with_mpi() {
#ifdef MPQ_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool Distributed::built_with_nccl() {
#ifdef MPQ_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

Distributed::Distributed() {
  const int launched = launcher_world_size();
#ifdef MPQ_HAVE_MPI
  if (launched == 0) return;
  int provided = 0;
  // Only the main thread makes MPI calls (the loader's threads never do).
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  mpi_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_Get_processor_name(name, &len);
  host_.assign(name, static_cast<std::size_t>(len));
#else
  MPQ_CHECK(launched <= 1, "a launcher started this process as one of ", launched,
            " but this build of mpq has no MPI, so each would train alone: install "
            "libopenmpi-dev (scripts/setup.sh does) and rebuild, or run one process");
#endif
}

Distributed::~Distributed() = default;

std::string Distributed::describe() const {
  return detail::concat("rank ", rank_, " of ", size_, " (local ", local_rank_, " of ", local_size_,
                        host_.empty() ? "" : " on " + host_, ")");
}

Distributed::Nccl& Distributed::nccl(Device device) {
#ifdef MPQ_HAVE_NCCL
  if (!nccl_) {
    std::string id = is_root() ? nccl::unique_id() : std::string(nccl::kIdBytes, '\0');
    broadcast(id, 0);  // (nothing to send in a job of one)
    nccl_ = std::make_unique<Nccl>();
    nccl_->comm = std::make_unique<nccl::Communicator>(rank_, size_, id, device);
  }
  MPQ_CHECK(nccl_->comm->device() == device, "Distributed: NCCL runs on ",
            nccl_->comm->device().str(), ", not ", device.str(), " (one GPU per process)");
  return *nccl_;
#else
  MPQ_FAIL("Distributed: no NCCL in this build (", device.str(), ")");
#endif
}

void Distributed::reduce_bucket(void* data, std::size_t count, DType dtype, Reduce op) {
  ++collectives_;
#ifdef MPQ_HAVE_MPI
  auto* p = static_cast<unsigned char*>(data);
  const std::size_t item = dtype_size(dtype);
  for (std::size_t done = 0; mpi_ && done < count;) {  // MPI counts are int
    const std::size_t n = std::min<std::size_t>(count - done, INT_MAX);
    MPI_Allreduce(MPI_IN_PLACE, p + done * item, static_cast<int>(n), mpi_type(dtype), MPI_SUM,
                  MPI_COMM_WORLD);
    done += n;
  }
#endif
  if (op == Reduce::average) divide(data, count, dtype, size_);
}

void Distributed::all_reduce(const std::vector<Tensor>& tensors, Reduce op) {
  bool cuda = false;
  for (const Tensor& t : tensors) {
    MPQ_CHECK(op == Reduce::sum || is_floating(t.dtype()), "Distributed: an average of ",
              dtype_name(t.dtype()), " values (use Reduce::sum)");
    cuda = cuda || !t.device().is_cpu();
  }
  // A process alone has nothing to add, except that CUDA tensors still go
  // through NCCL (a communicator of one) when MPI did not start the job: so
  // one GPU checks the NCCL path (scripts/gpu_check.sh).
  if (!mpi_ && !(cuda && built_with_nccl())) return;
  // Consecutive tensors of one dtype and device share a bucket, up to bucket_bytes.
  for (std::size_t i = 0; i < tensors.size();) {
    const DType dt = tensors[i].dtype();
    const Device dev = tensors[i].device();
    const std::size_t item = dtype_size(dt);
    std::size_t j = i, count = 0;
    while (
        j < tensors.size() && tensors[j].dtype() == dt && tensors[j].device() == dev &&
        (j == i || (count + static_cast<std::size_t>(tensors[j].numel())) * item <= bucket_bytes)) {
      count += static_cast<std::size_t>(tensors[j].numel());
      ++j;
    }
    if (count == 0) {
      i = j;
      continue;
    }
    if (!dev.is_cpu() && built_with_nccl()) {
      // A flat device buffer, reduced by NCCL on the device's stream.
      Tensor flat = empty({static_cast<std::int64_t>(count)}, dt, dev);
      std::int64_t off = 0;
      for (std::size_t k = i; k < j; ++k) {
        const std::int64_t n = tensors[k].numel();
        flat.narrow(0, off, n).copy_(tensors[k].reshape({n}));
        off += n;
      }
      ++collectives_;
#ifdef MPQ_HAVE_NCCL
      nccl(dev).comm->all_reduce(flat.device_data(), count, dt, op == Reduce::average);
#endif
      off = 0;
      for (std::size_t k = i; k < j; ++k) {
        const std::int64_t n = tensors[k].numel();
        Tensor(tensors[k]).copy_(flat.narrow(0, off, n).reshape(tensors[k].shape()));
        off += n;
      }
    } else if (j == i + 1 && dev.is_cpu() && tensors[i].is_contiguous()) {
      // One contiguous tensor: reduced where it lies.
      reduce_bucket(tensors[i].device_data(), count, dt, op);
    } else {
      // Packed into the reused host bucket (CUDA tensors without NCCL pass through it too).
      host_bucket_.resize(std::max(host_bucket_.size(), count * item));
      unsigned char* base = host_bucket_.data();
      std::size_t off = 0;
      for (std::size_t k = i; k < j; ++k) {
        const Tensor c = tensors[k].to(Device::cpu()).contiguous();
        const std::size_t bytes = static_cast<std::size_t>(c.numel()) * item;
        if (bytes) std::memcpy(base + off, c.device_data(), bytes);
        off += bytes;
      }
      reduce_bucket(base, count, dt, op);
      off = 0;
      for (std::size_t k = i; k < j; ++k) {
        const Tensor& t = tensors[k];
        const std::size_t bytes = static_cast<std::size_t>(t.numel()) * item;
        if (dev.is_cpu() && t.is_contiguous()) {
          if (bytes) std::memcpy(t.device_data(), base + off, bytes);
        } else {
          Tensor staged = empty(t.shape(), dt);
          if (bytes) std::memcpy(staged.device_data(), base + off, bytes);
          Tensor(t).copy_(staged);
        }
        off += bytes;
      }
    }
    i = j;
  }
}

void Distributed::all_reduce(std::vector<double>& values, Reduce op) {
  if (!mpi_ || values.empty()) return;
  reduce_bucket(values.data(), values.size(), DType::f64, op);
}

void Distributed::broadcast(const std::vector<Tensor>& tensors, [[maybe_unused]] int root) {
  if (!mpi_) return;
  for (const Tensor& t : tensors) {
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype());
    if (bytes == 0) continue;
    ++collectives_;
#ifdef MPQ_HAVE_NCCL
    if (!t.device().is_cpu() && t.is_contiguous()) {
      nccl(t.device()).comm->broadcast(t.device_data(), bytes, root);
      continue;
    }
#endif
    const bool direct = t.device().is_cpu() && t.is_contiguous();
    Tensor host = direct ? t : t.to(Device::cpu()).contiguous();
#ifdef MPQ_HAVE_MPI
    auto* p = static_cast<unsigned char*>(host.device_data());
    for (std::size_t done = 0; done < bytes;) {
      const std::size_t n = std::min<std::size_t>(bytes - done, INT_MAX);
      MPI_Bcast(p + done, static_cast<int>(n), MPI_BYTE, root, MPI_COMM_WORLD);
      done += n;
    }
#endif
    if (!direct) Tensor(t).copy_(host);
  }
}

void Distributed::broadcast([[maybe_unused]] std::string& text, [[maybe_unused]] int root) {
  if (!mpi_) return;
  ++collectives_;
#ifdef MPQ_HAVE_MPI
  long long n = static_cast<long long>(text.size());
  MPI_Bcast(&n, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD);
  MPQ_CHECK(n >= 0 && n <= INT_MAX, "Distributed: broadcast of ", n, " bytes of text");
  text.resize(static_cast<std::size_t>(n));
  if (n > 0) MPI_Bcast(text.data(), static_cast<int>(n), MPI_CHAR, root, MPI_COMM_WORLD);
#endif
}

void Distributed::barrier() {
  if (!mpi_) return;
  ++collectives_;
#ifdef MPQ_HAVE_MPI
  MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void Distributed::abort(const std::string& message, int code) {
  std::fprintf(stderr, "error (%s): %s\n", describe().c_str(), message.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
#ifdef MPQ_HAVE_MPI
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

void Distributed::finalize() {
  // Before the CUDA runtime shuts down (a static destructor may run after it).
  nccl_.reset();
#ifdef MPQ_HAVE_MPI
  if (mpi_ && !finalized_) {
    MPI_Finalize();
    finalized_ = true;
  }
#endif
}

}  // namespace mpq::train
