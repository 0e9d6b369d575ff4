// msl_rewrite.h — translation of preprocessed MSL into C++ for the CPU backend (internal to
// compiler.cpp): a token-level rewriter that also records kernels, their parameter attributes and
// the function constants, and generates the kernel_module.h entry points.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "sorted_map.h"
#include "vec.h"

namespace mbcpu {

// File names the rewritten text uses in its line markers (and clang in its diagnostics).
inline constexpr const char* kSourceFile = "@src";   // lines of the .metal source
inline constexpr const char* kEntryFile = "@entry";  // generated entry point of a kernel at LINE

// RwKernel::param_index of a [[buffer(EXPR)]] / [[threadgroup(EXPR)]] the rewriter cannot
// evaluate (clang's facts do: apply_kernel_facts), and of one out of range.
inline constexpr uint32_t kUnresolvedIndex = 0xffffffffu;
inline constexpr uint32_t kBadIndex = 0xfffffffeu;

// A kernel entry point. The rewriter only locates candidates (a `kernel` function definition, a
// `[[host_name]]` instantiation) and the C++ expression naming each; clang's facts decide the
// rest (apply_kernel_facts, msl_ast.h): whether the function is a kernel, its name, parameters,
// threadgroup memory and max_total_threads_per_threadgroup.
struct RwKernel {
  std::string host_name;  // name the runtime looks up (from clang's facts)
  std::string expr;       // qualified C++ name of the function ("::add<float>")
  // The tokens of its `[[host_name(...)]]` argument as written (macros expanded), or "": clang
  // evaluates them on the kernel's anchor (kernel_anchors) and the facts give the string.
  std::string host_args;
  Vec<std::string> param_attrs;  // per parameter: "buffer", "thread_position_in_grid", ...
  Vec<uint32_t> param_index;     // [[buffer(i)]] / [[threadgroup(i)]] index, else 0
  Vec<bool> param_constant;      // declared `constant` (read-only for the whole dispatch)
  // Per parameter: "" or, for [[function_constant(c)]], the C++ bool that says whether the
  // binding exists in this specialisation (Metal leaves it out, unbound, when c is false).
  Vec<std::string> param_gate;
  uint32_t buffer_mask = 0, threadgroup_mask = 0;  // set by finish_bindings
  // Reaches a barrier or collective (needs fibers); from clang's facts (apply_kernel_facts).
  bool uses_sync = false;
  uint32_t max_threads = 0;  // [[max_total_threads_per_threadgroup(N)]] as clang evaluated it, or 0
  // Bytes of its threadgroup variables: clang's sizes, plus `sizeof(...)` terms for a variable
  // whose size depends on a function constant (evaluated per specialisation), as a C++ sum.
  std::string tg_bytes = "0";
  // Indices of the function constants it reads, ascending, from clang's facts
  // (apply_kernel_facts) and the names in its instantiation's template arguments.
  Vec<uint32_t> constants;
  int line = 0;     // .metal line of the declaration
  int pre_col = 0;  // its column in the preprocessed line
  // A uses_sync kernel run as work-item loops (msl_work_items.h): the loop version's name with
  // the kernel's template arguments, else "" and why not.
  std::string work_items, work_items_reason;
};

// A function constant, as clang's facts declare it (apply_kernel_facts, msl_ast.h).
struct RwConstant {
  std::string name;
  uint32_t index;
  uint32_t type;         // MB_CONSTANT_*
  bool required = true;  // no code asks is_function_constant_defined of it
};

struct RwError {
  int line = 0;     // .metal line
  int pre_col = 0;  // column in the preprocessed line (mapped to the source when formatted)
  std::string msg;
  bool rewritten_col = false;  // pre_col is a column of the rewritten text (clang's facts)
};

struct Rewritten {
  std::string text;  // C++ ready for the compat header, line markers naming kSourceFile
  Vec<RwKernel> kernels;
  Vec<RwConstant> constants;
  Vec<RwError> errors;

  // Column mapping (diagnostics): rewritten column -> preprocessed column -> source column.
  struct Edit {
    int out_start, out_end, in_start, in_end;
  };
  SortedMap<int, int> text_line_of;      // .metal line -> line index in `text`
  SortedMap<int, Vec<Edit>> line_edits;  // text line index -> length-changing edits
  Vec<std::string> pre_lines;            // preprocessed text, by line
  Vec<std::string> src_lines;            // original source, by line (1-based: [0] unused)
  Vec<bool> src_line_in_comment;         // a /* comment is open at the line's start

  // Maps a column clang reported on .metal line `line` (in the rewritten text) to the source.
  int map_column(int line, int col) const;
  // Maps a column of the preprocessed text on .metal line `line` to the source.
  int map_pre_column(int line, int col) const;
};

// Rewrites `preprocessed` (clang -E output of the source read from stdin) given the original
// source text (for column mapping). With `address_space_check`, the text is for the syntax-only
// address-space check of msl_address_spaces.h instead of code generation.
Rewritten rewrite_msl(const std::string& preprocessed, const std::string& original,
                      bool address_space_check = false);

// Checks a kernel's [[buffer]]/[[threadgroup]] indices once they are known (after clang's facts),
// gives the parameters without an attribute the free buffer indices in order, as Metal does, and
// sets the masks; what is wrong is appended to `errors`.
void finish_bindings(RwKernel* k, Vec<RwError>* errors);

// The kernel_module.h entry points and table for every kernel of `rw`.
std::string generate_entry_points(const Rewritten& rw);

// `rw.errors` as "NAME:LINE:COL: error: MSG" lines.
Vec<std::string> format_errors(const Rewritten& rw, const std::string& source_name);

// clang -E names stdin "<stdin>"; diagnostics use kSourceFile instead.
std::string rename_stdin_markers(const std::string& clang_stderr);

}  // namespace mbcpu
