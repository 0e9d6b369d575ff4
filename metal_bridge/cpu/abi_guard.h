// abi_guard.h — how the CPU backend's metal_bridge.h entry points meet the C ABI (internal).
//
// Every entry point catches everything at the edge (guarded / quietly): nothing throws or
// aborts across the ABI. Shared by runtime.cpp and commands.cpp, which the bridge build
// compiles as different translation units.
#pragma once

#include <exception>
#include <new>
#include <string>
#include <utility>

#include "../common/contract.h"
#include "runtime.h"

namespace mbcpu::rt {

// Handed out when even the error object cannot be allocated; mb_error_free ignores it. One
// object for the whole library (an inline variable), whichever unit handed it out.
inline mb_error g_oom_error{MB_ERR_OOM, "out of memory"};

// The failure half of the edge, out of line in runtime.cpp (built without optimisation): inlined,
// every entry point of the optimised dispatch unit carried its own copy of this cold code
// through the optimiser. None of them throws.

// Stores {code, message} in *out_error (when not NULL; &g_oom_error when that cannot be
// allocated) and returns `code`.
mb_status set_error(mb_error** out_error, mb_status code, std::string message) noexcept;
// Called in a catch block: the exception in flight as MB_ERR_OOM or MB_ERR_INTERNAL.
mb_status set_error_from_exception(mb_error** out_error) noexcept;
// MB_ERR_INVALID_ARG with `message`.
Status invalid(const char* message);
Status invalid(std::string message);
// A refusal of common/contract.h (the checks and wording shared with the Metal bridge).
Status refused(mb_status status, const mbc_text& text);

// Runs `body` (returning Status) and turns its failure or any exception into a status + error.
template <class Body>
mb_status guarded(mb_error** out_error, Body&& body) {
  if (out_error != nullptr) *out_error = nullptr;
  try {
    Status s = body();
    if (s.ok()) return MB_OK;
    return set_error(out_error, s.code, std::move(s.message));
  } catch (...) {
    return set_error_from_exception(out_error);
  }
}

// For entry points with no status: failures are swallowed (or recorded by the caller).
template <class Body>
void quietly(Body&& body) {
  try {
    body();
  } catch (...) {
  }
}

}  // namespace mbcpu::rt
