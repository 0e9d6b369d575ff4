// msl_space_variants.cpp — declarations that differ only in address space (see msl_rewriter.h).
#include "msl_rewriter.h"

#include <algorithm>

#include "../metal_bridge.h"
#include "msl_vocabulary.h"
#include "sorted_map.h"

namespace mbcpu {
namespace msl {

bool Rewriter::address_space_word(const std::string& w) {
  return w == "thread" || w == "device" || w == "constant" || w == "threadgroup" ||
         w == "threadgroup_imageblock" || w == "ray_data" || w == "object_data";
}

// A `{` that opens a namespace or a class body (declarations inside, not statements).
bool Rewriter::declaration_scope_brace(long b) const {
  if (b < 0) return true;
  for (long k = b - 1; k >= 0 && !is((size_t)k, ";") && !is((size_t)k, "{") && !is((size_t)k, "}");
       --k) {
    if (is((size_t)k, "(") || is((size_t)k, ")") || is((size_t)k, "=")) return false;
    if (is((size_t)k, "struct") || is((size_t)k, "class") || is((size_t)k, "union") ||
        is((size_t)k, "namespace"))
      return true;
  }
  return false;
}

// Functions that differ only in address spaces (`S() thread = default; S() device = default;`,
// `f(device float*)` beside `f(threadgroup float*)`) collide once the address spaces are erased.
// On the CPU one memory serves every space, so the variant for `thread` (or the first) is kept
// and the others are blanked. Variants that differ otherwise (types, constness) stay overloads.
void Rewriter::address_space_variants() {
  struct Variant {
    std::string spaces;
    size_t begin, end;
    bool member;  // a member function of a class (not a free function, not a specialisation)
  };
  SortedMap<std::string, Vec<Variant>> groups;
  // Per class body (its `{`): its constructors, and whether each is `NAME() [space] = default;`.
  struct Ctor {
    bool defaulted;
    size_t begin, end;
  };
  SortedMap<size_t, Vec<Ctor>> ctors;
  Vec<long> enclosing(t_.size(), -1);
  Vec<long> stack;
  for (size_t i = 0; i < t_.size(); ++i) {
    enclosing[i] = stack.empty() ? -1 : stack.back();
    if (is(i, "{"))
      stack.push_back((long)i);
    else if (is(i, "}") && !stack.empty())
      stack.pop_back();
  }
  for (size_t i = 0; i < t_.size(); ++i) {
    if (!is(i, ")") || match_[i] < 0 || line(i) == 0) continue;
    size_t open = (size_t)match_[i];
    if (open == 0) continue;
    size_t name = open - 1;
    std::string fname;
    const bool op_angle = is(name, ">") && ((name >= 1 && is(name - 1, "operator")) ||
                                            (name >= 2 && is(name - 2, "operator")));
    if (is(name, ">") &&
        !op_angle) {  // a constructor spelled with its template arguments: `S<T>() device`
      long lt = (long)name;
      for (int depth = 0; lt >= 0; --lt) {
        if (is((size_t)lt, ">")) ++depth;
        if (is((size_t)lt, "<") && --depth == 0) break;
      }
      if (lt < 1 || t_[(size_t)lt - 1].kind != IDENT) continue;
      for (size_t k = (size_t)lt - 1; k <= name; ++k) fname += txt(k);
      name = (size_t)lt - 1;
    } else if (t_[name].kind == IDENT) {
      fname = txt(name);
    } else if (t_[name].kind == PUNCT) {  // operator+= and friends (lexed one character at a time)
      size_t k = name;
      std::string op;
      while (k > 0 && t_[k].kind == PUNCT && name - k < 3) op = txt(k--) + op;
      if (!is(k, "operator")) continue;
      fname = "operator" + op;  // also operator(): `operator ( ) (`
      name = k;
    } else {
      continue;
    }
    if (fname == "if" || fname == "for" || fname == "while" || fname == "switch" ||
        fname == "return" || fname == "sizeof" || fname == "decltype" || fname == "alignas" ||
        fname == "static_assert")
      continue;
    if (!declaration_scope_brace(enclosing[i])) continue;
    // Trailing qualifiers: const / volatile / an address space, then = { ; : noexcept ->.
    std::string spaces, key_quals;
    Vec<size_t> this_spaces;
    size_t q = i + 1;
    while (q < t_.size() && (is(q, "const") || is(q, "volatile") || address_space_word(txt(q)))) {
      if (address_space_word(txt(q))) {
        spaces += " this:" + txt(q);
        this_spaces.push_back(q);
      } else {
        key_quals += " " + txt(q);
      }
      ++q;
    }
    if (!(is(q, "=") || is(q, "{") || is(q, ";") || is(q, ":") || is(q, "noexcept") || is(q, "->")))
      continue;
    // Parameters with their address spaces taken out (the spaces are what may differ).
    std::string params = erase_spaces(open + 1, i, &spaces);
    // The declaration's extent: back to the previous declaration, on to its `;` or body.
    long b = (long)name - 1;
    while (b >= 0 && !is((size_t)b, ";") && !is((size_t)b, "{") && !is((size_t)b, "}") &&
           !(is((size_t)b, ":") && b > 0 &&
             (is((size_t)b - 1, "public") || is((size_t)b - 1, "private") ||
              is((size_t)b - 1, "protected")))) {
      if ((is((size_t)b, "]") || is((size_t)b, ")")) && match_[(size_t)b] >= 0)
        b = match_[(size_t)b];
      --b;
    }
    size_t end = q;
    if (is(q, "=")) {
      while (end < t_.size() && !is(end, ";")) ++end;
    } else if (!is(q, ";")) {
      while (end < t_.size() && !is(end, ";")) {
        if (is(end, "(") && match_[end] >= 0) {
          end = (size_t)match_[end] + 1;
          continue;
        }
        // A constructor's member initialisers `: a(x), b{y}` come before the body.
        if (is(end, "{") && match_[end] >= 0) {
          bool initialiser = end > 0 && t_[end - 1].kind == IDENT && !is(end - 1, "const") &&
                             !is(end - 1, "noexcept") && !address_space_word(txt(end - 1)) &&
                             is(q, ":");
          if (!initialiser) {
            end = (size_t)match_[end];
            break;
          }
          end = (size_t)match_[end] + 1;
          continue;
        }
        ++end;
      }
    }
    if (end >= t_.size()) continue;
    std::string cls = class_name(enclosing[i]);
    groups[std::to_string(enclosing[i]) + " " + fname + "(" + params + ")" + key_quals].push_back(
        {spaces, (size_t)(b + 1), end, !cls.empty()});
    // The check's C++ has no member functions qualified by a space (clang refuses them outside
    // OpenCL): the qualifier goes (`constant` leaves `const`), and calls on objects in other
    // spaces are left to code generation, where one memory serves every space.
    if (check_ && !cls.empty())
      for (size_t k : this_spaces) {
        edit(t_[k].pos, t_[k].len, is(k, "constant") ? "const" : "");
        handled_[k] = true;
      }
    if (!cls.empty() && (fname == cls || fname.rfind(cls + "<", 0) == 0))
      ctors[(size_t)enclosing[i]].push_back(
          {params.empty() && is(q, "=") && is(q + 1, "default"), (size_t)(b + 1), end});
  }
  // Partial specialisations by address space: `template <class T> struct P<device T*>` beside
  // `struct P<thread T*>`.
  for (size_t i = 0; i + 2 < t_.size(); ++i) {
    if (!(is(i, "struct") || is(i, "class")) || t_[i + 1].kind != IDENT || !is(i + 2, "<") ||
        line(i) == 0)
      continue;
    size_t close = i + 2;
    for (int depth = 0; close < t_.size(); ++close) {
      if ((is(close, "(") || is(close, "[")) && match_[close] >= 0) {
        close = (size_t)match_[close];
        continue;
      }
      if (is(close, "<")) ++depth;
      if (is(close, ">") && --depth == 0) break;
      if (is(close, ";") || is(close, "{")) break;
    }
    if (close >= t_.size() || !is(close, ">")) continue;
    std::string spaces;
    std::string args = erase_spaces(i + 3, close, &spaces);
    if (spaces.empty()) continue;
    size_t end = close + 1;
    while (end < t_.size() && !is(end, "{") && !is(end, ";")) ++end;
    if (end >= t_.size()) continue;
    if (is(end, "{")) {
      if (match_[end] < 0) continue;
      end = (size_t)match_[end];
      if (is(end + 1, ";")) ++end;
    }
    size_t begin = i;
    if (i > 0 && is(i - 1, ">")) {  // its `template <...>` header
      long k = (long)i - 1;
      for (int depth = 0; k >= 0; --k) {
        if (is((size_t)k, ">")) ++depth;
        if (is((size_t)k, "<") && --depth == 0) break;
      }
      if (k >= 1 && is((size_t)k - 1, "template")) begin = (size_t)k - 1;
    }
    groups[std::to_string(enclosing[i]) + " struct " + txt(i + 1) + "<" + args + ">"].push_back(
        {spaces, begin, end, false});
  }
  for (const auto& [key, variants] : groups) {
    if (variants.size() < 2) continue;
    std::set<std::string> distinct;
    for (const auto& v : variants) distinct.insert(v.spaces);
    if (distinct.size() < 2) continue;
    // Keep the variant with the fewest non-thread spaces (the generic one), blank the others.
    auto weight = [](const std::string& sp) {
      int n = 0;
      for (size_t at = sp.find(':'); at != std::string::npos; at = sp.find(':', at + 1))
        if (sp.compare(at + 1, 6, "thread") != 0 || sp.compare(at + 1, 11, "threadgroup") == 0) ++n;
      return n;
    };
    size_t keep = 0;
    for (size_t v = 1; v < variants.size(); ++v)
      if (weight(variants[v].spaces) < weight(variants[keep].spaces)) keep = v;
    for (size_t v = 0; v < variants.size(); ++v) {
      if (v == keep || variants[v].spaces == variants[keep].spaces) continue;
      if (check_ && !variants[v].member) continue;  // the check keeps them: the spaces differ
      // Keeping one is only right when they all do the same thing: refuse variants that do
      // different things rather than run the wrong one.
      if (!check_ &&
          differs(variants[v].begin, variants[v].end, variants[keep].begin, variants[keep].end))
        error(variants[v].begin,
              "the CPU backend runs one of the declarations that differ only in address space "
              "(one memory serves every space), so they must do the same thing; this one "
              "differs from the one on line " +
                  std::to_string(line(variants[keep].begin)));
      blank(variants[v].begin, variants[v].end);
    }
  }
  // `S() = default;` (once per address space) as a class's only constructors: MSL follows
  // C++17, where such a class is still an aggregate (`return {0, 0};`); C++20 says it is not.
  // Without the declarations the implicit constructor is the same one, and the class stays an
  // aggregate under C++20 too.
  for (const auto& [brace, list] : ctors) {
    bool all_defaulted = true;
    for (const auto& c : list) all_defaulted &= c.defaulted;
    if (all_defaulted)
      for (const auto& c : list) blank(c.begin, c.end);
  }
}

// Whether two definitions [a, a_end] and [b, b_end] differ once their address spaces are taken
// out (a declaration without a body never does: it names one of the definitions).
bool Rewriter::differs(size_t a, size_t a_end, size_t b, size_t b_end) const {
  if (is(a_end, ";") && a_end > a && is(a_end - 1, "}")) --a_end;  // `struct P<...> {...};`
  if (is(b_end, ";") && b_end > b && is(b_end - 1, "}")) --b_end;
  if (!is(a_end, "}") || !is(b_end, "}")) return false;
  // `constant` and `const` taken out here: what a declaration does does not depend on them (a
  // constructor qualified `constant` beside one qualified `thread`, as MLX's complex_t has, or a
  // `constant float*` parameter beside a `thread const float*` one).
  std::string ignored;
  return erase_spaces(a, a_end + 1, &ignored, false) != erase_spaces(b, b_end + 1, &ignored, false);
}

// Tokens [a, b) with address spaces taken out (`constant` leaves `const`: it is read-only),
// joined; the spaces found are appended to `spaces` with their positions.
std::string Rewriter::erase_spaces(size_t a, size_t b, std::string* spaces,
                                   bool constant_is_const) const {
  Vec<std::string> out;
  for (size_t k = a; k < b; ++k) {
    const std::string w = txt(k);
    if (address_space_word(w)) {
      *spaces += " " + std::to_string(k - a) + ":" + w;
      if (constant_is_const && w == "constant" && (out.empty() || out.back() != "const"))
        out.push_back("const");
      continue;
    }
    if (w == "const" && (!constant_is_const || (!out.empty() && out.back() == "const"))) continue;
    out.push_back(w);
  }
  std::string r;
  for (const auto& w : out) r += " " + w;
  return r;
}

// `struct NAME ... {` -> NAME (empty for other braces).
std::string Rewriter::class_name(long brace) const {
  if (brace < 0) return "";
  for (long k = brace - 1;
       k >= 0 && !is((size_t)k, ";") && !is((size_t)k, "{") && !is((size_t)k, "}"); --k)
    if ((is((size_t)k, "struct") || is((size_t)k, "class") || is((size_t)k, "union")) &&
        (size_t)k + 1 < (size_t)brace && t_[(size_t)k + 1].kind == IDENT)
      return txt((size_t)k + 1);
  return "";
}

}  // namespace msl
}  // namespace mbcpu
