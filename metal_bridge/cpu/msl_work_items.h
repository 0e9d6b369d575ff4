// msl_work_items.h — barrier kernels as work-item loops (internal to the front end).
//
// A kernel with barriers or SIMD-group collectives runs, by default, each thread on a fiber that
// switches at every barrier and collective. For the kernels this transformation covers, the
// front end instead generates a second version of the kernel that runs the whole threadgroup:
// the body is split at its barriers and collectives into regions, and each region becomes a
// loop over the group's threads (the "thread loops" of MCUDA and of CPU OpenCL runtimes).
// Variables live across a region boundary get one copy per thread; a collective becomes a loop
// in which every lane deposits its operand, a loop in which every lane computes its result from
// all the operands of its simdgroup, and a read of that result in the next region; `if`, `for`,
// `while` and `do` statements that contain a barrier or collective are split recursively, with
// a per-thread mask of the threads inside them (so a collective under divergent control flow
// sees the lanes a GPU would run it with, and a barrier that not every thread of the group
// reaches stops the dispatch with an error instead of hanging or guessing). A `return` before a
// barrier clears the thread from every mask (the outermost, __mb_live, says which threads still
// run); a `break` out of a split loop clears it from that loop's masks, a `continue` from the
// masks of the loop's body until the next condition. A SIMD-group matrix operation (load, store,
// multiply) is a statement of its own: loads and stores a loop of their own (every lane's
// earlier statements are done, as in a simdgroup running in lock step), multiplies a loop in
// which every lane deposits its operands and a loop in which each computes its elements.
//
// A call of a library function that synchronises (a helper with a barrier or collective, a
// template, one reached through another) runs as that function's group function, generated the
// same way: a loop evaluates each thread's arguments into a pack (its "pack function" has the
// callee's own parameters, so overloads and template deduction are the compiler's), the group
// function runs the callee's body as loops over the threads under the caller's mask (its
// parameters read from the packs), and each thread's return value is kept for the caller's next
// loop. A callee outside the subset (recursion, a method, a cooperative tensor operation,
// ...) keeps its callers on fibers.
//
// The structure, the declarations and their uses, and which calls synchronise come from clang's
// AST of the rewritten library (the text dump compiler.cpp's facts pass already produces). A
// kernel outside the covered subset keeps fibers (RwKernel::work_items stays empty and
// RwKernel::work_items_reason says why); the generated code is also guarded by
// `__MB_WORK_ITEMS`, so a module whose loops fail to compile is rebuilt with fibers only.
#pragma once

#include <string>

#include "msl_rewrite.h"

namespace mbcpu {

// The macro that enables the generated loops in a module build (compiler.cpp defines it to 1,
// and to 0 for the rebuild after a failure).
inline constexpr const char* kWorkItemsMacro = "__MB_WORK_ITEMS";

// Reads clang's text AST dump of `rw.text` and, for every kernel of `rw` with uses_sync that the
// transformation covers, sets RwKernel::work_items to the C++ expression naming its loop
// version (the rest of the kernel's name: called with the kernel's arguments followed by the
// group, `const mbk_group&`). Returns the definitions of those loop versions, to append to the
// library text before the entry points (inside `#if __MB_WORK_ITEMS`).
std::string generate_work_items(const std::string& ast_dump, Rewritten& rw);

// What the generated code names a thread-position parameter's value from: the group record and
// the thread's coordinates within its group.
struct ThreadIdNames {
  std::string group;  // an `mbk_group` lvalue ("G")
  std::string x, y, z, li;
};

// The value of kernel parameter attribute `attr` (e.g. "thread_position_in_grid") of C++ type
// `type` for one thread, or "" for an attribute that is not a thread or group position.
std::string thread_id_expression(const std::string& attr, const std::string& type,
                                 const ThreadIdNames& names);

// Whether a parameter with attribute `attr` differs between the threads of one group.
bool per_thread_attribute(const std::string& attr);

}  // namespace mbcpu
