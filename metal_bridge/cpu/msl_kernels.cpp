// msl_kernels.cpp — the candidate kernels of a rewritten library (see msl_rewriter.h): where the
// tokens found a `kernel` definition or a `[[host_name]]` instantiation, the C++ expression
// naming it. Everything else about a kernel (whether it is one, its name, its parameters'
// bindings, threadgroup memory, max_total_threads_per_threadgroup, fibers, the constants it
// reads) is clang's to say: apply_kernel_facts (msl_ast.h) completes each from the facts pass.
#include "msl_rewriter.h"

namespace mbcpu {
namespace msl {

void Rewriter::build_kernels() {
  for (const auto& d : kernels_) {
    RwKernel k;
    k.expr = d.qualified;
    k.host_args = d.host_args;
    k.line = d.line;
    k.pre_col = d.pre_col;
    out_->kernels.push_back(k);
  }
}

}  // namespace msl

void finish_bindings(RwKernel* k, std::vector<RwError>* errors) {
  auto refuse = [&](const std::string& msg) {
    errors->push_back({k->line, k->pre_col, "kernel '" + k->host_name + "': " + msg});
  };
  k->buffer_mask = k->threadgroup_mask = 0;
  for (size_t p = 0; p < k->param_attrs.size(); ++p) {
    const std::string& a = k->param_attrs[p];
    if (a != "buffer" && a != "threadgroup") continue;
    if (k->param_index[p] == kUnresolvedIndex) {
      refuse("[[" + a + "(...)]] of parameter " + std::to_string(p + 1) +
             " is not an integral constant expression");
      return;
    }
    if (k->param_index[p] >= 31) {
      refuse("[[" + a + "(...)]] of parameter " + std::to_string(p + 1) +
             " needs an index from 0 to 30");
      return;
    }
    (a == "buffer" ? k->buffer_mask : k->threadgroup_mask) |= 1u << k->param_index[p];
  }
  // Parameters with no attribute are buffers: Metal gives them the free indices in order.
  for (size_t p = 0; p < k->param_attrs.size(); ++p) {
    if (!k->param_attrs[p].empty()) continue;
    uint32_t index = 0;
    while (index < 31 && (k->buffer_mask >> index & 1)) ++index;
    if (index == 31) {
      refuse("parameter " + std::to_string(p + 1) +
             " has no [[buffer(n)]] and no buffer index is left");
      return;
    }
    k->param_attrs[p] = "buffer";
    k->param_index[p] = index;
    k->buffer_mask |= 1u << index;
  }
}

}  // namespace mbcpu
