// Data-parallel training across processes, machines and GPUs: this process's
// place in the job and the collectives the Trainer needs (all-reduce in
// buckets, broadcast, barrier). MPI launches the processes and carries the
// collectives of CPU tensors; NCCL carries those of CUDA tensors, its
// communicator bootstrapped through MPI (rank 0's unique id broadcast).
//
// A process is part of a job when a launcher started it: Open MPI's mpirun /
// mpiexec, or srun and any other PMI/PMIx launcher (the environment says so).
// Otherwise, and in a build without MPI, the job is this process alone
// (rank 0 of 1) and every collective returns at once, so a program behaves
// exactly as it did before data parallelism. A build without MPI that a
// launcher started as one of several processes stops with an error instead of
// silently training N copies.
//
// Every collective must be called by every process in the same order with the
// same shapes and dtypes; a process that fails instead must call abort(),
// which ends every process of the job (rather than leaving them waiting in a
// collective forever).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace mpq::train {

enum class Reduce { sum, average };

class Distributed {
 public:
  // The job of this process; the first call initialises MPI when a launcher
  // started the process.
  static Distributed& get();
  static bool built_with_mpi();
  static bool built_with_nccl();

  int rank() const { return rank_; }
  int size() const { return size_; }
  // This process's place among the job's processes on its machine (GPU selection).
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  bool is_root() const { return rank_ == 0; }
  bool multi() const { return size_ > 1; }
  // "rank 1 of 4 (local 1 of 2 on host-a)"
  std::string describe() const;

  // In place, over every process: the sum or the average of each tensor.
  // Tensors of one dtype and device are packed into buckets of at most
  // bucket_bytes, one collective per bucket. CUDA tensors go through NCCL
  // (when built with it, even in a job of one; otherwise through host memory
  // and MPI). Average needs floating dtypes.
  void all_reduce(const std::vector<Tensor>& tensors, Reduce op = Reduce::sum);
  void all_reduce(std::vector<double>& values, Reduce op = Reduce::sum);
  // Every tensor (or string) takes the value it has on `root`.
  void broadcast(const std::vector<Tensor>& tensors, int root = 0);
  void broadcast(std::string& text, int root = 0);
  void barrier();
  // Ends every process of the job now: prints "error (rank r of N): message"
  // on stderr and aborts the job with `code` (exits with `code` when the job
  // is this process alone).
  [[noreturn]] void abort(const std::string& message, int code);
  // MPI_Finalize at a normal exit (a no-op without MPI); run_main calls it.
  void finalize();

  std::size_t bucket_bytes = std::size_t(16) << 20;
  std::int64_t collectives() const { return collectives_; }  // made so far (tests, benchmarks)

  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;
  ~Distributed();

 private:
  Distributed();
  struct Nccl;
  // Sums (averages) a host buffer over every process with MPI.
  void reduce_bucket(void* data, std::size_t count, DType dtype, Reduce op);
  Nccl& nccl(Device device);

  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool mpi_ = false, finalized_ = false;
  std::string host_;
  std::int64_t collectives_ = 0;
  std::vector<unsigned char> host_bucket_;  // reused between calls
  std::unique_ptr<Nccl> nccl_;              // created by the first CUDA collective
};

}  // namespace mpq::train
