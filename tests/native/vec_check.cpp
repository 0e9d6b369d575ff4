// vec_check.cpp — Vec (metal_bridge/cpu/vec.h) behaves as std::vector: the same elements in the
// same order after random sequences of every operation it offers, run side by side with
// std::vector on strings, on a type that counts its live instances (a leak or a double destroy
// shows), on move-only and nested elements; element copies that throw leave it as it was; the
// edge cases (empty, self-assignment, both ends, shrinking). Built with AddressSanitizer by
// tests/containers_test.ts; prints "-> ok" when every check held.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "vec.h"

using mbcpu::Vec;

static int failures = 0;
static void check(bool ok, const char* what) {
  if (!ok) {
    std::printf("FAILED: %s\n", what);
    failures++;
  }
}

// Counts its live instances and checks it is alive when used or destroyed; its copies throw
// std::bad_alloc once `copies_left` reaches zero (negative: never).
struct Counted {
  static long live;
  static long copies_left;
  static constexpr uint32_t kAlive = 0xA11CE, kDead = 0xDEAD;
  int value = 0;
  uint32_t state = kAlive;

  Counted() { ++live; }
  explicit Counted(int v) : value(v) { ++live; }
  Counted(const Counted& other) : value(other.value) {
    check(other.state == kAlive, "copied from a live element");
    if (copies_left == 0) throw std::bad_alloc();
    if (copies_left > 0) --copies_left;
    ++live;
  }
  Counted(Counted&& other) noexcept : value(other.value) {
    check(other.state == kAlive, "moved from a live element");
    ++live;
  }
  Counted& operator=(const Counted& other) {
    check(state == kAlive && other.state == kAlive, "assigned between live elements");
    value = other.value;
    return *this;
  }
  Counted& operator=(Counted&& other) noexcept {
    check(state == kAlive && other.state == kAlive, "move-assigned between live elements");
    value = other.value;
    return *this;
  }
  ~Counted() {
    check(state == kAlive, "destroyed once");
    state = kDead;
    --live;
  }
  bool operator==(const Counted& other) const { return value == other.value; }
};
long Counted::live = 0;
long Counted::copies_left = -1;

// Elements made from a number, and read back as one, for each element type under test.
template <class T>
struct Element;
template <>
struct Element<int> {
  static int make(int v) { return v; }
  static int read(int v) { return v; }
};
template <>
struct Element<std::string> {
  // Long enough to live on the heap (no small-string buffer).
  static std::string make(int v) { return "element number " + std::to_string(v) + " on the heap"; }
  static int read(const std::string& s) { return s.empty() ? -1 : std::atoi(s.c_str() + 15); }
};
template <>
struct Element<Counted> {
  static Counted make(int v) { return Counted(v); }
  static int read(const Counted& c) { return c.value; }
};
template <>
struct Element<Vec<int>> {
  static Vec<int> make(int v) { return Vec<int>(size_t(v % 5), v); }
  static int read(const Vec<int>& c) {
    return c.empty() ? -int(c.size()) : c[0] * 10 + int(c.size());
  }
};

template <class T>
bool same(const Vec<T>& actual, const std::vector<T>& expected) {
  if (actual.size() != expected.size() || actual.empty() != expected.empty()) return false;
  if (actual.end() - actual.begin() != ptrdiff_t(actual.size())) return false;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (Element<T>::read(actual[i]) != Element<T>::read(expected[i])) return false;
  }
  return actual.capacity() >= actual.size();
}

// One random operation on both, `steps` times, comparing after each.
template <class T>
void random_operations(const char* name, uint32_t seed, int steps) {
  using E = Element<T>;
  std::mt19937 random(seed);
  auto below = [&](size_t n) { return n == 0 ? size_t(0) : size_t(random() % n); };
  Vec<T> actual;
  std::vector<T> expected;
  bool ok = true;
  for (int step = 0; step < steps && ok; ++step) {
    const int v = int(random() % 1000);
    const size_t at = below(expected.size() + 1);
    switch (random() % 18) {
      case 0:
      case 1: {
        T value = E::make(v);
        actual.push_back(value);
        expected.push_back(value);
        break;
      }
      case 2:
        actual.push_back(E::make(v));
        expected.push_back(E::make(v));
        break;
      case 3:
        if (!expected.empty()) {  // an element of its own, while it may grow
          const size_t from = below(expected.size());
          actual.push_back(actual[from]);
          expected.push_back(expected[from]);
        }
        break;
      case 4:
        if (!expected.empty()) {
          actual.pop_back();
          expected.pop_back();
        }
        break;
      case 5: {
        auto placed = actual.insert(actual.begin() + at, E::make(v));
        expected.insert(expected.begin() + at, E::make(v));
        ok = ok && placed == actual.begin() + at;
        break;
      }
      case 6:
        if (!expected.empty()) {  // insert an element of its own
          const size_t from = below(expected.size());
          actual.insert(actual.begin() + at, actual[from]);
          expected.insert(expected.begin() + at, expected[from]);
        }
        break;
      case 7: {
        std::list<T> more;  // not random access: no size known up front
        for (int i = 0; i < v % 4; ++i) more.push_back(E::make(v + i));
        auto placed = actual.insert(actual.begin() + at, more.begin(), more.end());
        expected.insert(expected.begin() + at, more.begin(), more.end());
        ok = ok && placed == actual.begin() + at;
        break;
      }
      case 8: {
        std::vector<T> more;
        for (int i = 0; i < v % 7; ++i) more.push_back(E::make(v * 3 + i));
        actual.insert(actual.begin() + at, more.data(), more.data() + more.size());
        expected.insert(expected.begin() + at, more.begin(), more.end());
        break;
      }
      case 9:
        actual.insert(actual.begin() + at, size_t(v % 3), E::make(v));
        expected.insert(expected.begin() + at, size_t(v % 3), E::make(v));
        break;
      case 10:
        if (at < expected.size()) {
          auto next = actual.erase(actual.begin() + at);
          expected.erase(expected.begin() + at);
          ok = ok && next == actual.begin() + at;
        }
        break;
      case 11: {
        const size_t last = at + below(expected.size() - at + 1);
        auto next = actual.erase(actual.begin() + at, actual.begin() + last);
        expected.erase(expected.begin() + at, expected.begin() + last);
        ok = ok && next == actual.begin() + at;
        break;
      }
      case 12: {
        const size_t size = below(expected.size() * 2 + 3);
        actual.resize(size);
        expected.resize(size);
        break;
      }
      case 13: {
        const size_t size = below(expected.size() * 2 + 3);
        if (!expected.empty() && size > expected.size()) {  // filled with an element of its own
          const size_t from = below(expected.size());
          actual.resize(size, actual[from]);
          expected.resize(size, expected[from]);
        } else {
          actual.resize(size, E::make(v));
          expected.resize(size, E::make(v));
        }
        break;
      }
      case 14: {
        const size_t capacity = below(expected.size() * 3 + 2);
        actual.reserve(capacity);
        ok = ok && actual.capacity() >= capacity;
        break;
      }
      case 15: {  // copies and moves
        Vec<T> copy = actual;
        Vec<T> moved = std::move(copy);
        ok = ok && copy.empty() && same(moved, expected);
        Vec<T> assigned;
        assigned.push_back(E::make(v));
        assigned = moved;
        actual = std::move(assigned);
        ok = ok && assigned.empty();
        break;
      }
      case 16:
        if (v % 10 == 0) {
          actual.clear();
          expected.clear();
        }
        break;
      case 17: {
        Vec<T> other(expected.begin(), expected.end());
        actual.swap(other);
        ok = ok && same(other, expected);
        break;
      }
    }
    ok = ok && same(actual, expected);
  }
  if (!ok) std::printf("FAILED: %s, seed %u\n", name, seed);
  check(ok, "random operations give std::vector's elements in its order");
}

// Copies that throw, the first, second, ... copy of each operation in turn: the Vec is left
// as it was, and nothing leaks.
bool throws(long copies_before_throwing, void (*operation)(Vec<Counted>&), Vec<Counted>& vec) {
  Counted::copies_left = copies_before_throwing;
  bool threw = false;
  try {
    operation(vec);
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  Counted::copies_left = -1;
  return threw;
}

void throwing_copies() {
  const long live = Counted::live;
  struct Case {
    const char* what;
    void (*operation)(Vec<Counted>&);
  };
  const Case cases[] = {
      {"push_back of its own element, growing", [](Vec<Counted>& vec) { vec.push_back(vec[1]); }},
      {"insert of its own element at the front, growing",
       [](Vec<Counted>& vec) { vec.insert(vec.begin(), vec[2]); }},
      {"range insert in the middle",
       [](Vec<Counted>& vec) {
         const std::vector<Counted> more(6, Counted(100));
         vec.insert(vec.begin() + 1, more.begin(), more.end());
       }},
      {"count insert in the middle",
       [](Vec<Counted>& vec) { vec.insert(vec.begin() + 2, 5, Counted(100)); }},
      {"growing resize with a value", [](Vec<Counted>& vec) { vec.resize(12, Counted(7)); }},
      {"copy-assignment",
       [](Vec<Counted>& vec) {
         Vec<Counted> other;
         for (int i = 0; i < 3; ++i) other.emplace_back(100 + i);
         vec = other;
       }},
  };
  for (const Case& c : cases) {
    bool held = true;
    int thrown = 0;
    for (long copies = 0; copies < 10; ++copies) {
      Vec<Counted> vec;
      for (int i = 0; i < 4; ++i) vec.emplace_back(i);  // size == capacity: the next one grows
      if (!throws(copies, c.operation, vec)) continue;
      ++thrown;
      held = held && vec.size() == 4;
      for (int i = 0; held && i < 4; ++i) held = vec[i].value == i;
    }
    if (!held || thrown == 0) std::printf("FAILED: %s\n", c.what);
    check(held && thrown > 0, "an operation whose copy throws leaves the Vec as it was");
  }
  check(Counted::live == live, "no element leaks or is destroyed twice when copies throw");
}

struct Node {  // an element type incomplete where Vec<Node> is named, as std::vector allows
  int value = 0;
  Vec<Node> children;
};

void edge_cases() {
  Vec<std::string> empty;
  check(empty.empty() && empty.size() == 0 && empty.begin() == empty.end(), "empty");
  check(empty.erase(empty.begin(), empty.end()) == empty.end(), "erase nothing from empty");
  empty.insert(empty.end(), std::string("only"));
  check(empty.size() == 1 && empty.front() == "only" && empty.back() == "only", "insert in empty");
  empty.erase(empty.begin());
  check(empty.empty(), "erase the last one");

  Vec<std::string> words = {"a", "bb", "ccc"};
  Vec<std::string>& same_words = words;
  words = same_words;  // self-assignment
  check(words.size() == 3 && words[2] == "ccc", "self copy-assignment keeps the elements");
  words = std::move(same_words);
  check(words.size() == 3 && words[0] == "a", "self move-assignment keeps the elements");
  words.insert(words.begin(), "first");
  words.insert(words.end(), "last");
  check(words.front() == "first" && words.back() == "last" && words.size() == 5, "both ends");
  words.erase(words.begin());
  words.erase(words.end() - 1);
  check(words == Vec<std::string>({"a", "bb", "ccc"}), "erase at both ends, and ==");
  check(words != Vec<std::string>({"a", "bb"}), "!=");

  std::string joined;
  for (auto it = words.rbegin(); it != words.rend(); ++it) joined += *it;
  check(joined == "cccbba", "reverse iteration");

  words.reserve(100);
  const std::string* before = words.data();
  words.resize(50);
  check(words.data() == before && words.capacity() >= 100, "no reallocation within capacity");
  words.resize(2);
  check(words.size() == 2 && words.capacity() >= 100 && words[1] == "bb", "shrinking resize");
  words.reserve(1);
  check(words.capacity() >= 100, "reserve never shrinks");

  Vec<int> numbers(4);
  check(numbers.size() == 4 && numbers[0] == 0 && numbers[3] == 0, "value-initialised");
  numbers.resize(6, 9);
  numbers.resize(8);
  check(numbers[5] == 9 && numbers[7] == 0, "resize with a value, then value-initialised");
  numbers.assign(3, 5);
  check(numbers == Vec<int>({5, 5, 5}), "assign a count");
  const int source[] = {1, 2, 3};
  numbers.assign(source, source + 3);
  check(numbers == Vec<int>({1, 2, 3}), "assign a range");
  numbers.emplace(numbers.begin() + 1, 7);
  check(numbers == Vec<int>({1, 7, 2, 3}), "emplace in the middle");

  Vec<bool> flags(3, false);  // an array of bool, not std::vector<bool>'s bits
  flags[1] = true;
  bool& second = flags[1];
  check(second && !flags[0] && flags.size() == 3, "Vec<bool> holds bools");

  Vec<std::unique_ptr<int>> owners;  // move-only
  for (int i = 0; i < 20; ++i) owners.push_back(std::make_unique<int>(i));
  owners.insert(owners.begin() + 3, std::make_unique<int>(-1));
  owners.erase(owners.begin());
  Vec<std::unique_ptr<int>> taken = std::move(owners);
  check(taken.size() == 20 && *taken[2] == -1 && *taken[19] == 19, "move-only elements");

  Node tree;
  tree.children.push_back(Node{1, {}});
  tree.children[0].children.push_back(Node{2, {}});
  Node copy = tree;
  copy.children[0].children[0].value = 3;
  check(tree.children[0].children[0].value == 2, "nested Vecs copy deeply");
}

int main() {
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    random_operations<int>("int", seed, 2000);
    random_operations<std::string>("std::string", seed, 2000);
    random_operations<Counted>("Counted", seed, 2000);
    random_operations<Vec<int>>("Vec<int>", seed, 1000);
  }
  check(Counted::live == 0, "every Counted made was destroyed once");
  throwing_copies();
  edge_cases();
  check(Counted::live == 0, "no Counted left alive");
  std::printf("%d failures -> %s\n", failures, failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
