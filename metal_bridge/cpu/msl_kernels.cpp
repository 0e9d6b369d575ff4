// msl_kernels.cpp — the kernels of a rewritten library (see msl_rewriter.h): per kernel and
// instantiation, its parameters' attributes, the sizes of its threadgroup variables and the
// function constants its spelling names (the rest of what it reads, and whether it needs
// fibers, comes from clang's facts: msl_ast.h).
#include "msl_rewriter.h"

#include <algorithm>
#include <functional>

#include "../metal_bridge.h"
#include "msl_vocabulary.h"

namespace mbcpu {
namespace msl {

// A sizeof() operand or attribute expression is usable outside the kernel when every name in
// it is a builtin type word or declared at namespace scope (after template substitution).
bool Rewriter::portable(const std::vector<std::string>& toks) const {
  // A template parameter's name is no namespace-scope entity, even where one template's
  // parameter shares its name with a kernel's local typedef (`typedef float U;`).
  for (const auto& w : toks)
    if (ident_start(w[0]) && !builtin_type_word(w) &&
        (!ns_idents_.count(w) || any_template_param_names_.count(w)))
      return false;
  return true;
}

std::vector<std::string> Rewriter::substitute(const std::vector<std::string>& toks,
                                              const std::map<std::string, std::string>& m) {
  std::vector<std::string> r;
  for (const auto& w : toks) {
    auto it = m.find(w);
    // Values are parenthesised (precedence); types are not (`(float) [8]` is no type-id).
    bool value = it != m.end() && !it->second.empty() &&
                 (digit(it->second[0]) || it->second[0] == '-' || it->second[0] == '(');
    r.push_back(it == m.end() ? w : value ? "(" + it->second + ")" : it->second);
  }
  return r;
}

std::string Rewriter::concat(const std::vector<std::string>& toks) {
  std::string r;
  for (const auto& w : toks) r += (r.empty() ? "" : " ") + w;
  return r;
}

std::vector<std::string> Rewriter::tokens_of(const std::string& text) {
  std::vector<int> cols;
  std::vector<std::string> toks;
  lex_line(text, false, &cols, &toks);
  return toks;
}

void Rewriter::add_kernel(const KernelDef& def, const std::string& host, const std::string& expr,
                          const std::map<std::string, std::string>& subst, int line, int pre_col) {
  for (const auto& k : out_->kernels)
    if (k.host_name == host) {
      out_->errors.push_back({line, pre_col, "a kernel named '" + host + "' is already defined"});
      return;
    }
  RwKernel k;
  k.host_name = host;
  k.expr = expr;
  k.line = line;
  k.pre_col = pre_col;
  for (size_t p = 0; p < def.params.size(); ++p) {
    std::string attr, gate;
    uint32_t index = 0;
    for (const auto& a : def.params[p]) {
      if (a.name == "function_constant") {  // an optional binding: exists when the constant is true
        for (const auto& c : out_->constants)
          if (c.name == a.args) gate = "__mb_fcv_" + std::to_string(c.index);
        continue;
      }
      if (a.name == "buffer" || a.name == "threadgroup") {
        // A literal index is read here; any other constant expression (a constexpr name, a
        // template parameter) is clang's to evaluate (apply_kernel_facts).
        long v = -1;
        index =
            eval_int(a.args, &v) ? (v >= 0 && v < 31 ? (uint32_t)v : kBadIndex) : kUnresolvedIndex;
        attr = a.name;
      } else if (is_position_attribute(a.name)) {
        attr = a.name;
      } else {
        out_->errors.push_back({def.line, def.pre_col,
                                "kernel '" + host + "': parameter " + std::to_string(p + 1) +
                                    " has attribute [[" + a.name +
                                    "]], which the CPU backend does not support"});
        return;
      }
    }
    k.param_attrs.push_back(attr);
    k.param_index.push_back(index);
    k.param_constant.push_back(p < def.param_constant.size() && def.param_constant[p]);
    k.param_gate.push_back(gate);
  }
  // Function constants its instantiation names (template arguments) and the conditions of its
  // optional bindings. What its code reads, and whether it reaches a barrier or collective, is
  // clang's to say (msl_ast.h KernelFacts; compiler.cpp completes both from the facts pass).
  {
    std::set<std::string> names;
    for (const auto& [param, value] : subst) names.insert(value);
    for (const auto& attrs : def.params)
      for (const auto& a : attrs)
        if (a.name == "function_constant") names.insert(a.args);
    for (const auto& c : out_->constants)
      if (names.count(c.name)) k.constants.push_back(c.index);
  }
  // A template parameter the instantiation does not spell (a default, or deduced from the
  // parameter types) has no value here: such an expression is left out.
  auto resolved = [&](const std::vector<std::string>& toks) {
    for (const auto& w : toks)
      if (std::find(def.tparams.begin(), def.tparams.end(), w) != def.tparams.end()) return false;
    return portable(toks);
  };
  auto it = tg_vars_.find(def.name);
  if (it != tg_vars_.end())
    for (const auto& v : it->second) {
      auto toks = substitute(v.tokens, subst);
      if (resolved(tokens_of(concat(toks)))) k.tg_sizes.push_back(concat(toks));
    }
  if (!def.max_threads.empty()) {
    auto toks = substitute(tokens_of(def.max_threads), subst);
    if (resolved(toks)) k.max_threads_expr = concat(toks);
  }
  out_->kernels.push_back(k);
}

void Rewriter::build_kernels() {
  for (const auto& d : kernel_defs_)
    if (!d.is_template) add_kernel(d, d.name, d.qualified, {}, d.line, d.pre_col);
  for (const auto& inst : instances_) {
    const KernelDef* def = nullptr;
    for (const auto& d : kernel_defs_)
      if (d.is_template && d.name == inst.tmpl_name) def = &d;
    if (!def) {
      out_->errors.push_back({inst.line, inst.pre_col,
                              "'" + inst.host_name + "' instantiates '" + inst.tmpl_name +
                                  "', which is not a kernel template"});
      continue;
    }
    std::map<std::string, std::string> subst;
    for (size_t a = 0; a < def->tparams.size() && a < inst.targs.size(); ++a)
      subst[def->tparams[a]] = inst.targs[a];
    add_kernel(*def, inst.host_name, inst.expr, subst, inst.line, inst.pre_col);
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
