// msl_kernels.cpp — the kernels of a rewritten library. The candidates (see msl_rewriter.h):
// where the tokens found a `kernel` definition or a `[[host_name]]` instantiation, the C++
// expression naming it. Everything else about a kernel (whether it is one, its name, its
// parameters' bindings, threadgroup memory, max_total_threads_per_threadgroup, fibers, the
// constants it reads) is clang's to say: apply_kernel_facts (msl_ast.h) completes each from the
// facts pass, and finish_bindings gives the bindings their indices.
#include "msl_rewriter.h"

#include <algorithm>

#include "../metal_bridge.h"
#include "msl_ast.h"
#include "msl_lex.h"
#include "msl_vocabulary.h"

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

namespace {

// The threadgroup memory a kernel's variables take: their sizes summed, except that the two
// branches of an `if` take the larger of theirs, not both (MLX's sort kernels declare their
// arrays in both branches of `if (ARG_SORT)`, a constant whose dead branch Metal's compiler drops).
uint64_t threadgroup_bytes(const KernelFacts& f) {
  if (f.body.empty()) return 0;
  Vec<uint64_t> own(f.body.size(), 0);
  for (const auto& d : f.threadgroup)
    if (!(d.reads_constant && !d.size_expr.empty()))
      for (uint64_t b : d.bytes) own[(size_t)d.statement] += b;
  Vec<Vec<size_t>> kids(f.body.size());
  for (size_t s = 1; s < f.body.size(); ++s)
    if (f.body[s].parent >= 0) kids[(size_t)f.body[s].parent].push_back(s);
  Vec<uint64_t> total(f.body.size(), 0);
  for (size_t s = f.body.size(); s-- > 0;) {  // a statement's children come after it
    uint64_t sum = own[s], branch = 0;
    for (size_t c : kids[s]) {
      const std::string& role = f.body[c].role;
      if (f.body[s].kind == "IfStmt" && (role == "then" || role == "else"))
        branch = std::max(branch, total[c]);
      else
        sum += total[c];
    }
    total[s] = sum + branch;
  }
  return total[0];
}

// The MB_CONSTANT_* of a function constant's type as clang spells it, or nullptr when the CPU
// backend does not support it. A table, not a map: eight names, read once per constant.
const uint32_t* constant_type(const std::string& clang_type) {
  static const struct {
    const char* name;
    uint32_t type;
  } kTypes[] = {{"bool", MB_CONSTANT_BOOL},         {"int", MB_CONSTANT_INT},
                {"unsigned int", MB_CONSTANT_UINT}, {"float", MB_CONSTANT_FLOAT},
                {"_Float16", MB_CONSTANT_HALF},     {"half", MB_CONSTANT_HALF},
                {"short", MB_CONSTANT_SHORT},       {"unsigned short", MB_CONSTANT_USHORT}};
  for (const auto& t : kTypes)
    if (clang_type == t.name) return &t.type;
  return nullptr;
}

}  // namespace

void apply_kernel_facts(const AstFacts& facts, Rewritten* rw) {
  // The function constants; one asked about with is_function_constant_defined is optional.
  const std::set<std::string>& asked = facts.asked_defined;
  rw->constants.clear();
  for (const auto& c : facts.constants) {
    auto refuse = [&](const std::string& msg) {
      rw->errors.push_back({c.site.line, c.site.col, msg, true});
    };
    if (!c.has_index || c.index < 0 || c.index > 65535) {
      refuse("function constant '" + c.name +
             "': [[function_constant(...)]] needs an index from 0 " + "to 65535" +
             (c.has_index ? " (it is " + std::to_string(c.index) + ")" : ""));
      continue;
    }
    const uint32_t* type = constant_type(c.type);
    if (!type) {
      refuse("function constant '" + c.name + "' has type '" + c.written_type +
             "'; the CPU backend supports bool, int, uint, short, ushort, float and half");
      continue;
    }
    rw->constants.push_back({c.name, (uint32_t)c.index, *type, !asked.count(c.name)});
  }
  // A [[function_constant(c)]] gate: whether the function constant clang resolved c to is true
  // in this specialisation.
  auto gate_of = [&](uint64_t variable) -> std::string {
    for (const auto& c : facts.constants)
      if (c.variable == variable && c.has_index)
        return "(::__mb_fc_bits<" + std::to_string(c.index) + "u>::bits != 0u)";
    return "";
  };
  Vec<RwKernel> kernels;
  std::set<std::string> names;
  for (size_t n = 0; n < rw->kernels.size(); ++n) {
    RwKernel k = rw->kernels[n];
    const KernelFacts* f = n < facts.kernels.size() ? &facts.kernels[n] : nullptr;
    if (!f || !f->function) {  // clang's own error says why; fibers are always correct
      k.host_name = k.expr;
      k.uses_sync = true;
      kernels.push_back(k);
      continue;
    }
    auto refuse = [&](const std::string& msg) { rw->errors.push_back({k.line, k.pre_col, msg}); };
    k.host_name = f->has_host_name ? f->host_name : f->name;
    if (f->host_name_error) {
      refuse("[[host_name(" + k.host_args + ")]] needs a string literal");
      continue;
    }
    if (!f->is_kernel) {
      refuse((f->has_host_name ? "'" + k.host_name + "' instantiates '" + f->name + "'"
                               : "'" + f->name + "'") +
             ", which is not a kernel function (declare it `kernel` or [[kernel]])");
      continue;
    }
    if (!f->returns_void) {
      refuse("kernel '" + k.host_name + "': a kernel function must return void");
      continue;
    }
    if (k.host_name.empty()) {
      refuse("[[host_name(" + k.host_args + ")]]: a kernel needs a non-empty name");
      continue;
    }
    if (!names.insert(k.host_name).second) {
      refuse("a kernel named '" + k.host_name + "' is already defined");
      continue;
    }
    // Parameters and their attributes as clang read them (msl_declarations.cpp).
    bool ok = true;
    for (size_t p = 0; p < f->parameters.size() && ok; ++p) {
      std::string attr, gate;
      uint32_t index = 0;
      bool constant = false;
      for (const auto& a : f->parameters[p].attributes) {
        if (a.name == "constant") {
          constant = true;
        } else if (a.name == "function_constant") {
          gate = gate_of(a.variable);
        } else if (a.name == "buffer" || a.name == "threadgroup") {
          attr = a.name;
          index = !a.has_value                   ? kUnresolvedIndex
                  : a.value >= 0 && a.value < 31 ? (uint32_t)a.value
                                                 : kBadIndex;
        } else if (is_position_attribute(a.name)) {
          attr = a.name;
        } else {
          refuse("kernel '" + k.host_name + "': parameter " + std::to_string(p + 1) +
                 " has attribute [[" + a.name + "]], which the CPU backend does not support");
          ok = false;
        }
      }
      k.param_attrs.push_back(attr);
      k.param_index.push_back(index);
      k.param_constant.push_back(constant);
      k.param_gate.push_back(gate);
    }
    if (!ok) continue;
    finish_bindings(&k, &rw->errors);
    k.uses_sync = f->uses_sync;
    if (f->max_threads > 0) k.max_threads = (uint32_t)std::min<long>(f->max_threads, 0xffffffffL);
    for (const auto& d : f->threadgroup)
      if (d.reads_constant && !d.size_expr.empty()) k.tg_bytes += " + " + d.size_expr;
    k.tg_bytes = std::to_string(threadgroup_bytes(*f)) + "ull" + k.tg_bytes.substr(1);
    // The constants its code reads, and those its instantiation names (`k<fc_size>`: folded into
    // the specialisation, so named by the expression the candidate located).
    std::set<uint32_t> constants;
    for (uint32_t c : f->constants) constants.insert(c);
    Vec<int> cols;
    Vec<std::string> toks;
    lex_line(k.expr, false, &cols, &toks);
    for (const auto& c : rw->constants)
      if (std::find(toks.begin(), toks.end(), c.name) != toks.end()) constants.insert(c.index);
    k.constants.assign(constants.begin(), constants.end());
    kernels.push_back(k);
  }
  rw->kernels = std::move(kernels);
}

void finish_bindings(RwKernel* k, Vec<RwError>* errors) {
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
