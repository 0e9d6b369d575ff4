// msl_exclusions.h — the C++ the Metal Shading Language leaves out (its specification, §1.5.4),
// refused from clang's facts about the library (msl_ast.h) where spelling cannot tell: lambda
// expressions (before Metal 4.0: see exclusion_errors), recursion (calls resolved by clang:
// overloads, templates, methods), function pointers, mutable program-scope variables. Keywords that
// always mean the same thing (goto, virtual, dynamic_cast, typeid, new/delete, try/throw/catch,
// thread_local, register) are refused by the rewriter as it reads the tokens (msl_refusals.cpp).
// Internal to the front end.
#pragma once

#include <string>

#include "msl_ast.h"
#include "msl_rewrite.h"
#include "vec.h"

namespace mbcpu {

// "NAME:LINE:COL: error: MSG" lines (columns mapped to the source through `rw`), in .metal
// order. A program-scope variable the rewriter already refused (it names an address space) is
// not reported twice. `metal_version` is the library's __METAL_VERSION__ (320 for 3.2): lambda
// expressions are refused below 400. The 3.2 specification lists them among the C++ features
// Metal leaves out (§1.5.4), but Apple's Metal 4 compiler accepts them: MLX builds its NAX
// kernels, which pass generic lambdas capturing by reference to templates, only when the SDK's
// default language is 4.0 or newer, and compiles its run-time kernels with language version 4.0
// on macOS 26. This backend follows that compiler. The same code keeps a function template's
// specialisation in a local variable and calls it (`auto f = gemm_loop<...>; f(...)`), so from
// 4.0 a local variable of function-pointer type is accepted too; function-pointer parameters,
// members and type aliases are refused in every version.
Vec<std::string> exclusion_errors(const AstFacts& facts, const Rewritten& rw,
                                  const std::string& source_name, int metal_version);

}  // namespace mbcpu
