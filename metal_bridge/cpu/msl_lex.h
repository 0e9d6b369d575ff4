// msl_lex.h — tokens of preprocessed MSL and the values of literals (internal to the front end:
// msl_rewrite.cpp reads the source through these).
#pragma once

#include <cstddef>
#include <string>

#include "vec.h"

namespace mbcpu {

enum Kind { IDENT, NUMBER, STRING, PUNCT };

struct Tok {
  Kind kind;
  size_t pos, len;
  int line;  // line index in the preprocessed text
};

bool ident_start(char c);
bool ident_char(char c);
bool digit(char c);
// Lexes one C++ token at `i` of `s`; returns its length (0 at end).
size_t lex_one(const std::string& s, size_t i, Kind* kind);
Vec<std::string> split_lines(const std::string& s);
// Start columns (1-based) and spellings of the tokens of one line; `in_comment` carries /* */.
void lex_line(const std::string& line, bool in_comment, Vec<int>* cols, Vec<std::string>* toks);
bool is_floating_literal(const std::string& t);

}  // namespace mbcpu
