// msl_expressions.cpp — the token pass (see msl_rewriter.h): context-free rewrites of
// expressions whose meaning differs between MSL and C++ (vector constructors and casts,
// comparisons, floating literals, `double`).
#include "msl_rewriter.h"

#include <algorithm>

#include "../metal_bridge.h"
#include "msl_vocabulary.h"

namespace mbcpu {
namespace msl {

// Names declared as aliases of vector types (`typedef vec<T, 4> T4;`, `using out4 = half4;`):
// their functional casts `T4(x)` need the value-converting constructor too.
std::set<std::string> Rewriter::vector_aliases() const {
  std::set<std::string> names;
  for (size_t i = 0; i < t_.size(); ++i) {
    bool td = is(i, "typedef"),
         us = is(i, "using") && i + 2 < t_.size() && t_[i + 1].kind == IDENT && is(i + 2, "=");
    if (!td && !us) continue;
    size_t end = i + 1;
    while (end < t_.size() && !is(end, ";") && !is(end, "{") && !is(end, "}")) ++end;
    if (end >= t_.size() || !is(end, ";")) continue;
    bool vector = false;
    for (size_t k = i + 1; k < end; ++k)
      vector |= vector_type_names().count(txt(k)) > 0 || is(k, "vec");
    if (!vector) continue;
    if (us)
      names.insert(txt(i + 1));
    else if (t_[end - 1].kind == IDENT)
      names.insert(txt(end - 1));
  }
  for (const auto& n : vector_type_names()) names.erase(n);
  return names;
}

// Tokens that can begin the operand of a cast.
bool Rewriter::starts_operand(size_t k) const {
  if (k >= t_.size()) return false;
  if (t_[k].kind == IDENT) return true;
  if (t_[k].kind == NUMBER) return true;
  return is(k, "(") || is(k, "-") || is(k, "+") || is(k, "!") || is(k, "~") || is(k, "*") ||
         is(k, "&");
}

// The last token of the unary expression (a cast's operand) starting at k, or -1.
long Rewriter::operand_end(size_t k) const {
  const size_t n = t_.size();
  while (k < n &&
         (is(k, "-") || is(k, "+") || is(k, "!") || is(k, "~") || is(k, "*") || is(k, "&")))
    ++k;
  if (k >= n) return -1;
  size_t last;
  if (is(k, "(")) {
    if (match_[k] < 0) return -1;
    size_t m = (size_t)match_[k];
    if (m == k + 2 && t_[k + 1].kind == IDENT && builtin_type_word(txt(k + 1)) &&
        starts_operand(m + 1))
      return operand_end(m + 1);  // a nested cast: (float4)(half4)x
    last = m;
  } else if (t_[k].kind == IDENT || t_[k].kind == NUMBER || t_[k].kind == STRING) {
    last = k;
    while (t_[last].kind == IDENT) {
      if (is(last + 1, "::") && last + 2 < n && t_[last + 2].kind == IDENT) {
        last += 2;
        continue;
      }
      if (is(last + 1, "<")) {  // template arguments, when a call or scope follows them
        size_t c = last + 1;
        int depth = 0;
        for (; c < n && c < last + 64; ++c) {
          if ((is(c, "(") || is(c, "[")) && match_[c] >= 0) {
            c = (size_t)match_[c];
            continue;
          }
          if (is(c, "<")) ++depth;
          if (is(c, ">") && --depth == 0) break;
          if (is(c, ";") || is(c, "{") || is(c, "}")) {
            c = n;
            break;
          }
        }
        if (c < n && is(c, ">") && (is(c + 1, "(") || is(c + 1, "::") || is(c + 1, "{"))) {
          last = c;
          if (is(last + 1, "::") && last + 2 < n && t_[last + 2].kind == IDENT) {
            last += 2;
            continue;
          }
        }
      }
      break;
    }
  } else {
    return -1;
  }
  while (true) {
    if ((is(last + 1, "(") || is(last + 1, "[") || is(last + 1, "{")) && match_[last + 1] >= 0) {
      last = (size_t)match_[last + 1];
      continue;
    }
    if ((is(last + 1, ".") || is(last + 1, "->")) && last + 2 < n && t_[last + 2].kind == IDENT) {
      last += 2;
      continue;
    }
    break;
  }
  return (long)last;
}

// `(float4)x`: a value conversion in MSL, a bitcast (or a size error) in clang. Rewritten to
// ::metal::__mb_cast<float4>(x); the closing parenthesis goes into `late` so it lands after
// any rewrite at the operand's end (a float literal's suffix).
bool Rewriter::vector_c_cast(size_t i, const std::set<std::string>& aliases, Vec<EditRec>* late) {
  if (!is(i, "(") || i + 3 >= t_.size() || !is(i + 2, ")") || t_[i + 1].kind != IDENT) return false;
  const std::string type = txt(i + 1);
  // half <-> bfloat has no direct conversion in clang; __mb_cast goes through float.
  // A template parameter may stand for a vector type (`(type4)(*src)` with type4 = half4).
  if (!vector_type_names().count(type) && !aliases.count(type) && type != "half" &&
      type != "bfloat" && !template_param_names_.count(type))
    return false;
  if (i > 0) {
    const bool expr_keyword =
        is(i - 1, "return") || is(i - 1, "case") || is(i - 1, "else") || is(i - 1, "do");
    if ((t_[i - 1].kind == IDENT && !expr_keyword) || t_[i - 1].kind == NUMBER || is(i - 1, ")") ||
        is(i - 1, "]"))
      return false;
  }
  if (!starts_operand(i + 3)) return false;
  long end = operand_end(i + 3);
  if (end < 0) return false;
  edit(t_[i].pos, t_[i + 2].pos + 1 - t_[i].pos, "::metal::__mb_cast<" + type + ">(");
  handled_[i] = handled_[i + 1] = handled_[i + 2] = true;
  late->push_back({t_[(size_t)end].pos + t_[(size_t)end].len, 0, ")"});
  return true;
}

// `float4(a > b)`: a comparison of vectors is an int vector of -1/0 in clang, a bool vector in
// MSL (true converts to 1). A constructor whose one argument is a comparison gets it through
// ::metal::__mb_truth, which turns an int vector into a bool vector.
void Rewriter::wrap_comparison(size_t open, Vec<EditRec>* late) {
  if (!is(open, "(") || match_[open] < 0) return;
  size_t close = (size_t)match_[open];
  bool comparison = false, angle_open = false, angle_close = false;
  for (size_t k = open + 1; k < close; ++k) {
    if ((is(k, "(") || is(k, "[") || is(k, "{")) && match_[k] >= 0) {
      k = (size_t)match_[k];
      continue;
    }
    if (is(k, ",") || is(k, "?")) return;  // several arguments, or a conditional: left alone
    const bool shift = (is(k, "<") && (is(k + 1, "<") || is(k - 1, "<"))) ||
                       (is(k, ">") && (is(k + 1, ">") || is(k - 1, ">")));
    if (is(k, "<") && !shift) angle_open = comparison = true;
    if (is(k, ">") && !shift && !is(k - 1, "-")) angle_close = comparison = true;
    if ((is(k, "=") || is(k, "!")) && is(k + 1, "=")) comparison = true;
  }
  if (!comparison || (angle_open && angle_close)) return;  // `<` with `>`: template arguments
  edit(t_[open].pos + 1, 0, "::metal::__mb_truth(");
  late->push_back({t_[close].pos, 0, ")"});
}

// A braced list that is a call's argument: `{` right after `(` or `,` of an open `(` whose
// list holds no statement.
bool Rewriter::braced_argument(size_t i) const {
  if (!is(i, "{") || i == 0 || !(is(i - 1, "(") || is(i - 1, ",")) || match_[i] < 0) return false;
  for (size_t k = i + 1; k < (size_t)match_[i]; ++k)
    if (is(k, ";")) return false;
  for (size_t k = i; k-- > 0;) {
    if ((is(k, ")") || is(k, "]") || is(k, "}")) && match_[k] >= 0) {
      k = (size_t)match_[k];
      continue;
    }
    if (is(k, "(")) return k > 0 && (t_[k - 1].kind == IDENT || is(k - 1, ">"));
    if (is(k, "[") || is(k, "{") || is(k, ";")) return false;
  }
  return false;
}

void Rewriter::token_pass() {
  const std::set<std::string> aliases = vector_aliases();
  Vec<EditRec> late;
  for (size_t i = 0; i < t_.size(); ++i) {
    if (handled_[i]) continue;
    const Tok& tk = t_[i];
    if (vector_c_cast(i, aliases, &late)) continue;
    if (vector_direct_inits_.count(i)) {
      edit(tk.pos + tk.len, 0, " = ::metal::__mb_make<::metal::" + txt(i - 1) + ">");
      continue;
    }
    if (tk.kind == NUMBER) {
      std::string w = txt(i);
      if (!is_floating_literal(w)) continue;
      char last = w.back();
      if (last == 'h' || last == 'H')
        edit(tk.pos + tk.len - 1, 1, "f16");
      else if (last != 'f' && last != 'F' && last != 'l' && last != 'L')
        edit(tk.pos + tk.len, 0, "f");
      continue;
    }
    if (braced_argument(i)) {
      // `f({a, b, c}, ...)` for a vector parameter: clang cannot convert a braced list to an
      // ext_vector parameter (it can in initialisations), so the list becomes an object that
      // converts to whatever the parameter is (T{a, b, c}).
      edit(tk.pos, 1, "::metal::__mb_braced(");
      late.push_back({t_[(size_t)match_[i]].pos, 1, ")"});
      continue;
    }
    if (tk.kind != IDENT) continue;
    std::string w = txt(i);
    if (w == "double") error(i, "'double' is not supported in Metal");
    if (vector_type_names().count(w) && is(i + 1, "(") &&
        !(i > 0 && (is(i - 1, "operator") || is(i - 1, ".") || is(i - 1, "->")))) {
      if (i > 0 && is(i - 1, "::")) {
        if (i > 1 && is(i - 2, "metal")) edit(tk.pos, tk.len, "__mb_make<::metal::" + w + ">");
      } else {
        edit(tk.pos, tk.len, "::metal::__mb_make<::metal::" + w + ">");
      }
      wrap_comparison(i + 1, &late);
    } else if (template_param_names_.count(w) && is(i + 1, "(") && i > 0 &&
               (t_[i - 1].kind == PUNCT || is(i - 1, "return") || is(i - 1, "case")) &&
               !(is(i - 1, "::") || is(i - 1, ".") || is(i - 1, "->") || is(i - 1, "~") ||
                 is(i - 1, ">") || is(i - 1, "<") || is(i - 1, "*") || is(i - 1, "&") ||
                 is(i - 1, "}") || is(i - 1, ";") || is(i - 1, "{") || is(i - 1, ")"))) {
      // `T(x)` with a template type parameter that may be a vector: MSL converts the value.
      // (After `;`, `{`, `}` or `)` it may begin a declaration, after `*`/`&` it may be one.)
      edit(tk.pos, tk.len, "::metal::__mb_make<" + w + ">");
      wrap_comparison(i + 1, &late);
    } else if (aliases.count(w) && is(i + 1, "(") &&
               !(i > 0 && (is(i - 1, "operator") || is(i - 1, ".") || is(i - 1, "->") ||
                           is(i - 1, "::") || is(i - 1, "typedef") || is(i - 1, "using")))) {
      edit(tk.pos, tk.len, "::metal::__mb_make<" + w + ">");
      wrap_comparison(i + 1, &late);
    } else if (w == "vec" && is(i + 1, "<") &&
               !(i > 0 && (is(i - 1, ".") || is(i - 1, "->") || is(i - 1, "operator")))) {
      // vec<T, N>(...): the same value-converting constructor as float4(...).
      size_t close = i + 1;
      for (int depth = 0; close < t_.size(); ++close) {
        if (is(close, "(") && match_[close] >= 0) {
          close = (size_t)match_[close];
          continue;
        }
        if (is(close, "<")) ++depth;
        if (is(close, ">") && --depth == 0) break;
        if (is(close, ";") || is(close, "{")) break;
      }
      if (close < t_.size() && is(close, ">") && is(close + 1, "(")) {
        bool qualified = i > 0 && is(i - 1, "::");
        if (!qualified || (i > 1 && is(i - 2, "metal"))) {
          edit(tk.pos, tk.len,
               qualified ? "__mb_make<::metal::vec" : "::metal::__mb_make<::metal::vec");
          edit(t_[close].pos + 1, 0, ">");
        }
      }
    } else if (w == "static_cast" && is(i + 1, "<") && is(i + 3, ">") && t_[i + 2].kind == IDENT &&
               is(i + 4, "(") &&
               (vector_type_names().count(txt(i + 2)) || !builtin_type_word(txt(i + 2)) ||
                txt(i + 2) == "half" || txt(i + 2) == "bfloat")) {
      // A vector type, half/bfloat, or a name that may stand for one (a template parameter,
      // an alias): MSL converts values where clang would bitcast or refuse.
      edit(tk.pos, tk.len, "::metal::__mb_cast");
    }
  }
  for (auto& e : late) edits_.push_back(std::move(e));
}

}  // namespace msl
}  // namespace mbcpu
