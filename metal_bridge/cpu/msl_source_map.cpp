// msl_source_map.cpp — where every token of the preprocessed text lives in the .metal source:
// lexing with line markers, bracket matching, applying the recorded edits, and mapping
// clang's columns (in the rewritten text) back to the source (see msl_rewriter.h).
#include "msl_rewriter.h"

#include <algorithm>

#include "../metal_bridge.h"
#include "msl_vocabulary.h"

namespace mbcpu {
namespace msl {

void Rewriter::lex() {
  line_start_.push_back(0);
  for (size_t i = 0; i < s_.size(); ++i)
    if (s_[i] == '\n') line_start_.push_back(i + 1);
  src_line_.assign(line_start_.size(), 0);
  int cur_line = 0;
  bool cur_main = false;
  for (size_t ln = 0; ln < line_start_.size(); ++ln) {
    size_t b = line_start_[ln];
    size_t e = ln + 1 < line_start_.size() ? line_start_[ln + 1] - 1 : s_.size();
    size_t i = b;
    while (i < e && (s_[i] == ' ' || s_[i] == '\t')) ++i;
    // A line marker sets the line of the next one; any other directive (`#pragma unroll`) is a
    // line of the source like the others, as clang counts it.
    if (i < e && s_[i] == '#' && directive(ln, i, e, &cur_line, &cur_main)) continue;
    const bool directive_line = i < e && s_[i] == '#';
    src_line_[ln] = cur_main ? cur_line : 0;
    if (cur_main && !out_->text_line_of.count(cur_line)) out_->text_line_of[cur_line] = (int)ln;
    ++cur_line;
    if (directive_line) continue;  // its tokens are not the program's
    while (i < e) {
      char c = s_[i];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        ++i;
        continue;
      }
      Kind k;
      size_t n = lex_one(s_, i, &k);
      if (i + n > e) n = e - i;
      t_.push_back({k, i, n, (int)ln});
      i += n;
    }
  }
  handled_.assign(t_.size(), false);
}

// `# N "file" flags` markers set the .metal line of the following lines; "<stdin>" is renamed.
// Returns whether the line was such a marker.
bool Rewriter::directive(size_t ln, size_t i, size_t e, int* cur_line, bool* cur_main) {
  size_t j = i + 1;
  while (j < e && s_[j] == ' ') ++j;
  if (s_.compare(j, 6, "pragma") == 0) {
    // A loop hint whose count names a macro (`#pragma unroll(MIN(N, 4))`): clang -E leaves
    // pragma arguments unexpanded and the macro is gone by the compile, so the hint goes (it
    // only ever tunes speed). Hints with literal counts stay.
    std::string rest = s_.substr(j + 6, e - j - 6);
    size_t open = rest.find('(');
    if ((rest.find("unroll") != std::string::npos ||
         rest.find("clang loop") != std::string::npos) &&
        open != std::string::npos) {
      for (size_t k = open; k < rest.size(); ++k) {
        if (!ident_start(rest[k]) || (k > 0 && ident_char(rest[k - 1]))) continue;
        size_t end = k;
        while (end < rest.size() && ident_char(rest[end])) ++end;
        std::string word = rest.substr(k, end - k);
        if (word != "full" && word != "enable" && word != "disable" && word != "assume_safety") {
          edit(i, e - i, std::string(e - i, ' '));
          break;
        }
        k = end;
      }
    }
    return false;
  }
  if (s_.compare(j, 4, "line") == 0) j += 4;
  while (j < e && s_[j] == ' ') ++j;
  if (j >= e || !digit(s_[j])) return false;  // other directives: kept as they are
  int n = atoi(s_.c_str() + j);
  size_t q = s_.find('"', j);
  if (q == std::string::npos || q >= e) return false;
  size_t q2 = s_.find('"', q + 1);
  std::string file = s_.substr(q + 1, q2 - q - 1);
  *cur_main = file == "<stdin>";
  *cur_line = n;
  if (*cur_main) edit(q, q2 - q + 1, std::string("\"") + kSourceFile + "\"");
  (void)ln;
  return true;
}

void Rewriter::match_brackets() {
  match_.assign(t_.size(), -1);
  Vec<size_t> st;
  for (size_t i = 0; i < t_.size(); ++i) {
    if (t_[i].kind != PUNCT || t_[i].len != 1) continue;
    char c = s_[t_[i].pos];
    if (c == '(' || c == '[' || c == '{')
      st.push_back(i);
    else if (c == ')' || c == ']' || c == '}') {
      char open = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (!st.empty() && s_[t_[st.back()].pos] == open) {
        match_[i] = (long)st.back();
        match_[st.back()] = (long)i;
        st.pop_back();
      }
    }
  }
}

void Rewriter::apply_edits() {
  // Sorted by position; at one position, in the order made (insertions before replacements).
  for (size_t k = 0; k < edits_.size(); ++k) edits_[k].seq = k;
  std::sort(edits_.begin(), edits_.end(), [](const EditRec& a, const EditRec& b) {
    return a.pos != b.pos ? a.pos < b.pos : a.seq < b.seq;
  });
  std::string& o = out_->text;
  o.reserve(s_.size() + s_.size() / 8);
  size_t pos = 0;
  for (const auto& e : edits_) {
    if (e.pos < pos) continue;  // overlapping edit: the first wins
    o.append(s_, pos, e.pos - pos);
    if (e.repl.size() != e.len) {
      size_t ln =
          std::upper_bound(line_start_.begin(), line_start_.end(), e.pos) - line_start_.begin() - 1;
      size_t out_ls = o.rfind('\n');
      int out_col = (int)(o.size() - (out_ls == std::string::npos ? 0 : out_ls + 1)) + 1;
      int in_col = (int)(e.pos - line_start_[ln]) + 1;
      out_->line_edits[(int)ln].push_back(
          {out_col, out_col + (int)e.repl.size(), in_col, in_col + (int)e.len});
    }
    o += e.repl;
    pos = e.pos + e.len;
  }
  o.append(s_, pos, std::string::npos);
  if (o.empty() || o.back() != '\n') o += '\n';
}

}  // namespace msl
}  // namespace mbcpu
