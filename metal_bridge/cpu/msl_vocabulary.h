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
// Barriers and SIMD-group collectives: a kernel reaching one runs its threads as fibers.
bool is_sync_name(const std::string& w);

}  // namespace mbcpu
