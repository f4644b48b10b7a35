// Page-locked ("pinned") host memory for host -> device copies, with caching.
//
// A copy from pinned memory runs asynchronously on the device's stream, so
// the data loader's next batch can be prepared while the GPU still reads the
// last one. A freed block is reused only after the work queued on every
// device's stream at the time of the free (a copy still reading it included)
// has finished: the free records an event on each stream and the reuse waits
// for them.
//
// The loader allocates its batches here with LoaderOptions::pin_memory
// (mpq::empty_pinned, core/tensor.h, through the backend table). Without a
// GPU, allocation falls back to ordinary memory.
#pragma once

#include <cstddef>

#include "core/tensor.h"

namespace mpq::cuda {

// Memory from the pinned cache (nullptr when pinning is unavailable; the
// caller then uses ordinary memory).
void* pinned_allocate(std::size_t nbytes);
void pinned_deallocate(void* ptr, std::size_t nbytes) noexcept;

}  // namespace mpq::cuda
