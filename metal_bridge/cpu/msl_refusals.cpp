// msl_refusals.cpp — what C++ accepts but Metal refuses and its spelling alone tells (keywords that
// always mean one thing, program-scope variables in a named address space), reported at the
// .metal line (see msl_rewriter.h). What needs clang's understanding of the code (lambdas,
// recursion, function pointers, mutable program-scope variables) is refused from its AST
// (msl_exclusions.h).
#include "msl_rewriter.h"

#include <algorithm>

#include "../metal_bridge.h"
#include "msl_vocabulary.h"

namespace mbcpu {
namespace msl {

// Keywords of what C++ accepts but Metal refuses: dynamic allocation, exceptions, goto, virtual,
// run-time type information, thread_local and register storage (`double` is refused by the token
// pass). Each is reported at its .metal line. (Inline assembly is refused by clang itself:
// sandbox.h's -fno-gnu-inline-asm.)
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
      }
      // `noexcept` is in the specification's list too, but Apple's compiler accepts it (MLX's
      // kernels use it), so it is accepted here as well.
    }
  }
  check_program_scope_variables();
}

// Metal has no mutable program-scope variables: one at namespace scope must be `constant`.
// Those spelled in another address space (`device`, `threadgroup`, `thread`) are refused here,
// naming it; any other that is not const is refused from clang's facts (msl_exclusions.h).
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
  for (size_t k = a; k < b; ++k) {
    if (is(k, "(") || is(k, "operator")) {
      return;  // a function declaration or a constructor call
    }
    if (is_attr_open(k) && match_[k] >= 0) {
      k = (size_t)match_[k];
      continue;
    }
    if (is(k, "{") && match_[k] >= 0) {
      k = (size_t)match_[k];
      continue;
    }
    if (is(k, "=")) break;
    const std::string w = txt(k);
    if (w == "device" || w == "threadgroup" || w == "thread") {
      error(k, "program-scope variables must be declared in the constant address space, not '" + w +
                   "'");
      return;
    }
  }
}

}  // namespace msl
}  // namespace mbcpu
