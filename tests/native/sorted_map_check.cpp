// sorted_map_check.cpp — SortedMap (metal_bridge/cpu/sorted_map.h) behaves as std::map where the
// front end relies on it: ascending keys, stable references, default insertion by [], emplace
// and insert that keep an existing value, deep copies, erase while iterating. Built with
// AddressSanitizer by tests/containers_test.ts; prints "-> ok" when every check held.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "sorted_map.h"

using mbcpu::SortedMap;

static int failures = 0;
static void check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    failures++;
  }
}

struct Named {
  std::string name;
  int count = 0;
};

int main() {
  SortedMap<uint64_t, std::vector<int>> map;
  map[5].push_back(1);
  map[2].push_back(2);
  map[9];
  std::vector<int>& held = map[5];
  for (int i = 0; i < 100; i++) map[100 + i].push_back(i);
  held.push_back(7);  // still the value at 5 after 100 insertions
  check(map[5].size() == 2, "a reference survives insertions");
  check(map.size() == 103, "size counts every key once");

  uint64_t previous = 0;
  bool ascending = true;
  for (const auto& [key, value] : map) {
    ascending = ascending && (key > previous || key == 2);
    previous = key;
    value.push_back(0);  // mutable through `const auto&`
  }
  check(ascending, "keys ascend in iteration");
  check(map[9].size() == 1, "values are mutable through const auto& [key, value]");

  auto found = map.find(2);
  check(found != map.end() && found->second.size() == 2, "find and it->second");
  check(map.find(3) == map.end() && map.count(3) == 0 && !map.contains(3), "absent keys");
  check(!map.emplace(2, std::vector<int>{9}).second && map[2].size() == 2,
        "emplace keeps an existing value");
  auto inserted = map.emplace(3, std::vector<int>{9, 9});
  check(inserted.second && inserted.first->second.size() == 2, "emplace adds an absent key");

  SortedMap<uint64_t, std::vector<int>> copy = map;
  copy[5].clear();
  check(map[5].size() == 3 && copy.size() == map.size(), "copies are deep");
  const auto& constant = map;
  check(constant.find(5)->second.size() == 3 && constant.at(5).size() == 3, "const access");

  for (auto it = map.begin(); it != map.end();) {
    if (it->first >= 100) {
      it = map.erase(it);
    } else {
      ++it;
    }
  }
  check(map.size() == 4, "erase while iterating");
  check(map.erase(3) == 1 && map.erase(3) == 0 && map.size() == 3, "erase by key");

  SortedMap<std::string, Named> names;
  names["x"].count = 3;
  names.insert({"y", Named{"q", 4}});
  check(names.at("y").name == "q" && names["x"].count == 3, "insert and at");
  SortedMap<std::string, Named> moved = std::move(names);
  check(moved.size() == 2 && moved.lower_bound("xa")->first == "y", "move and lower_bound");
  check(moved.upper_bound("y") == moved.end(), "upper_bound");

  std::map<int, int> expected;
  SortedMap<int, int> actual;
  for (int i : {5, 3, 8, 1, 9, 2, 3}) {
    expected[i] += i * i;
    actual[i] += i * i;
  }
  auto next = expected.begin();
  bool same = actual.size() == expected.size();
  for (const auto& [key, value] : actual) {
    same = same && next != expected.end() && next->first == key && next->second == value;
    ++next;
  }
  check(same, "the same entries in the same order as std::map");

  std::printf("%d failures -> %s\n", failures, failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
