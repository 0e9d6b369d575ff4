// msl_address_spaces.h — the address-space check of the CPU backend (internal to compiler.cpp).
//
// Code generation erases MSL's address spaces (one memory serves them all on the CPU). So that
// what Metal refuses is refused here too, each library is also compiled once with -fsyntax-only
// from a second rewrite of its source (rewrite_msl with address_space_check) in which `device`,
// `constant` and `threadgroup` are clang address spaces 1, 2 and 3 (`thread` is the default
// space, as in MSL). There clang resolves overloads and partial specialisations by space and
// refuses a pointer or reference that changes space, as Metal does.
//
// Plain C++ is stricter than Metal in two ways, and the check does not report what follows from
// them: it has no member functions qualified by a space (so the rewrite drops the qualifier, and
// a call on an object in device, constant or threadgroup memory is an error there), and its
// implicit copy constructors and assignments only take objects in the default space (so copying
// a struct out of device memory is an error there). Only the diagnostics that name a change of
// address space in the user's own code are reported; everything else is left to code generation.
#pragma once

#include <string>

namespace mbcpu {

// Flag of the syntax-only compile that turns the spaces on in the compatibility header.
inline constexpr const char* kAddressSpaceCheckFlag = "-D__MB_ADDRESS_SPACES=1";

// The diagnostics of the check's clang stderr that Metal would also report: the groups (an
// error and its notes) located in the .metal source that change address space, with the spaces
// named as in MSL. Empty when there are none. The result is clang's format, for map_diagnostics.
std::string address_space_errors(const std::string& clang_stderr);

}  // namespace mbcpu
