// vec.h — Vec<T>: std::vector's interface and behaviour, cheaper to compile.
//
// At -O0 every distinct std::vector<T> makes clang instantiate and emit its own few dozen
// functions (the vector, its base, allocator traits, the iterator wrapper, the relocation and
// destruction helpers): ~2,800 of the front end unit's ~5,500 functions, over ~60 element
// types (docs/architecture.md, "Building the CPU bridge"). Vec's iterators are plain pointers
// and it has no allocator; its size, growth and the relocation of trivially copyable elements
// live in VecBase, compiled once, so what each element type adds is a handful of small
// functions. Every vector of the bridge is a Vec.
//
// Like std::vector: contiguous, in order; copies are deep; resize value-initialises; growth
// doubles the capacity and invalidates iterators and references, as do insert and erase from
// their position on. An element constructor that throws (bad_alloc in a copy) leaves the Vec
// as it was, so nothing leaks or is destroyed twice. Unlike it: an element type's move
// constructor must not throw (checked when compiling), and Vec<bool> is an array of bool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace mbcpu {

// What every Vec shares whatever its element type: the buffer, the counts, and growth.
class VecBase {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }

 protected:
  // Moves `count` elements from `from` into the uninitialised `to` and destroys them at
  // `from`. nullptr: the elements are trivially copyable, and memcpy does it.
  using Relocate = void (*)(void* to, void* from, size_t count);

  // A buffer with room for `count` elements of `element_size` bytes.
  static void* allocate(size_t count, size_t element_size) {
    if (count > SIZE_MAX / element_size) throw std::length_error("Vec: too many elements");
    return ::operator new(count * element_size);
  }
  // The capacity that holds `needed` elements: the current one while it does, else at least
  // double it.
  size_t grown(size_t needed) const {
    if (needed <= capacity_) return capacity_;
    return needed > 2 * capacity_ ? needed : 2 * capacity_;
  }
  // Room for `capacity` elements: the elements move to a new buffer when there is less.
  void grow_to(size_t capacity, size_t element_size, Relocate relocate) {
    if (capacity <= capacity_) return;
    void* fresh = allocate(capacity, element_size);
    if (size_ != 0) {
      if (relocate) {
        relocate(fresh, data_, size_);
      } else {
        std::memcpy(fresh, data_, size_ * element_size);
      }
    }
    ::operator delete(data_);
    data_ = fresh;
    capacity_ = capacity;
  }
  void swap_base(VecBase& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

  VecBase() = default;
  VecBase(const VecBase&) = delete;
  VecBase& operator=(const VecBase&) = delete;
  ~VecBase() = default;

  void* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// How Vec<T> moves its elements to a new buffer. A variable rather than a member, so Vec<T>
// can be named while T is incomplete (as std::vector can).
template <class T>
void vec_relocate(void* to, void* from, size_t count) {
  static_assert(std::is_nothrow_move_constructible<T>::value,
                "Vec: moving elements to a larger buffer must not throw");
  T* source = static_cast<T*>(from);
  for (T* target = static_cast<T*>(to); count != 0; --count, ++target, ++source) {
    new (target) T(std::move(*source));
    source->~T();
  }
}
template <class T>
constexpr void (*kVecRelocate)(void*, void*, size_t) = std::is_trivially_copyable<T>::value
                                                           ? nullptr
                                                           : &vec_relocate<T>;

template <class T>
class Vec : public VecBase {
  // Destroys the elements from `size` on.
  void truncate(size_t size) {
    if constexpr (!std::is_trivially_destructible<T>::value) {
      for (T* at = begin() + size; at != end(); ++at) at->~T();
    }
    size_ = size;
  }
  // Moves the elements from `index` to the old end behind those after it (which were just
  // appended): insert's rotation, three reversals of moves that cannot throw.
  void move_appended_to(size_t index, size_t old_size) {
    reverse(begin() + index, begin() + old_size);
    reverse(begin() + old_size, end());
    reverse(begin() + index, end());
  }
  static void reverse(T* first, T* last) {
    for (; first != last && first != --last; ++first) std::swap(*first, *last);
  }

 public:
  using value_type = T;
  using size_type = size_t;
  using difference_type = ptrdiff_t;
  using reference = T&;
  using const_reference = const T&;
  using pointer = T*;
  using const_pointer = const T*;
  using iterator = T*;
  using const_iterator = const T*;
  using reverse_iterator = std::reverse_iterator<T*>;
  using const_reverse_iterator = std::reverse_iterator<const T*>;

  // Every constructor delegates to this one, so the destructor cleans up after one that throws.
  Vec() = default;
  explicit Vec(size_t count) : Vec() { resize(count); }
  Vec(size_t count, const T& value) : Vec() { resize(count, value); }
  template <class Iterator, class = std::enable_if_t<!std::is_integral<Iterator>::value>>
  Vec(Iterator first, Iterator last) : Vec() {
    insert(end(), first, last);
  }
  Vec(std::initializer_list<T> values) : Vec() { insert(end(), values.begin(), values.end()); }
  Vec(const Vec& other) : Vec() { insert(end(), other.begin(), other.end()); }
  Vec(Vec&& other) noexcept { swap_base(other); }
  ~Vec() {
    if constexpr (!std::is_trivially_destructible<T>::value) {
      for (T& element : *this) element.~T();
    }
    ::operator delete(data_);
  }

  Vec& operator=(const Vec& other) {
    if (this != &other) Vec(other).swap(*this);
    return *this;
  }
  Vec& operator=(Vec&& other) noexcept {
    Vec(std::move(other)).swap(*this);
    return *this;
  }
  Vec& operator=(std::initializer_list<T> values) {
    Vec(values).swap(*this);
    return *this;
  }
  void swap(Vec& other) noexcept { swap_base(other); }

  // std::vector::assign: the Vec holds `count` copies of `value`, or [first, last).
  void assign(size_t count, const T& value) { Vec(count, value).swap(*this); }
  template <class Iterator, class = std::enable_if_t<!std::is_integral<Iterator>::value>>
  void assign(Iterator first, Iterator last) {
    Vec(first, last).swap(*this);
  }

  T* data() { return static_cast<T*>(data_); }
  const T* data() const { return static_cast<const T*>(data_); }
  T* begin() { return static_cast<T*>(data_); }
  T* end() { return static_cast<T*>(data_) + size_; }
  const T* begin() const { return static_cast<const T*>(data_); }
  const T* end() const { return static_cast<const T*>(data_) + size_; }
  reverse_iterator rbegin() { return reverse_iterator(end()); }
  reverse_iterator rend() { return reverse_iterator(begin()); }
  const_reverse_iterator rbegin() const { return const_reverse_iterator(end()); }
  const_reverse_iterator rend() const { return const_reverse_iterator(begin()); }

  T& operator[](size_t index) { return static_cast<T*>(data_)[index]; }
  const T& operator[](size_t index) const { return static_cast<const T*>(data_)[index]; }
  T& front() { return static_cast<T*>(data_)[0]; }
  const T& front() const { return static_cast<const T*>(data_)[0]; }
  T& back() { return static_cast<T*>(data_)[size_ - 1]; }
  const T& back() const { return static_cast<const T*>(data_)[size_ - 1]; }

  void reserve(size_t capacity) { grow_to(capacity, sizeof(T), kVecRelocate<T>); }
  // Value-initialised elements (0 for numbers) where it grows.
  void resize(size_t size) {
    if (size <= size_) return truncate(size);
    reserve(grown(size));
    const size_t old_size = size_;
    try {
      for (; size_ < size; ++size_) new (end()) T();
    } catch (...) {
      truncate(old_size);
      throw;
    }
  }
  void resize(size_t size, const T& value) {
    if (size <= size_) return truncate(size);
    T copy(value);  // `value` may be an element, and growth moves the elements
    reserve(grown(size));
    const size_t old_size = size_;
    try {
      for (; size_ < size; ++size_) new (end()) T(copy);
    } catch (...) {
      truncate(old_size);
      throw;
    }
  }
  void clear() { truncate(0); }

  // By value, one function for copies and moves: `value` is the caller's copy (it may have
  // been an element) before growth moves the elements, and then is moved in.
  void push_back(T value) {
    grow_to(grown(size_ + 1), sizeof(T), kVecRelocate<T>);
    new (end()) T(std::move(value));
    ++size_;
  }
  template <class... Arguments>
  T& emplace_back(Arguments&&... arguments) {
    push_back(T(std::forward<Arguments>(arguments)...));
    return back();
  }
  void pop_back() { truncate(size_ - 1); }

  T* insert(const T* at, T value) {
    const size_t index = at - begin();
    push_back(std::move(value));
    move_appended_to(index, size_ - 1);
    return begin() + index;
  }
  template <class... Arguments>
  T* emplace(const T* at, Arguments&&... arguments) {
    return insert(at, T(std::forward<Arguments>(arguments)...));
  }
  // [first, last) must not be in this Vec (as for std::vector).
  template <class Iterator, class = std::enable_if_t<!std::is_integral<Iterator>::value>>
  T* insert(const T* at, Iterator first, Iterator last) {
    const size_t index = at - begin();
    const size_t old_size = size_;
    if constexpr (std::is_pointer<Iterator>::value) reserve(grown(size_ + (last - first)));
    try {
      for (; first != last; ++first) push_back(T(*first));
    } catch (...) {
      truncate(old_size);
      throw;
    }
    move_appended_to(index, old_size);
    return begin() + index;
  }
  T* insert(const T* at, std::initializer_list<T> values) {
    return insert(at, values.begin(), values.end());
  }
  T* insert(const T* at, size_t count, const T& value) {
    const size_t index = at - begin();
    const size_t old_size = size_;
    resize(size_ + count, value);
    move_appended_to(index, old_size);
    return begin() + index;
  }

  T* erase(const T* first, const T* last) {
    T* to = begin() + (first - begin());
    T* const erased = to;
    if (first != last) {
      for (T* from = to + (last - first); from != end(); ++from, ++to) *to = std::move(*from);
      truncate(to - begin());
    }
    return erased;
  }
  T* erase(const T* at) { return erase(at, at + 1); }

  friend bool operator==(const Vec& a, const Vec& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!(a[i] == b[i])) return false;
    }
    return true;
  }
  friend bool operator!=(const Vec& a, const Vec& b) { return !(a == b); }
};

}  // namespace mbcpu
