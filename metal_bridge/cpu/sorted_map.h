// sorted_map.h — SortedMap<K, V>: std::map's interface and order, cheaper to compile.
//
// Every distinct std::map<K, V> makes clang instantiate and emit its own red-black tree, about
// 0.1 s of the bridge's first build each at -O0 (docs/architecture.md, "Building the CPU
// bridge"). SortedMap keeps each value in its own heap block behind a type-erased pointer, so
// all SortedMap<K, *> of one key type share one std::map<K, Slot>; what is left per value type
// is a few inline lines. The front end's maps use it; std::map stays where a map is hot.
//
// Like std::map: keys ascend in iteration, references and iterators stay valid until their
// entry is erased, copies are deep. Unlike it: `*it` is a small Entry{first, second} of
// references made on the fly, so bind it as `const auto& [key, value]` (value stays mutable
// through a mutable map) or use `it->first` / `it->second`.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <utility>

namespace mbcpu {

template <class K, class V>
class SortedMap {
  using Slot = std::unique_ptr<void, void (*)(void*)>;
  using Tree = std::map<K, Slot>;

  static void destroy(void* value) { delete static_cast<V*>(value); }
  static Slot slot(V* value) { return Slot(value, &destroy); }

  template <class Value, class TreeIterator>
  class Iterator {
   public:
    struct Entry {
      const K& first;
      Value& second;
    };
    // Lets `it->second` work: the Entry lives as long as the expression.
    struct Arrow {
      Entry entry;
      const Entry* operator->() const { return &entry; }
    };

    Iterator() = default;
    explicit Iterator(TreeIterator at) : at_(at) {}
    // iterator -> const_iterator
    template <class OtherValue, class OtherTree>
    Iterator(const Iterator<OtherValue, OtherTree>& other) : at_(other.at_) {}

    Entry operator*() const { return {at_->first, *static_cast<Value*>(at_->second.get())}; }
    Arrow operator->() const { return {**this}; }
    Iterator& operator++() {
      ++at_;
      return *this;
    }
    Iterator& operator--() {
      --at_;
      return *this;
    }
    bool operator==(const Iterator& other) const { return at_ == other.at_; }
    bool operator!=(const Iterator& other) const { return at_ != other.at_; }

   private:
    template <class, class>
    friend class Iterator;
    friend class SortedMap;
    TreeIterator at_{};
  };

 public:
  using key_type = K;
  using mapped_type = V;
  using iterator = Iterator<V, typename Tree::iterator>;
  using const_iterator = Iterator<const V, typename Tree::const_iterator>;

  SortedMap() = default;
  SortedMap(SortedMap&&) noexcept = default;
  SortedMap& operator=(SortedMap&&) noexcept = default;
  SortedMap(const SortedMap& other) {
    for (const auto& [key, slot] : other.tree_) {
      tree_.emplace_hint(tree_.end(), key, SortedMap::slot(new V(*static_cast<V*>(slot.get()))));
    }
  }
  SortedMap& operator=(const SortedMap& other) {
    if (this != &other) *this = SortedMap(other);
    return *this;
  }

  iterator begin() { return iterator(tree_.begin()); }
  iterator end() { return iterator(tree_.end()); }
  const_iterator begin() const { return const_iterator(tree_.begin()); }
  const_iterator end() const { return const_iterator(tree_.end()); }

  size_t size() const { return tree_.size(); }
  bool empty() const { return tree_.empty(); }
  void clear() { tree_.clear(); }

  iterator find(const K& key) { return iterator(tree_.find(key)); }
  const_iterator find(const K& key) const { return const_iterator(tree_.find(key)); }
  size_t count(const K& key) const { return tree_.count(key); }
  bool contains(const K& key) const { return tree_.find(key) != tree_.end(); }
  iterator lower_bound(const K& key) { return iterator(tree_.lower_bound(key)); }
  const_iterator lower_bound(const K& key) const { return const_iterator(tree_.lower_bound(key)); }
  iterator upper_bound(const K& key) { return iterator(tree_.upper_bound(key)); }
  const_iterator upper_bound(const K& key) const { return const_iterator(tree_.upper_bound(key)); }

  // The value at `key`, default-constructed there first if absent (std::map::operator[]).
  V& operator[](const K& key) { return (*try_emplace(key).first).second; }
  // The value at `key`, which must be present (std::map::at throws std::out_of_range).
  V& at(const K& key) { return *static_cast<V*>(tree_.at(key).get()); }
  const V& at(const K& key) const { return *static_cast<const V*>(tree_.at(key).get()); }

  // Constructs the value from `args` only when `key` is absent (std::map::try_emplace).
  template <class... Args>
  std::pair<iterator, bool> try_emplace(const K& key, Args&&... args) {
    auto at = tree_.lower_bound(key);
    if (at != tree_.end() && !(key < at->first)) return {iterator(at), false};
    at = tree_.emplace_hint(at, key, slot(new V(std::forward<Args>(args)...)));
    return {iterator(at), true};
  }
  // std::map::emplace(key, value...) and insert({key, value}): no effect when `key` is present.
  template <class... Args>
  std::pair<iterator, bool> emplace(const K& key, Args&&... args) {
    return try_emplace(key, std::forward<Args>(args)...);
  }
  std::pair<iterator, bool> insert(std::pair<K, V> entry) {
    return try_emplace(entry.first, std::move(entry.second));
  }

  size_t erase(const K& key) { return tree_.erase(key); }
  iterator erase(const_iterator at) { return iterator(tree_.erase(at.at_)); }

 private:
  Tree tree_;
};

}  // namespace mbcpu
