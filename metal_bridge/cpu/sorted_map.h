// sorted_map.h — SortedMap<K, V>: std::map's interface and order, cheaper to compile.
//
// Every distinct std::map<K, V> makes clang instantiate and emit its own red-black tree, about
// 0.1 s of the bridge's first build each at -O0 (docs/architecture.md, "Building the CPU
// bridge"). SortedMap keeps each value in its own heap block behind a type-erased pointer, and
// every operation on the tree lives in SortedMapBase<K>, instantiated once per key type; what
// is left per value type is a few one-line wrappers. The front end's maps use it; std::map
// stays where a map is hot.
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

// The tree of one key type: values are opaque pointers, each with the function that frees it.
template <class K>
class SortedMapBase {
 protected:
  using Slot = std::unique_ptr<void, void (*)(void*)>;
  using Tree = std::map<K, Slot>;
  using TreeIterator = typename Tree::iterator;

  // The entry at `key`, or, when absent, a new one holding make(argument) (inserted: true).
  std::pair<TreeIterator, bool> find_or_add(const K& key, void* (*make)(void*), void* argument,
                                            void (*destroy)(void*)) {
    auto at = tree_.lower_bound(key);
    if (at != tree_.end() && !(key < at->first)) return {at, false};
    return {tree_.emplace_hint(at, key, Slot(make(argument), destroy)), true};
  }
  // A deep copy of `other`'s entries, each value copied by `copy`.
  void copy_from(const SortedMapBase& other, void* (*copy)(void*), void (*destroy)(void*)) {
    for (const auto& [key, slot] : other.tree_) {
      tree_.emplace_hint(tree_.end(), key, Slot(copy(slot.get()), destroy));
    }
  }

  Tree tree_;
};

template <class K, class V>
class SortedMap : private SortedMapBase<K> {
  using Base = SortedMapBase<K>;
  using typename Base::Tree;

  static void destroy(void* value) { delete static_cast<V*>(value); }
  static void* make_default(void*) { return new V(); }
  static void* make_moved(void* value) { return new V(std::move(*static_cast<V*>(value))); }
  static void* make_copy(void* value) { return new V(*static_cast<const V*>(value)); }

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

  std::pair<typename Base::TreeIterator, bool> add(const K& key, V* value) {
    return this->find_or_add(key, &make_moved, value, &destroy);
  }

 public:
  using key_type = K;
  using mapped_type = V;
  using iterator = Iterator<V, typename Tree::iterator>;
  using const_iterator = Iterator<const V, typename Tree::const_iterator>;

  SortedMap() = default;
  SortedMap(SortedMap&&) noexcept = default;
  SortedMap& operator=(SortedMap&&) noexcept = default;
  SortedMap(const SortedMap& other) { this->copy_from(other, &make_copy, &destroy); }
  SortedMap& operator=(const SortedMap& other) {
    if (this != &other) *this = SortedMap(other);
    return *this;
  }

  iterator begin() { return iterator(this->tree_.begin()); }
  iterator end() { return iterator(this->tree_.end()); }
  const_iterator begin() const { return const_iterator(this->tree_.begin()); }
  const_iterator end() const { return const_iterator(this->tree_.end()); }

  size_t size() const { return this->tree_.size(); }
  bool empty() const { return this->tree_.empty(); }
  void clear() { this->tree_.clear(); }

  iterator find(const K& key) { return iterator(this->tree_.find(key)); }
  const_iterator find(const K& key) const { return const_iterator(this->tree_.find(key)); }
  size_t count(const K& key) const { return this->tree_.count(key); }
  bool contains(const K& key) const { return this->tree_.find(key) != this->tree_.end(); }
  iterator lower_bound(const K& key) { return iterator(this->tree_.lower_bound(key)); }
  const_iterator lower_bound(const K& key) const {
    return const_iterator(this->tree_.lower_bound(key));
  }
  iterator upper_bound(const K& key) { return iterator(this->tree_.upper_bound(key)); }
  const_iterator upper_bound(const K& key) const {
    return const_iterator(this->tree_.upper_bound(key));
  }

  // The value at `key`, default-constructed there first if absent (std::map::operator[]).
  V& operator[](const K& key) {
    return *static_cast<V*>(
        this->find_or_add(key, &make_default, nullptr, &destroy).first->second.get());
  }
  // The value at `key`, which must be present (std::map::at throws std::out_of_range).
  V& at(const K& key) { return *static_cast<V*>(this->tree_.at(key).get()); }
  const V& at(const K& key) const { return *static_cast<const V*>(this->tree_.at(key).get()); }

  // std::map::try_emplace, emplace and insert: `value` goes in only when `key` is absent.
  std::pair<iterator, bool> try_emplace(const K& key, V value = V()) {
    auto [at, added] = add(key, &value);
    return {iterator(at), added};
  }
  std::pair<iterator, bool> emplace(const K& key, V value) {
    return try_emplace(key, std::move(value));
  }
  std::pair<iterator, bool> insert(std::pair<K, V> entry) {
    return try_emplace(entry.first, std::move(entry.second));
  }

  size_t erase(const K& key) { return this->tree_.erase(key); }
  iterator erase(const_iterator at) { return iterator(this->tree_.erase(at.at_)); }
};

}  // namespace mbcpu
