// Copyright 2026 the @metal-compute/kernels authors. MIT license.
// Metal 4's tensor API on the CPU backend: `<metal_tensor>` (tensor, extents, tensor_inline,
// cooperative_tensor) and the matmul of MetalPerformancePrimitives (mpp::tensor_ops::matmul2d,
// matmul2d_descriptor, execution_simdgroups<N>). metal_compat.h includes this file; compiler.cpp
// blanks `#include <metal_tensor>` and `#include <MetalPerformancePrimitives/...>` lines, as it
// does `<metal_stdlib>`.
//
// The semantics follow Apple's documentation of the API:
// - Extents list the innermost (contiguous) dimension first: a row-major R × C matrix is a
//   tensor of extents (C, R), and t(c, r) is element (r, c). A tensor_inline
//   tensor is a pointer, extents and strides; without strides it is packed (stride 1 for
//   dimension 0, each next stride the product of the extents before it).
// - matmul2d_descriptor(M, N, K, transpose_left, transpose_right, relaxed_precision, mode):
//   run(left, right, destination) computes destination = left · right (mode multiply) or
//   left · right + destination (multiply_accumulate), left M × K (K × M when transposed), right
//   K × N (N × K when transposed), destination M × N, each as a tensor whose extents list its
//   column count first. Elements read outside an operand's extents count as zero and
//   destination elements outside its extents are not written, so an edge tile can use a
//   smaller tensor.
// - The op runs on an execution scope: execution_simdgroups<N> is N SIMD-groups of the
//   threadgroup (N · 32 threads, from simdgroup 0) that call run together; execution_thread is
//   one thread doing all of it.
// - A cooperative tensor spreads a matrix over the threads of the scope, each holding
//   get_capacity() elements: element i of a thread is (coordinate get_multidimensional_index(i),
//   [0] the column and [1] the row), valid when is_valid_element(i). matmul2d hands out three:
//   the destination (M × N) and, for operands held in registers, the left and right inputs as
//   they are stored (M × K and K × N; K × M and N × K when transposed). Apple calls the layout
//   device specific. Here, on one SIMD-group and for whole 16 × 16 blocks, it is the one of
//   Apple's GPUs that MLX's NAX kernels rely on (they fill the input tensors from their own
//   16 × 16 fragments): the blocks in row-major order, eight elements of each per lane, lane l
//   holding rows r and r + 8 and columns c to c + 3 of the block, r = 4 · bit 4 of l + bits 1-2
//   of l, c = 4 · (2 · bit 3 of l + bit 0 of l), element j of a block at row r + 8 · (j / 4),
//   column c + j mod 4. Otherwise element e (row-major, e = row · columns + column) belongs to
//   thread e mod T of the scope at index e / T. A program that reads elements through
//   get_multidimensional_index is portable; one that assumes a layout works where its layout
//   is the device's.
// - Products accumulate in float (the destination's own type when it is wider), in increasing
//   k, each product an fma; the result is rounded once to the destination type. relaxed_precision
//   changes nothing here.
// run, load and store touch only the calling thread's elements and read operands as they are:
// like on a GPU, a kernel puts a threadgroup barrier between writing an operand and run. A run
// whose inputs are cooperative tensors is a collective of the scope (one SIMD-group, or one
// thread): every lane's operand elements are gathered with one SIMD exchange per 256 bytes.

#ifndef METAL_BRIDGE_CPU_MSL_METAL_TENSOR_H
#define METAL_BRIDGE_CPU_MSL_METAL_TENSOR_H

namespace metal {

// ---- extents -----------------------------------------------------------------------------------
inline constexpr size_t dynamic_extent = ~size_t(0);

template <class IndexType, size_t... Extents>
struct extents {
  using index_type = IndexType;
  using size_type = size_t;
  using rank_type = size_t;
  static constexpr size_t __rank = sizeof...(Extents);
  static constexpr size_t __static[__rank > 0 ? __rank : 1] = {Extents...};
  IndexType __e[__rank > 0 ? __rank : 1] = {};

  constexpr extents() {
    for (size_t r = 0; r < __rank; ++r)
      __e[r] = __static[r] == dynamic_extent ? IndexType(0) : IndexType(__static[r]);
  }
  // One value per dynamic extent, in order (or one per extent).
  template <class... I>
    requires(sizeof...(I) > 0)
  constexpr extents(I... values) {
    const IndexType given[] = {IndexType(values)...};
    if constexpr (sizeof...(I) == __rank) {
      for (size_t r = 0; r < __rank; ++r) __e[r] = given[r];
    } else {
      size_t d = 0;
      for (size_t r = 0; r < __rank; ++r)
        __e[r] = __static[r] == dynamic_extent ? given[d++] : IndexType(__static[r]);
    }
  }
  static constexpr size_t rank() { return __rank; }
  static constexpr size_t rank_dynamic() {
    size_t n = 0;
    for (size_t r = 0; r < __rank; ++r) n += __static[r] == dynamic_extent;
    return n;
  }
  static constexpr size_t static_extent(size_t r) { return __static[r]; }
  constexpr IndexType extent(size_t r) const { return __e[r]; }
};

template <class T, T... I>
struct __mb_index_sequence {};
template <class IndexType, class Seq>
struct __mb_dextents;
template <class IndexType, size_t... R>
struct __mb_dextents<IndexType, __mb_index_sequence<size_t, R...>> {
  using type = extents<IndexType, (R, dynamic_extent)...>;
};
// extents<IndexType, dynamic_extent, ... (Rank times)>.
template <class IndexType, size_t Rank>
using dextents =
    typename __mb_dextents<IndexType, __make_integer_seq<__mb_index_sequence, size_t, Rank>>::type;

// A coordinate, innermost dimension first (what get_multidimensional_index returns).
template <size_t Rank>
struct __mb_coord {
  int __c[Rank];
  int& operator[](size_t r) { return __c[r]; }
  const int& operator[](size_t r) const { return __c[r]; }
};

// ---- tensor ------------------------------------------------------------------------------------
struct tensor_inline {};
struct tensor_handle {};
struct tensor_offset {};

// The element type without its address space (the qualifier macros expand to nothing in a
// normal build and to address_space attributes when compiler.cpp checks address spaces).
template <class T>
struct __mb_tensor_value {
  using type = __remove_cv(T);
};
#if defined(__MB_ADDRESS_SPACES)
template <class T>
struct __mb_tensor_value<__attribute__((address_space(1))) T> {
  using type = __remove_cv(T);
};
template <class T>
struct __mb_tensor_value<__attribute__((address_space(2))) T> {
  using type = __remove_cv(T);
};
template <class T>
struct __mb_tensor_value<__attribute__((address_space(3))) T> {
  using type = __remove_cv(T);
};
#endif

template <class ElementType, class Extents, class Descriptor = tensor_handle, class... Tags>
struct tensor;

// A pointer, extents and strides (in elements). tensor_handle and tensor_offset tensors come
// from the host's MTLTensor objects, which the CPU backend does not bind.
template <class ElementType, class Extents>
struct tensor<ElementType, Extents, tensor_inline> {
  using element_type = ElementType;
  using value_type = typename __mb_tensor_value<ElementType>::type;
  using extents_type = Extents;
  using index_type = typename Extents::index_type;
  using data_handle_type = ElementType*;
  using reference = ElementType&;
  static constexpr size_t __rank = Extents::rank();

  ElementType* __data = nullptr;
  Extents __ext{};
  index_type __stride[__rank > 0 ? __rank : 1] = {};

  tensor() = default;
  tensor(ElementType* data, const Extents& ext) : __data(data), __ext(ext) {
    index_type s = 1;
    for (size_t r = 0; r < __rank; ++r) {
      __stride[r] = s;
      s *= ext.extent(r);
    }
  }
  template <class S>
  tensor(ElementType* data, const Extents& ext, const S& strides) : __data(data), __ext(ext) {
    for (size_t r = 0; r < __rank; ++r) __stride[r] = index_type(strides[r]);
  }

  static constexpr size_t get_rank() { return __rank; }
  index_type get_extent(size_t r) const { return __ext.extent(r); }
  index_type get_stride(size_t r) const { return __stride[r]; }
  const Extents& get_extents() const { return __ext; }
  ElementType* data() const { return __data; }

  // Whether the coordinates (innermost first) lie inside the extents.
  template <class... I>
  bool __mb_in_bounds(I... coords) const {
    const long c[] = {long(coords)...};
    for (size_t r = 0; r < sizeof...(I); ++r)
      if (c[r] < 0 || c[r] >= long(__ext.extent(r))) return false;
    return true;
  }
  template <class... I>
  ElementType* __mb_at(I... coords) const {
    static_assert(sizeof...(I) == __rank, "a tensor takes one coordinate per dimension");
    const long c[] = {long(coords)...};
    long offset = 0;
    for (size_t r = 0; r < __rank; ++r) offset += c[r] * long(__stride[r]);
    return __data + offset;
  }
  // t(x, y, ...) reads or writes an element. (MSL's t[x, y] is a C++23 multidimensional
  // subscript, which the CPU backend's C++20 build cannot declare; t[i] serves rank 1.)
  template <class... I>
  reference operator()(I... coords) const {
    return *__mb_at(coords...);
  }
  template <class I>
  reference operator[](I coord) const {
    return *__mb_at(coord);
  }
  // The sub-tensor starting at the given coordinates and reaching the end of each dimension
  // (slice(x, y)), or with the given static extents (slice<w, h>(x, y)).
  template <size_t... Sizes, class... I>
  auto slice(I... origin) const {
    static_assert(sizeof...(I) == __rank, "slice takes one origin coordinate per dimension");
    const long o[] = {long(origin)...};
    tensor view = *this;
    view.__data = __mb_at(origin...);
    if constexpr (sizeof...(Sizes) == 0) {
      for (size_t r = 0; r < __rank; ++r) view.__ext.__e[r] = __ext.extent(r) - index_type(o[r]);
    } else {
      static_assert(sizeof...(Sizes) == __rank, "slice<...> takes one extent per dimension");
      const size_t sizes[] = {Sizes...};
      for (size_t r = 0; r < __rank; ++r) view.__ext.__e[r] = index_type(sizes[r]);
    }
    return view;
  }
};

template <class E, class X>
tensor(E*, X) -> tensor<E, X, tensor_inline>;
template <class E, class X, class S>
tensor(E*, X, S) -> tensor<E, X, tensor_inline>;

// ---- execution scopes --------------------------------------------------------------------------
template <int N>
struct __MB_SYNC execution_simdgroups {
  static_assert(N >= 1, "execution_simdgroups<N> needs at least one SIMD-group");
  static constexpr uint __threads = uint(N) * MBK_SIMD_WIDTH;
  static uint __mb_thread() { return __mb_tid % __threads; }
};
using execution_simdgroup = execution_simdgroups<1>;
struct execution_thread {
  static constexpr uint __threads = 1;
  static uint __mb_thread() { return 0; }
};

// ---- cooperative tensor ------------------------------------------------------------------------
// Where the elements of a Rows × Cols matrix live over the threads of an execution scope (the
// layouts above): thread t's element i is valid(t, i) at coordinate coord(t, i).
template <int Cols, int Rows, class Scope>
struct __mb_cooperative_layout {
  static constexpr uint __threads = Scope::__threads;
  static constexpr uint __capacity = (uint(Rows) * uint(Cols) + __threads - 1) / __threads;
  // One SIMD-group over whole 16 × 16 blocks: the GPU's block layout.
  static constexpr bool __blocks = __threads == MBK_SIMD_WIDTH && Rows % 16 == 0 && Cols % 16 == 0;
  static bool valid(uint t, uint i) {
    if (i >= __capacity) return false;
    return __blocks || i * __threads + t < uint(Rows) * uint(Cols);
  }
  // [0] the column, [1] the row.
  static __mb_coord<2> coord(uint t, uint i) {
    if constexpr (__blocks) {
      const uint block = i / 8, j = i % 8;
      const uint row = (t >> 4 & 1) * 4 + (t >> 1 & 3) + (j / 4) * 8;
      const uint column = ((t >> 3 & 1) * 2 + (t & 1)) * 4 + j % 4;
      return __mb_coord<2>{
          {int(block % uint(Cols / 16) * 16 + column), int(block / uint(Cols / 16) * 16 + row)}};
    } else {
      const uint e = i * __threads + t;
      return __mb_coord<2>{{int(e % uint(Cols)), int(e / uint(Cols))}};
    }
  }
};

// An Rows × Cols matrix spread over the threads of an execution scope (layout above).
template <class T, int Cols, int Rows, class Scope>
struct __MB_SYNC __mb_cooperative_tensor {
  using element_type = T;
  using value_type = T;
  using extents_type = extents<int, size_t(Cols), size_t(Rows)>;
  using __layout = __mb_cooperative_layout<Cols, Rows, Scope>;
  static constexpr uint __threads = Scope::__threads;
  static constexpr uint __capacity = __layout::__capacity;
  T __el[__capacity] = {};

  static constexpr uint get_capacity() { return __capacity; }
  bool is_valid_element(uint i) const { return __layout::valid(Scope::__mb_thread(), i); }
  // [0] the column, [1] the row of element i.
  __mb_coord<2> get_multidimensional_index(uint i) const {
    return __layout::coord(Scope::__mb_thread(), i);
  }
  T& operator[](uint i) { return __el[i]; }
  const T& operator[](uint i) const { return __el[i]; }
  static constexpr int get_extent(size_t r) { return r == 0 ? Cols : Rows; }

  // Fills the thread's elements from a matrix tensor (extents: columns, rows); elements
  // outside it read as zero.
  template <class Tensor>
  void load(const Tensor& t) {
    for (uint i = 0; i < __capacity; ++i) {
      if (!is_valid_element(i)) continue;
      __mb_coord<2> c = get_multidimensional_index(i);
      __el[i] = t.__mb_in_bounds(c[0], c[1]) ? T(t(c[0], c[1])) : T(0);
    }
  }
  // Writes the thread's elements into a matrix tensor; elements outside it are dropped.
  template <class Tensor>
  void store(const Tensor& t) const {
    using V = typename Tensor::value_type;
    for (uint i = 0; i < __capacity; ++i) {
      if (!is_valid_element(i)) continue;
      __mb_coord<2> c = get_multidimensional_index(i);
      if (t.__mb_in_bounds(c[0], c[1])) t(c[0], c[1]) = V(__el[i]);
    }
  }
};

}  // namespace metal

// ---- MetalPerformancePrimitives: tensor_ops::matmul2d ------------------------------------------
namespace mpp {
namespace tensor_ops {
using metal::uint;

struct matmul2d_descriptor {
  enum class mode { multiply, multiply_accumulate };
  int m = 0, n = 0, k = 0;
  bool transpose_left = false, transpose_right = false, relaxed_precision = false;
  mode matmul_mode = mode::multiply;
  constexpr matmul2d_descriptor() = default;
  constexpr matmul2d_descriptor(int m_, int n_, int k_ = -1, bool transpose_left_ = false,
                                bool transpose_right_ = false, bool relaxed_precision_ = false,
                                mode mode_ = mode::multiply)
      : m(m_),
        n(n_),
        k(k_),
        transpose_left(transpose_left_),
        transpose_right(transpose_right_),
        relaxed_precision(relaxed_precision_),
        matmul_mode(mode_) {}
};

template <matmul2d_descriptor Desc, class Scope>
struct __MB_SYNC matmul2d {
  static_assert(Desc.m > 0 && Desc.n > 0, "matmul2d needs positive M and N");
  template <class T>
  using __destination = metal::__mb_cooperative_tensor<T, Desc.n, Desc.m, Scope>;

  // The operands as stored: M × K (K × M transposed) and K × N (N × K transposed).
  template <class T>
  using __left_input = metal::__mb_cooperative_tensor<T, Desc.transpose_left ? Desc.m : Desc.k,
                                                      Desc.transpose_left ? Desc.k : Desc.m, Scope>;
  template <class T>
  using __right_input =
      metal::__mb_cooperative_tensor<T, Desc.transpose_right ? Desc.k : Desc.n,
                                     Desc.transpose_right ? Desc.n : Desc.k, Scope>;

  // The cooperative destination for operands of the given tensor types (the types choose the
  // storage on a GPU; here only the element type matters).
  template <class Left, class Right, class T>
  static __destination<T> get_destination_cooperative_tensor() {
    return __destination<T>{};
  }
  // Left and right operands held in the scope's registers, filled element by element (index i
  // of a thread is the element get_multidimensional_index(i) of the operand as stored); run
  // takes them in place of tensors. Their K is the descriptor's, which must be static.
  template <class Left, class Right, class T>
  static __left_input<Left> get_left_input_cooperative_tensor() {
    static_assert(Desc.k > 0, "cooperative input tensors need a static K in the descriptor");
    return __left_input<Left>{};
  }
  template <class Left, class Right, class T>
  static __right_input<Right> get_right_input_cooperative_tensor() {
    static_assert(Desc.k > 0, "cooperative input tensors need a static K in the descriptor");
    return __right_input<Right>{};
  }

  // Every element of a cooperative operand, from the lanes holding them, into `out` (row-major,
  // as stored; zero where the owner is not running). One exchange per 256 bytes of each lane's
  // elements; on execution_thread the thread holds them all.
  template <class T, int Cols, int Rows>
  static void __gather(const metal::__mb_cooperative_tensor<T, Cols, Rows, Scope>& ct, float* out,
                       metal::__mb_site site) {
    using Layout = metal::__mb_cooperative_layout<Cols, Rows, Scope>;
    for (int e = 0; e < Rows * Cols; ++e) out[e] = 0.0f;
    if constexpr (Scope::__threads == 1) {
      for (uint i = 0; i < Layout::__capacity; ++i) {
        metal::__mb_coord<2> c = Layout::coord(0, i);
        if (Layout::valid(0, i)) out[c[1] * Cols + c[0]] = float(ct.__el[i]);
      }
    } else {
      static_assert(Scope::__threads == MBK_SIMD_WIDTH,
                    "cooperative input tensors run on execution_simdgroup or execution_thread "
                    "on the CPU backend");
      constexpr uint per = MBK_SIMD_SLOT_BYTES / sizeof(T) < Layout::__capacity
                               ? MBK_SIMD_SLOT_BYTES / sizeof(T)
                               : Layout::__capacity;
      struct Chunk {
        T v[per];
      };
      for (uint first = 0; first < Layout::__capacity; first += per) {
        Chunk mine{};
        for (uint j = 0; j < per && first + j < Layout::__capacity; ++j)
          mine.v[j] = ct.__el[first + j];
        metal::__mb_xchg x = metal::__mb_exchange(mine, site);
        for (uint lane = 0; lane < MBK_SIMD_WIDTH; ++lane) {
          if (!(x.active >> lane & 1)) continue;
          const Chunk theirs = x.at<Chunk>(lane);
          for (uint j = 0; j < per && first + j < Layout::__capacity; ++j) {
            if (!Layout::valid(lane, first + j)) continue;
            metal::__mb_coord<2> c = Layout::coord(lane, first + j);
            out[c[1] * Cols + c[0]] = float(theirs.v[j]);
          }
        }
      }
    }
  }

  // Element (row, k) of the left operand and (k, column) of the right one; zero outside.
  template <class L>
  static float __left(const L& t, int row, int k) {
    int x = Desc.transpose_left ? row : k, y = Desc.transpose_left ? k : row;
    return t.__mb_in_bounds(x, y) ? float(t(x, y)) : 0.0f;
  }
  template <class R>
  static float __right(const R& t, int k, int column) {
    int x = Desc.transpose_right ? k : column, y = Desc.transpose_right ? column : k;
    return t.__mb_in_bounds(x, y) ? float(t(x, y)) : 0.0f;
  }
  template <class L, class R>
  static int __depth(const L& left) {
    if (Desc.k > 0) return Desc.k;  // k = -1 (dynamic): the left operand's extent
    return int(left.get_extent(Desc.transpose_left ? 1 : 0));
  }
  template <class L, class R, class Acc>
  static Acc __dot(const L& left, const R& right, int row, int column, Acc acc) {
    const int depth = __depth<L, R>(left);
    for (int k = 0; k < depth; ++k)
      acc = __builtin_fma(Acc(__left(left, row, k)), Acc(__right(right, k, column)), acc);
    return acc;
  }

  // destination (cooperative) = left · right [+ destination]: the thread's own elements.
  template <class L, class R, class T>
  void run(const L& left, const R& right, __destination<T>& destination) const {
    using Acc = metal::conditional_t<(sizeof(T) > sizeof(float)), T, float>;
    for (uint i = 0; i < destination.get_capacity(); ++i) {
      if (!destination.is_valid_element(i)) continue;
      metal::__mb_coord<2> c = destination.get_multidimensional_index(i);
      Acc acc = Desc.matmul_mode == matmul2d_descriptor::mode::multiply_accumulate
                    ? Acc(destination[i])
                    : Acc(0);
      destination[i] = T(__dot(left, right, c[1], c[0], acc));
    }
  }
  // destination (cooperative) = left · right [+ destination], both operands cooperative tensors
  // of this op: a collective of the scope (every lane of it calls run at the same point).
  template <class TL, class TR, class T>
  void run(const __left_input<TL>& left, const __right_input<TR>& right,
           __destination<T>& destination,
           metal::__mb_site site = __builtin_source_location()) const {
    using Acc = metal::conditional_t<(sizeof(T) > sizeof(float)), T, float>;
    constexpr int M = Desc.m, N = Desc.n, K = Desc.k;
    float a[M * K], b[K * N];  // a[m][k] and b[k][n] once gathered, untransposed below
    __gather(left, a, site);
    __gather(right, b, site);
    for (uint i = 0; i < destination.get_capacity(); ++i) {
      if (!destination.is_valid_element(i)) continue;
      metal::__mb_coord<2> c = destination.get_multidimensional_index(i);
      const int row = c[1], column = c[0];
      Acc acc = Desc.matmul_mode == matmul2d_descriptor::mode::multiply_accumulate
                    ? Acc(destination[i])
                    : Acc(0);
      for (int k = 0; k < K; ++k) {
        const float l = Desc.transpose_left ? a[k * M + row] : a[row * K + k];
        const float r = Desc.transpose_right ? b[column * K + k] : b[k * N + column];
        acc = __builtin_fma(Acc(l), Acc(r), acc);
      }
      destination[i] = T(acc);
    }
  }
  // destination (a tensor, extents (N, M)) = left · right [+ destination]: the elements are
  // shared out over the scope's threads as a cooperative destination would be.
  template <class L, class R, class D>
    requires requires(const D& d) { d.__mb_in_bounds(0, 0); }
  void run(const L& left, const R& right, const D& destination) const {
    using V = typename D::value_type;
    using Acc = metal::conditional_t<(sizeof(V) > sizeof(float)), V, float>;
    __destination<V> owner;
    for (uint i = 0; i < owner.get_capacity(); ++i) {
      if (!owner.is_valid_element(i)) continue;
      metal::__mb_coord<2> c = owner.get_multidimensional_index(i);
      if (!destination.__mb_in_bounds(c[0], c[1])) continue;
      Acc acc = Desc.matmul_mode == matmul2d_descriptor::mode::multiply_accumulate
                    ? Acc(destination(c[0], c[1]))
                    : Acc(0);
      destination(c[0], c[1]) = V(__dot(left, right, c[1], c[0], acc));
    }
  }
};

}  // namespace tensor_ops
}  // namespace mpp

#endif  // METAL_BRIDGE_CPU_MSL_METAL_TENSOR_H
