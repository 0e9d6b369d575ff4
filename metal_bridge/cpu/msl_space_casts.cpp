// msl_space_casts.cpp — for the address-space check only (msl_address_spaces.h): C-style casts
// that name an address space go through ::metal::__mb_as_cast, which refuses a change of space
// as Metal does (see msl_rewriter.h).
#include "msl_rewriter.h"

namespace mbcpu {
namespace msl {

// A C-style cast to a pointer type naming an address space, `(device float4*)p`, becomes
// `::metal::__mb_as_cast<device float4*>(p)`, which refuses a change of space (clang's
// C-style cast would accept it; Metal refuses it). Casts without a space word are left alone.
void Rewriter::address_space_casts() {
  for (size_t i = 0; i + 1 < t_.size(); ++i) {
    if (!is(i, "(") || match_[i] < 0 || line(i) == 0 || handled_[i]) continue;
    size_t close = (size_t)match_[i];
    if (close < i + 3 || !is(close - 1, "*")) continue;
    // Preceded by a name, `)` or `]`, the parentheses are a call or a declarator.
    if (i > 0 && (t_[i - 1].kind == IDENT || t_[i - 1].kind == NUMBER || is(i - 1, ")") ||
                  is(i - 1, "]") || is(i - 1, ">")))
      if (!(is(i - 1, "return") || is(i - 1, "case"))) continue;
    bool type = true, space = false;
    for (size_t k = i + 1; k < close && type; ++k) {
      space |= address_space_word(txt(k));
      type = t_[k].kind == IDENT || is(k, "*") || is(k, "::") || is(k, "<") || is(k, ">") ||
             is(k, ",") || t_[k].kind == NUMBER;
    }
    if (!type || !space) continue;
    size_t end = cast_operand_end(close + 1);
    if (end == 0) continue;
    edit(t_[i].pos, 1, "::metal::__mb_as_cast<");
    edit(t_[close].pos, 1, ">(");
    edit(t_[end].pos + t_[end].len, 0, ")");
  }
}

// The last token of the operand of a cast that starts at token k (a unary expression:
// prefix operators, then a primary with its postfix operators), or 0 when it is not one.
size_t Rewriter::cast_operand_end(size_t k) const {
  while (k < t_.size() &&
         (is(k, "&") || is(k, "*") || is(k, "-") || is(k, "+") || is(k, "!") || is(k, "~")))
    ++k;
  if (k >= t_.size()) return 0;
  size_t last;
  if (is(k, "(") && match_[k] >= 0) {
    last = (size_t)match_[k];
    // `(T*)(U*)x`: a cast of a cast.
    size_t inner = last + 1 < t_.size() ? cast_operand_end_if_cast(k) : 0;
    if (inner) return inner;
  } else if (t_[k].kind == IDENT || t_[k].kind == NUMBER) {
    last = k;
    while (is(last + 1, "::") && last + 2 < t_.size() && t_[last + 2].kind == IDENT) last += 2;
  } else {
    return 0;
  }
  for (;;) {
    size_t n = last + 1;
    if (n >= t_.size()) break;
    if ((is(n, "[") || is(n, "(")) && match_[n] >= 0) {
      last = (size_t)match_[n];
    } else if ((is(n, ".") || is(n, "->")) && n + 1 < t_.size() && t_[n + 1].kind == IDENT) {
      last = n + 1;
    } else if ((is(n, "+") && is(n + 1, "+")) || (is(n, "-") && is(n + 1, "-"))) {
      last = n + 1;
    } else {
      break;
    }
  }
  return last;
}

// When the parentheses at k hold a type followed by an operand, the operand's last token.
size_t Rewriter::cast_operand_end_if_cast(size_t k) const {
  size_t close = (size_t)match_[k];
  if (!is(close - 1, "*") && !is(close - 1, "&")) return 0;
  for (size_t q = k + 1; q < close; ++q)
    if (!(t_[q].kind == IDENT || is(q, "*") || is(q, "&") || is(q, "::") || is(q, "<") ||
          is(q, ">") || is(q, ",")))
      return 0;
  size_t n = close + 1;
  if (n >= t_.size() ||
      !(t_[n].kind == IDENT || t_[n].kind == NUMBER || is(n, "(") || is(n, "&") || is(n, "*")))
    return 0;
  return cast_operand_end(n);
}

}  // namespace msl
}  // namespace mbcpu
