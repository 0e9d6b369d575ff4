// msl_exclusions.cpp — refusals from clang's facts (see msl_exclusions.h).
#include "msl_exclusions.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "sorted_map.h"

namespace mbcpu {
namespace {

struct Refusal {
  int line, col;
  std::string msg;
};

// Cycles of the call graph, each reported once, at the call in its first function (by name)
// that begins it. Edges are clang's resolved references, so overloads and template
// specialisations are told apart: `max(float4)` calling `max(float, float)` is no cycle, and
// compile-time recursion (`sum<N>` calling `sum<N - 1>`) reaches a different function.
void recursion(const AstFacts& facts, Vec<Refusal>* out) {
  SortedMap<uint64_t, Vec<const AstFacts::Reference*>> edges;
  for (const auto& r : facts.references) {
    auto callee = facts.functions.find(r.callee);
    if (callee == facts.functions.end() || !callee->second.defined) continue;
    // A function calling itself as its last action: Apple's compiler accepts it (MLX's
    // reduce.metal, LoopedElemToLoc::next), turning the call into a loop.
    if (r.tail && r.caller == r.callee) continue;
    // A construction matched by class name stands for every specialisation of a class template
    // (`Looper<N>` constructing a `Looper<N - 1>` member): no evidence of recursion.
    if (r.by_signature) continue;
    edges[r.caller].push_back(&r);
  }
  auto name = [&](uint64_t id) {
    auto f = facts.functions.find(id);
    return f == facts.functions.end() ? std::string("?") : f->second.name;
  };
  // Cycles are searched from each function in turn, by name, then in source order.
  auto order = [&](uint64_t id) {
    auto f = facts.functions.find(id);
    const AstSite s = f == facts.functions.end() ? AstSite{} : f->second.site;
    return std::make_tuple(name(id), s.line, s.col, id);
  };
  Vec<uint64_t> starts;
  for (const auto& [id, calls] : edges) starts.push_back(id);
  std::sort(starts.begin(), starts.end(),
            [&](uint64_t a, uint64_t b) { return order(a) < order(b); });
  std::set<uint64_t> reported;
  for (uint64_t start : starts) {
    if (reported.count(start)) continue;
    // Shortest path from `start` back to itself (breadth first).
    SortedMap<uint64_t, uint64_t> prev;
    Vec<uint64_t> queue = {start};
    uint64_t last = 0;
    bool closed = false;
    for (size_t q = 0; q < queue.size() && !closed; ++q) {
      auto e = edges.find(queue[q]);
      if (e == edges.end()) continue;
      for (const auto* c : e->second) {
        if (c->callee == start) {
          closed = true;
          last = queue[q];
          break;
        }
        if (!prev.count(c->callee)) {
          prev[c->callee] = queue[q];
          queue.push_back(c->callee);
        }
      }
    }
    if (!closed) continue;
    Vec<uint64_t> cycle = {start};
    for (uint64_t f = last; f != start; f = prev[f]) cycle.insert(cycle.begin() + 1, f);
    bool seen = false;
    for (uint64_t m : cycle) seen |= reported.count(m) > 0;
    if (seen) continue;
    reported.insert(cycle.begin(), cycle.end());
    const uint64_t next = cycle.size() > 1 ? cycle[1] : start;
    const AstFacts::Reference* at = nullptr;
    for (const auto* c : edges[start])
      if (c->callee == next) {
        at = c;
        break;
      }
    std::string path;
    for (uint64_t f : cycle) path += "'" + name(f) + "' -> ";
    path += "'" + name(start) + "'";
    out->push_back({at->site.line, at->site.col,
                    cycle.size() == 1
                        ? "recursion is not supported in Metal: '" + name(start) + "' calls itself"
                        : "recursion is not supported in Metal: " + path});
  }
}

}  // namespace

Vec<std::string> exclusion_errors(const AstFacts& facts, const Rewritten& rw,
                                  const std::string& source_name, int metal_version) {
  Vec<Refusal> found;
  if (metal_version < 400)
    for (const auto& site : facts.lambdas)
      found.push_back({site.line, site.col,
                       "lambda expressions are not supported before Metal 4.0 (this library is "
                       "compiled as Metal " +
                           std::to_string(metal_version / 100) + "." +
                           std::to_string(metal_version / 10 % 10) +
                           "; set the registry's languageVersion to \"4.0\")"});
  for (const auto& fp : facts.function_pointers)
    found.push_back({fp.site.line, fp.site.col, "function pointers are not supported in Metal"});
  if (metal_version < 400)
    for (const auto& fp : facts.local_fn_pointers)
      found.push_back({fp.site.line, fp.site.col, "function pointers are not supported in Metal"});
  std::set<int> refused_globals;  // lines the rewriter refused a program-scope variable on
  for (const auto& e : rw.errors)
    if (e.msg.rfind("program-scope variables", 0) == 0) refused_globals.insert(e.line);
  for (const auto& g : facts.mutable_globals)
    if (!refused_globals.count(g.site.line))
      found.push_back({g.site.line, g.site.col,
                       "program-scope variables must be declared in the constant address space "
                       "(Metal has no mutable program-scope variables): '" +
                           g.name + "'"});
  recursion(facts, &found);

  std::sort(found.begin(), found.end(), [](const Refusal& a, const Refusal& b) {
    return std::tie(a.line, a.col, a.msg) < std::tie(b.line, b.col, b.msg);
  });
  found.erase(std::unique(found.begin(), found.end(),
                          [](const Refusal& a, const Refusal& b) {
                            return a.line == b.line && a.col == b.col && a.msg == b.msg;
                          }),
              found.end());
  Vec<std::string> lines;
  for (const auto& r : found)
    if (r.line > 0)
      lines.push_back(source_name + ":" + std::to_string(r.line) + ":" +
                      std::to_string(rw.map_column(r.line, r.col)) + ": error: " + r.msg);
  return lines;
}

}  // namespace mbcpu
