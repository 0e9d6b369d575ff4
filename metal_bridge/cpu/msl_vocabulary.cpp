// msl_vocabulary.cpp — names the MSL front end must recognise (see msl_vocabulary.h).
#include "msl_vocabulary.h"

namespace mbcpu {

const std::set<std::string>& vector_type_names() {
  static const std::set<std::string> names = [] {
    std::set<std::string> s;
    for (const char* t : {"float", "half", "bfloat", "int", "uint", "short", "ushort", "char",
                          "uchar", "long", "ulong", "bool"}) {
      for (const char* n : {"2", "3", "4"}) s.insert(std::string(t) + n);
      for (const char* n : {"2", "4"}) s.insert(std::string("packed_") + t + n);
    }
    return s;
  }();
  return names;
}

bool builtin_type_word(const std::string& w) {
  static const std::set<std::string> words = {
      "float",   "half",   "bfloat",     "int",         "uint",         "short",       "ushort",
      "char",    "uchar",  "long",       "ulong",       "bool",         "unsigned",    "signed",
      "sizeof",  "metal",  "atomic_int", "atomic_uint", "atomic_float", "atomic_bool", "atomic",
      "uint8_t", "int8_t", "uint16_t",   "int16_t",     "uint32_t",     "int32_t",     "uint64_t",
      "int64_t", "size_t", "simd_vote",  "true",        "false"};
  return words.count(w) || vector_type_names().count(w) ||
         (w.rfind("packed_", 0) == 0 && vector_type_names().count(w.substr(7)));
}

bool is_position_attribute(const std::string& w) {
  static const std::set<std::string> names = {"thread_position_in_grid",
                                              "thread_position_in_threadgroup",
                                              "threadgroup_position_in_grid",
                                              "threads_per_threadgroup",
                                              "threadgroups_per_grid",
                                              "threads_per_grid",
                                              "thread_index_in_threadgroup",
                                              "thread_index_in_simdgroup",
                                              "simdgroup_index_in_threadgroup",
                                              "simdgroups_per_threadgroup",
                                              "thread_execution_width",
                                              "threads_per_simdgroup",
                                              "dispatch_threads_per_threadgroup",
                                              "quadgroup_index_in_threadgroup",
                                              "thread_index_in_quadgroup",
                                              "quadgroups_per_threadgroup",
                                              "dispatch_simdgroups_per_threadgroup",
                                              "dispatch_quadgroups_per_threadgroup"};
  return names.count(w) > 0;
}

namespace {
// Written once (set_sync_declarations) before any library is compiled, then only read.
std::set<std::string>& sync_functions() {
  static std::set<std::string> s;
  return s;
}
std::set<std::string>& sync_types() {
  static std::set<std::string> s;
  return s;
}
}  // namespace

void set_sync_declarations(const std::set<std::string>& functions,
                           const std::set<std::string>& types) {
  sync_functions() = functions;
  sync_types() = types;
}

bool is_sync_name(const std::string& w) {
  return sync_functions().count(w) > 0 || sync_types().count(w) > 0;
}

const std::set<std::string>& lane_shared_types() { return sync_types(); }

}  // namespace mbcpu
