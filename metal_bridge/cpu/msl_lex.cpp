// msl_lex.cpp — tokens of preprocessed MSL and the values of literals (see msl_lex.h).
#include "msl_lex.h"

#include <algorithm>
#include <cstdlib>

namespace mbcpu {

bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }
bool digit(char c) { return c >= '0' && c <= '9'; }

// Lexes one C++ token at `i` of `s`; returns its length (0 at end). Comments are not expected
// in preprocessed text; the source-line lexer below strips them itself.
size_t lex_one(const std::string& s, size_t i, Kind* kind) {
  char c = s[i];
  if (ident_start(c)) {
    size_t j = i + 1;
    while (j < s.size() && ident_char(s[j])) ++j;
    // String literal prefixes (u8"..", L'..'): lex as the string.
    if (j < s.size() && (s[j] == '"' || s[j] == '\'') && j - i <= 2) {
      size_t k = j - i;
      std::string p = s.substr(i, k);
      if (p == "u8" || p == "u" || p == "U" || p == "L") {
        size_t n = lex_one(s, j, kind);
        return k + n;
      }
    }
    *kind = IDENT;
    return j - i;
  }
  if (digit(c) || (c == '.' && i + 1 < s.size() && digit(s[i + 1]))) {
    size_t j = i + 1;
    while (j < s.size()) {
      char d = s[j];
      if ((d == '+' || d == '-') &&
          (s[j - 1] == 'e' || s[j - 1] == 'E' || s[j - 1] == 'p' || s[j - 1] == 'P')) {
        ++j;
        continue;
      }
      if (ident_char(d) || d == '.' || d == '\'') {
        ++j;
        continue;
      }
      break;
    }
    *kind = NUMBER;
    return j - i;
  }
  if (c == '"' || c == '\'') {
    size_t j = i + 1;
    while (j < s.size() && s[j] != c && s[j] != '\n') j += s[j] == '\\' ? 2 : 1;
    *kind = STRING;
    return std::min(j + 1, s.size()) - i;
  }
  *kind = PUNCT;
  if (i + 1 < s.size() && ((c == ':' && s[i + 1] == ':') || (c == '-' && s[i + 1] == '>')))
    return 2;
  return 1;
}

Vec<std::string> split_lines(const std::string& s) {
  Vec<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t e = s.find('\n', pos);
    if (e == std::string::npos) {
      out.push_back(s.substr(pos));
      break;
    }
    out.push_back(s.substr(pos, e - pos));
    pos = e + 1;
  }
  return out;
}

// Start columns (1-based) and spellings of the tokens of one line; `in_comment` carries /* */.
void lex_line(const std::string& line, bool in_comment, Vec<int>* cols, Vec<std::string>* toks) {
  size_t i = 0;
  while (i < line.size()) {
    if (in_comment) {
      size_t e = line.find("*/", i);
      if (e == std::string::npos) return;
      i = e + 2;
      in_comment = false;
      continue;
    }
    char c = line[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      ++i;
      continue;
    }
    if (c == '/' && i + 1 < line.size() && line[i + 1] == '/') return;
    if (c == '/' && i + 1 < line.size() && line[i + 1] == '*') {
      in_comment = true;
      i += 2;
      continue;
    }
    Kind k;
    size_t n = lex_one(line, i, &k);
    cols->push_back((int)i + 1);
    toks->push_back(line.substr(i, n));
    i += n;
  }
}

bool is_floating_literal(const std::string& t) {
  if (t.size() > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X'))
    return t.find_first_of("pP") != std::string::npos;
  return t.find_first_of(".eE") != std::string::npos;
}

}  // namespace mbcpu
