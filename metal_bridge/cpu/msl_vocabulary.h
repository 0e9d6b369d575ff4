// msl_vocabulary.h — names the MSL front end must recognise: vector type names, words usable in
// generated code outside a kernel, and the calls that make a kernel need fibers (internal).
#pragma once

#include <set>
#include <string>

namespace mbcpu {

// float2..4, half2..4, ..., packed_float2/4, ...
const std::set<std::string>& vector_type_names();
// Names usable in a generated sizeof() outside the kernel (besides namespace-scope names).
bool builtin_type_word(const std::string& w);
// Attributes of a kernel parameter that bind a thread or group position, index or count
// ([[thread_position_in_grid]], [[simdgroup_index_in_threadgroup]], ...).
bool is_position_attribute(const std::string& w);
// Barriers and SIMD-group collectives: a kernel reaching one runs its threads as fibers. What
// they are is said by the compatibility header (`__MB_SYNC` declarations, read from its AST:
// read_sync_declarations in msl_ast.h), installed once per process before any library is
// compiled.
void set_sync_declarations(const std::set<std::string>& functions,
                           const std::set<std::string>& types);
// A function (or a type: see below) the header declares __MB_SYNC.
bool is_sync_name(const std::string& w);
// A type whose operations are shared out over a SIMD-group's lanes (simdgroup_matrix, the tensor
// API's cooperative tensors; the header's __MB_SYNC classes and their aliases).
const std::set<std::string>& lane_shared_types();

}  // namespace mbcpu
