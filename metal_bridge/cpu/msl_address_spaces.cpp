// msl_address_spaces.cpp — which diagnostics of the address-space check Metal would also give
// (see msl_address_spaces.h).
#include "msl_address_spaces.h"

#include "msl_lex.h"
#include "msl_rewrite.h"
#include "vec.h"

namespace mbcpu {
namespace {

const char* const kSpaceNames[] = {"thread", "device", "constant", "threadgroup"};

void replace_all(std::string* s, const std::string& from, const std::string& to) {
  for (size_t k = s->find(from); k != std::string::npos; k = s->find(from, k + to.size()))
    s->replace(k, from.size(), to);
}

// Clang's spelling of the spaces (`__attribute__((address_space(1)))`, "address space '1'") in
// MSL's words.
std::string metal_words(std::string msg) {
  for (int n = 1; n <= 3; ++n) {
    const std::string name = kSpaceNames[n];
    replace_all(&msg, "__attribute__((address_space(" + std::to_string(n) + ")))", name);
    replace_all(&msg, "address space '" + std::to_string(n) + "'", "address space '" + name + "'");
  }
  replace_all(&msg, "const constant", "constant");
  replace_all(&msg, "constant const", "constant");
  replace_all(&msg, "generic address space", "thread address space");
  return msg;
}

// The quoted types of a message, without clang's "(aka '...')" spellings.
Vec<std::string> quoted_types(const std::string& msg) {
  Vec<std::string> out;
  for (size_t a = msg.find('\''); a != std::string::npos; a = msg.find('\'', a + 1)) {
    size_t b = msg.find('\'', a + 1);
    if (b == std::string::npos) break;
    if (!(a >= 4 && msg.compare(a - 4, 4, "aka ") == 0))
      out.push_back(msg.substr(a + 1, b - a - 1));
    a = b;
  }
  return out;
}

bool has_word(const std::string& s, const std::string& w) {
  for (size_t k = s.find(w); k != std::string::npos; k = s.find(w, k + 1)) {
    bool left = k == 0 || !(isalnum((unsigned char)s[k - 1]) || s[k - 1] == '_');
    size_t e = k + w.size();
    bool right = e >= s.size() || !(isalnum((unsigned char)s[e]) || s[e] == '_');
    if (left && right) return true;
  }
  return false;
}

// The space a printed type names for what it points or refers to (0: thread, the default).
int space_of(const std::string& type) {
  for (int n = 1; n <= 3; ++n)
    if (has_word(type, kSpaceNames[n])) return n;
  return 0;
}

// A conversion (of types[1] to types[0], or from types[0] to types[1]: the space is what matters)
// to a pointer or reference in another space. Objects copied by value are not judged here.
bool changes_space(const Vec<std::string>& types) {
  if (types.size() < 2) return false;
  auto indirect = [](const std::string& t) { return t.find_first_of("*&[") != std::string::npos; };
  return indirect(types[0]) && indirect(types[1]) && space_of(types[0]) != space_of(types[1]);
}

struct Diag {
  std::string line;  // as clang printed it
  std::string file, kind, msg;
};

Diag parse(const std::string& l) {
  Diag d;
  d.line = l;
  for (const char* kind : {"error", "note"}) {
    std::string tag = std::string(": ") + kind + ": ";
    size_t k = l.find(tag);
    if (k == std::string::npos) continue;
    d.kind = kind;
    d.msg = l.substr(k + tag.size());
    std::string loc = l.substr(0, k);
    size_t c2 = loc.rfind(':');
    size_t c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : loc.rfind(':', c2 - 1);
    if (c1 != std::string::npos) d.file = loc.substr(0, c1);
    break;
  }
  return d;
}

// Errors that follow from plain C++ being stricter than Metal (see the header), never reported.
bool artefact(const std::string& msg) {
  for (const char* what :
       {"object parameter", "'this' argument", "method expects object", "no matching constructor",
        "no viable overloaded '='", "no viable conversion from", "cannot be used to construct"})
    if (msg.find(what) != std::string::npos) return true;
  return false;
}

// The group's error, reworded, when Metal would refuse the code for its address spaces too.
bool refused(const Diag& error, const Vec<Diag>& notes, std::string* message) {
  const std::string msg = metal_words(error.msg);
  if (error.file != kSourceFile || artefact(msg)) return false;
  *message = msg;
  if (msg.find("changes address space") != std::string::npos) return true;
  if (msg.rfind("cannot initialize ", 0) == 0) return changes_space(quoted_types(msg));
  if (msg.rfind("no matching function for call to '__mb_as_cast'", 0) == 0) {
    for (const auto& n : notes) {
      std::string m = metal_words(n.msg);
      size_t t = m.find("[with T = "), u = m.find(", U = ");
      if (t == std::string::npos || u == std::string::npos) continue;
      std::string to = m.substr(t + 10, u - t - 10);
      std::string from = m.substr(u + 6, m.find(']', u) - u - 6);
      *message = "cast from '" + from + "' to '" + to + "' changes address space (from " +
                 kSpaceNames[space_of(from)] + " to " + kSpaceNames[space_of(to)] + ")";
      return true;
    }
    return false;
  }
  // A call no candidate of the user's own takes, for a space the user's candidates do not take.
  if (msg.rfind("no matching function for call to ", 0) == 0 || msg.rfind("call to ", 0) == 0) {
    for (const auto& n : notes) {
      if (n.file != kSourceFile) continue;
      std::string m = metal_words(n.msg);
      if (m.find("address space") != std::string::npos ||
          (m.find("no known conversion from") != std::string::npos &&
           changes_space(quoted_types(m))) ||
          (msg.rfind("call to ", 0) == 0 && msg.find("is ambiguous") != std::string::npos))
        return true;
    }
  }
  return false;
}

}  // namespace

std::string address_space_errors(const std::string& clang_stderr) {
  Vec<Diag> diags;
  for (const std::string& l : split_lines(clang_stderr)) {
    Diag d = parse(l);
    if (!d.kind.empty()) diags.push_back(d);
  }
  std::string out;
  for (size_t i = 0; i < diags.size(); ++i) {
    if (diags[i].kind != "error") continue;
    Vec<Diag> notes;
    for (size_t j = i + 1; j < diags.size() && diags[j].kind == "note"; ++j)
      notes.push_back(diags[j]);
    std::string message;
    if (!refused(diags[i], notes, &message)) continue;
    const std::string& l = diags[i].line;
    out += l.substr(0, l.find(": error: ")) + ": error: " + message + "\n";
    for (const auto& n : notes) {
      const std::string& nl = n.line;
      out += nl.substr(0, nl.find(": note: ")) + ": note: " + metal_words(n.msg) + "\n";
    }
  }
  return out;
}

}  // namespace mbcpu
