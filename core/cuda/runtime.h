// The CUDA runtime as the rest of mpq sees it: which devices exist, one stream
// per device on which every kernel and copy of that device is ordered, and
// host <-> device copies. Compiled only into builds with the CUDA backend;
// the rest of mpq reaches it through the backend table (core/backend.h).
//
// Ordering. All work for a device goes to its one stream, in program order:
// a kernel sees the results of every earlier kernel and copy without explicit
// synchronisation, and a freed block can be handed to the next allocation at
// once (the caching allocator, core/cuda/allocator.h). The host waits only
// where it reads device data: copies to the CPU, item(), to_vector().
#pragma once

#include <cstddef>
#include <string>

#include "core/device.h"

namespace mpq::cuda {

// Number of usable CUDA devices; 0 when the driver is missing or reports
// none (never throws). `why_none` gets the reason when it is 0.
int device_count(std::string* why_none = nullptr);

// True when this process can run CUDA work (built with the backend and a device present).
bool available();

// Throws mpq::Error naming the reason unless `device` can run work: a build
// without the backend, no driver / no GPU, or an index past the last device.
void require(Device device, const char* op);

// Makes `device` current for the calling thread (cudaSetDevice).
void set_device(Device device);

// Waits until every kernel and copy queued for `device` has finished.
void synchronize(Device device);

// Copies nbytes between host memory and `device` (or within the device),
// ordered on the device's stream. Copies that write host memory wait for
// their completion before returning; host -> device copies return once the
// source may be reused (the host buffer is staged by the driver).
void copy_to_device(void* dst, const void* src, std::size_t nbytes, Device device);
// The same from pinned host memory without waiting: the copy is ordered on
// the device's stream, and the pinned block is not reused before it ends.
void copy_to_device_async(void* dst, const void* src, std::size_t nbytes, Device device);
void copy_to_host(void* dst, const void* src, std::size_t nbytes, Device device);
void copy_on_device(void* dst, const void* src, std::size_t nbytes, Device device);

}  // namespace mpq::cuda
