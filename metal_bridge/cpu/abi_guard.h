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

inline void set_error(mb_error** out_error, mb_status code, const std::string& message) {
  if (out_error == nullptr) return;
  try {
    *out_error = new mb_error{code, message};
  } catch (...) {
    *out_error = &g_oom_error;
  }
}

// Runs `body` (returning Status) and turns its failure or any exception into a status + error.
template <class Body>
mb_status guarded(mb_error** out_error, Body&& body) {
  if (out_error != nullptr) *out_error = nullptr;
  mb_status code = MB_OK;
  std::string message;
  try {
    Status s = body();
    if (s.ok()) return MB_OK;
    code = s.code;
    message = std::move(s.message);
  } catch (const std::bad_alloc&) {
    code = MB_ERR_OOM;
    message = "out of memory";
  } catch (const std::exception& e) {
    code = MB_ERR_INTERNAL;
    message = std::string("internal error: ") + e.what();
  } catch (...) {
    code = MB_ERR_INTERNAL;
    message = "internal error: unknown exception";
  }
  set_error(out_error, code, message);
  return code;
}

// For entry points with no status: failures are swallowed (or recorded by the caller).
template <class Body>
void quietly(Body&& body) {
  try {
    body();
  } catch (...) {
  }
}

inline Status invalid(std::string message) { return {MB_ERR_INVALID_ARG, std::move(message)}; }

// A refusal of common/contract.h (the checks and wording shared with the Metal bridge).
inline Status refused(mb_status status, const mbc_text& text) {
  return {status, std::string(text.data)};
}

}  // namespace mbcpu::rt
