// library_info.h — what the compiler learned about a library (internal): compiler.cpp builds
// it, runtime.cpp keeps it with each library and pipeline. Apart from compiler.h so that the
// dispatch path, which holds it only by pointer, does not parse SortedMap (ffi/library.ts
// builds that path's unit at -O2, where every header parsed shows in a first build).
#pragma once

#include <string>

#include "compiler.h"
#include "sorted_map.h"
#include "vec.h"

namespace mbcpu {

// What the compiler learned about a library. Immutable once built; shared by pipelines.
struct LibraryInfo {
  LibrarySource source;
  std::string hash;                 // of source, macros, options, compiler version
  Vec<std::string> kernel_names;    // every [[kernel]] / host_name instantiation
  Vec<FunctionConstant> constants;  // every [[function_constant(i)]] declaration
  // kernel name -> indices of the constants it reads: a required constant is required only by
  // the kernels that read it (Metal resolves function constants per function).
  SortedMap<std::string, Vec<uint32_t>> kernel_constants;
  std::string preprocessed;  // translated text ready for codegen (internal)
  // Set with `preprocessed` (compiler.cpp, set_preprocessed), once per library: its hash, part
  // of every module key, and whether it holds work-item loops. A library of thousands of kernels
  // builds thousands of pipelines from one text, so no pipeline reads the whole text again.
  std::string preprocessed_hash;
  bool work_items = false;
  bool from_cache = false;  // read from the disk cache, not compiled now
};

}  // namespace mbcpu
