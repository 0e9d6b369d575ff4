// msl_refusals.cpp — what C++ accepts but Metal refuses, reported at the .metal line (see
// msl_rewriter.h); also the facts a sandbox check wants (SourceFacts).
#include "msl_rewriter.h"

#include <algorithm>
#include <functional>

#include "../metal_bridge.h"
#include "msl_vocabulary.h"

namespace mbcpu {
namespace msl {

// What C++ accepts but Metal refuses: recursion, dynamic allocation, exceptions, function
// pointers (`double` is refused by the token pass). Each is reported at its .metal line.
void Rewriter::check_metal_rules() {
  for (size_t i = 0; i < t_.size(); ++i) {
    if (line(i) == 0) continue;
    const std::string w = txt(i);
    if (t_[i].kind == IDENT) {
      if (w == "new" || (w == "delete" && !(i > 0 && is(i - 1, "=")))) {
        error(i, "'" + w + "': dynamic memory allocation is not supported in Metal");
      } else if ((w == "malloc" || w == "calloc" || w == "realloc" || w == "free" ||
                  w == "aligned_alloc") &&
                 is(i + 1, "(") && !fn_defs_.count(w) &&
                 !(i > 0 && (is(i - 1, ".") || is(i - 1, "->")))) {
        error(i, "'" + w + "': dynamic memory allocation is not supported in Metal");
      } else if (w == "throw" || w == "try" || w == "catch") {
        error(i, "'" + w + "': exceptions are not supported in Metal");
      } else if (w == "goto") {
        error(i, "'goto' is not supported in Metal");
      } else if (w == "virtual") {
        error(i, "virtual functions and virtual base classes are not supported in Metal");
      } else if (w == "dynamic_cast" || w == "typeid") {
        error(i, "'" + w + "': run-time type information is not supported in Metal");
      } else if (w == "thread_local" || w == "register") {
        error(i, "'" + w + "' storage is not supported in Metal");
      } else if (w == "asm" || w == "__asm__" || w == "__asm") {
        out_->facts.inline_asm.push_back({w, line(i)});
      }
      // `noexcept` is in the specification's list too, but Apple's compiler accepts it (MLX's
      // kernels use it), so it is accepted here as well.
      continue;
    }
    // A lambda: `[captures](...)` / `[captures]{` where an expression starts.
    if (is(i, "[") && !is(i + 1, "[") && !(i > 0 && is(i - 1, "[")) && match_[i] >= 0 && i > 0 &&
        ((t_[i - 1].kind == PUNCT && !is(i - 1, ")") && !is(i - 1, "]") && !is(i - 1, ">")) ||
         is(i - 1, "return"))) {
      size_t close = (size_t)match_[i];
      if (is(close + 1, "(") || is(close + 1, "{") || is(close + 1, "mutable") ||
          is(close + 1, "<")) {
        error(i, "lambda expressions are not supported in Metal");
        continue;
      }
    }
    // Function pointers: a declarator `T (*name)(...)` / `T (&name)(...)` (an address taken with
    // `&f` is not caught: telling it from `&variable` needs types). A template's non-type
    // parameter of function-pointer type is a compile-time constant, which Metal accepts.
    auto in_template_header = [&] {
      for (const auto& [a, b] : template_headers_)
        if (i > a && i < b) return true;
      return false;
    };
    if (is(i, "(") && (is(i + 1, "*") || is(i + 1, "&")) && i > 0 && !in_template_header() &&
        (t_[i - 1].kind == IDENT || is(i - 1, ">")) && !is(i - 1, "return") &&
        !is(i - 1, "sizeof") && !is(i - 1, "decltype")) {
      size_t k = i + 2;
      if (k < t_.size() && t_[k].kind == IDENT) ++k;
      if (is(k, ")") && is(k + 1, "(")) {
        error(i + 1, "function pointers are not supported in Metal");
        continue;
      }
    }
  }
  check_recursion();
  check_program_scope_variables();
}

// Metal has no mutable program-scope variables: one at namespace scope must be `constant`
// (const and constexpr are accepted too); `device`, `threadgroup` and `thread` are refused.
void Rewriter::check_program_scope_variables() {
  size_t stmt = 0;
  for (size_t k = 0; k < t_.size(); ++k) {
    if (is(k, "{")) {
      const bool ns = (k >= 1 && is(k - 1, "namespace")) ||
                      (k >= 2 && is(k - 2, "namespace") && t_[k - 1].kind == IDENT) ||
                      (k >= 1 && t_[k - 1].kind == STRING && k >= 2 && is(k - 2, "extern"));
      if (ns) {
        stmt = k + 1;
        continue;
      }
      if (match_[k] < 0) return;
      k = (size_t)match_[k];
      if (!is(k + 1, ";") && !is(k + 1, ",") && t_.size() > k + 1 && t_[k + 1].kind != IDENT)
        stmt = k + 1;
      else if (!is(k + 1, ";") && !is(k + 1, ",") && t_.size() > k + 1 && t_[k + 1].kind == IDENT) {
        // `struct S {...} s;` declares a variable; a function body is followed by a new
        // declaration.
        bool type_body = false;
        for (size_t q = stmt; q < (size_t)match_[k]; ++q)
          type_body |= is(q, "struct") || is(q, "class") || is(q, "union") || is(q, "enum");
        if (!type_body) stmt = k + 1;
      }
      continue;
    }
    if (is(k, "}")) {
      stmt = k + 1;
      continue;
    }
    if ((is(k, "(") || is(k, "[")) && match_[k] >= 0) {
      k = (size_t)match_[k];
      continue;
    }
    if (is(k, ";")) {
      program_scope_statement(stmt, k);
      stmt = k + 1;
    }
  }
}

void Rewriter::program_scope_statement(size_t a, size_t b) {
  if (a >= b || line(a) == 0) return;
  static const std::set<std::string> not_variables = {
      "typedef", "using", "template", "static_assert", "namespace", "friend", "enum",
      "struct",  "class", "union",    "extern",        "kernel",    "vertex", "fragment"};
  if (not_variables.count(txt(a)) && !is(a, "extern") && !is(a, "kernel")) return;
  bool readonly = false;
  for (size_t k = a; k < b; ++k) {
    if (is(k, "(") || is(k, "operator")) {
      // A function declaration (facts: is it ever defined?) or a constructor call.
      if (is(k, "(") && k > a && t_[k - 1].kind == IDENT && !fn_defs_.count(txt(k - 1)))
        out_->facts.undefined_functions.push_back({txt(k - 1), line(k - 1)});
      return;
    }
    if (is_attr_open(k) && match_[k] >= 0) {
      k = (size_t)match_[k];
      continue;
    }
    if (is(k, "{") && match_[k] >= 0) {
      k = (size_t)match_[k];
      continue;
    }
    if (is(k, "=")) {
      for (size_t q = k + 1; q < b; ++q)
        if (is(q, "(") && t_[q - 1].kind == IDENT) {
          out_->facts.program_scope_calls.push_back({txt(q - 1), line(q - 1)});
          break;
        }
      break;
    }
    const std::string w = txt(k);
    readonly |= w == "constant" || w == "const" || w == "constexpr";
    if (w == "device" || w == "threadgroup" || w == "thread") {
      error(k, "program-scope variables must be declared in the constant address space, not '" + w +
                   "'");
      return;
    }
  }
  if (!readonly)
    error(a,
          "program-scope variables must be declared in the constant address space (Metal has no "
          "mutable "
          "program-scope variables)");
}

// A cycle in the call graph. Calls are matched to definitions by name and argument count;
// names with several definitions (overloads, specialisations) and calls with explicit
// template arguments (compile-time recursion) are left out, so nothing legal is refused.
void Rewriter::check_recursion() {
  std::map<std::string, std::vector<const Call*>> edges;
  for (const auto& [fn, calls] : calls_) {
    auto d = fn_defs_.find(fn);
    if (d == fn_defs_.end() || d->second.size() != 1) continue;
    for (const auto& c : calls) {
      auto t = fn_defs_.find(c.callee);
      if (t == fn_defs_.end() || t->second.size() != 1) continue;
      if (c.args < t->second[0].min_args || c.args > t->second[0].max_args) continue;
      edges[fn].push_back(&c);
    }
  }
  std::set<std::string> reported;
  for (const auto& [start, first_calls] : edges) {
    // Shortest path from `start` back to itself (breadth first).
    std::map<std::string, std::pair<std::string, const Call*>> prev;
    std::vector<std::string> queue = {start};
    const Call* closing = nullptr;
    std::string last;
    for (size_t q = 0; q < queue.size() && !closing; ++q) {
      auto e = edges.find(queue[q]);
      if (e == edges.end()) continue;
      for (const Call* c : e->second) {
        if (c->callee == start) {
          closing = c;
          last = queue[q];
          break;
        }
        if (!prev.count(c->callee)) {
          prev[c->callee] = {queue[q], c};
          queue.push_back(c->callee);
        }
      }
    }
    if (!closing) continue;
    std::vector<std::string> cycle = {start};
    for (std::string f = last; f != start; f = prev[f].first) cycle.insert(cycle.begin() + 1, f);
    std::set<std::string> members(cycle.begin(), cycle.end());
    bool seen = false;
    for (const auto& m : members) seen |= reported.count(m) > 0;
    if (seen) continue;
    reported.insert(members.begin(), members.end());
    // Report at the call in `start` that begins the cycle.
    const Call* at = closing;
    if (cycle.size() > 1)
      for (const Call* c : edges[start])
        if (c->callee == cycle[1]) {
          at = c;
          break;
        }
    std::string path;
    for (const auto& f : cycle) path += "'" + f + "' -> ";
    path += "'" + start + "'";
    error(at->tok, cycle.size() == 1
                       ? "recursion is not supported in Metal: '" + start + "' calls itself"
                       : "recursion is not supported in Metal: " + path);
  }
}

}  // namespace msl
}  // namespace mbcpu
