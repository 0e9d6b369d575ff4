// metal_compat.h — the Metal Shading Language standard library, as far as compute kernels use it,
// for MSL compiled as C++ by clang on the CPU backend. Force-included (-include) into every kernel
// module after compiler.cpp has rewritten the MSL source (see compiler.cpp for what it rewrites).
//
// Design notes (see docs/architecture.md, "Pitfalls of MSL as C++"):
// - Vectors are clang ext_vector_type (swizzles work); half = _Float16, bfloat = __bf16.
// - MSL constructor syntax `float4(a, b)` is rewritten by the compiler to
// metal::__mb_make<float4>(..),
//   a value-converting, flattening constructor (a C-style vector cast would be a bitcast).
// - No libm header is included: its global exp/log/... overloads would make `exp(x)` ambiguous
//   next to `using namespace metal;`. Math goes through clang builtins.
// - Barriers and SIMD-group collectives call back into the runtime (kernel_module.h services).
#pragma once
#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include "../kernel_module.h"

// Barriers and SIMD-group/quad collectives, and the types whose operations are shared out over a
// SIMD-group's lanes, are declared __MB_SYNC: a kernel reaching one runs its threads as fibers (or
// as work-item loops). The front end reads the annotation from this header's AST once
// (compiler.cpp sync_declarations, with __MB_HEADER_FACTS defined); elsewhere it is nothing.
#ifdef __MB_HEADER_FACTS
#define __MB_SYNC __attribute__((annotate("msl.sync")))
#else
#define __MB_SYNC
#endif

// No C++ standard library headers: they cost more compile time than the kernels themselves.
// What the header needs of <type_traits> comes from clang's builtin traits, and the one
// <source_location> type __builtin_source_location() requires is declared here (libstdc++'s
// layout, which kernel_module.h's MBK_SITE_SOURCE_LOCATION describes).
namespace std {
struct source_location {
  struct __impl {
    const char* _M_file_name;
    const char* _M_function_name;
    unsigned _M_line;
    unsigned _M_column;
  };
};
template <bool B, class T = void>
struct enable_if {};
template <class T>
struct enable_if<true, T> {
  typedef T type;
};
template <bool B, class T = void>
using enable_if_t = typename enable_if<B, T>::type;
template <bool B, class T, class F>
struct conditional {
  typedef T type;
};
template <class T, class F>
struct conditional<false, T, F> {
  typedef F type;
};
template <bool B, class T, class F>
using conditional_t = typename conditional<B, T, F>::type;
template <class T>
using remove_cvref_t = __remove_cvref(T);
template <class T>
using remove_reference_t = __remove_reference_t(T);
template <class T>
using make_unsigned_t = __make_unsigned(T);
template <class T, class U>
constexpr bool is_same_v = __is_same(T, U);
template <class T>
constexpr bool is_integral_v = __is_integral(T);
template <class T>
constexpr bool is_floating_point_v = __is_floating_point(T);
template <class T>
constexpr bool is_signed_v = __is_signed(T);
template <class T>
constexpr bool is_pointer_v = __is_pointer(T);
template <class T>
constexpr bool is_class_v = __is_class(T);
}  // namespace std

#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define HUGE_VALF __builtin_huge_valf()
#define MAXFLOAT FLT_MAX
#define HALF_MAX ((half)65504.0f)
#define MAXHALF HALF_MAX
#define HALF_MIN ((half)6.103515625e-05f)
#define HALF_EPSILON ((half)0.0009765625f)
#define M_E_F 2.71828182845904523536f
#define M_LOG2E_F 1.44269504088896340736f
#define M_LOG10E_F 0.434294481903251827651f
#define M_LN2_F 0.693147180559945309417f
#define M_LN10_F 2.30258509299404568402f
#define M_PI_F 3.14159265358979323846f
#define M_PI_2_F 1.57079632679489661923f
#define M_PI_4_F 0.785398163397448309616f
#define M_1_PI_F 0.318309886183790671538f
#define M_2_PI_F 0.636619772367581343076f
#define M_2_SQRTPI_F 1.12837916709551257390f
#define M_SQRT2_F 1.41421356237309504880f
#define M_SQRT1_2_F 0.707106781186547524401f
#define M_PI_H ((half)M_PI_F)
#define M_E_H ((half)M_E_F)
#define M_LOG2E_H ((half)M_LOG2E_F)
#define M_SQRT2_H ((half)M_SQRT2_F)

namespace metal {

typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
typedef unsigned long ulong;
typedef _Float16 half;
typedef __bf16 bfloat;
typedef ::size_t size_t;
typedef ::ptrdiff_t ptrdiff_t;

template <class T, int N>
using vec = T __attribute__((ext_vector_type(N)));

#define __MB_VECS(T)                                                               \
  typedef T T##2 __attribute__((ext_vector_type(2)));                              \
  typedef T T##3 __attribute__((ext_vector_type(3)));                              \
  typedef T T##4 __attribute__((ext_vector_type(4)));                              \
  typedef T packed_##T##2 __attribute__((ext_vector_type(2), aligned(sizeof(T)))); \
  typedef T packed_##T##4 __attribute__((ext_vector_type(4), aligned(sizeof(T))));
__MB_VECS(float)
__MB_VECS(half)
__MB_VECS(bfloat)
__MB_VECS(int)
__MB_VECS(uint)
__MB_VECS(short)
__MB_VECS(ushort)
__MB_VECS(char)
__MB_VECS(uchar)
__MB_VECS(long)
__MB_VECS(ulong)
#undef __MB_VECS

// Boolean vectors: MSL's bool2/3/4 are 2/4/4 bytes of 0/1 (clang's bool ext vectors are
// bit-packed and reject comparisons' int-vector results). A small struct: built from any
// comparison result (nonzero is true), elements .x .y .z .w (.r .g .b .a) and [i], logical
// and bitwise operators; multi-letter swizzles are not supported on bool vectors.
template <int N>
struct __mb_bvec_base;
template <>
struct alignas(2) __mb_bvec_base<2> {
  union {
    bool __e[2];
    struct {
      bool x, y;
    };
    struct {
      bool r, g;
    };
  };
};
template <>
struct alignas(4) __mb_bvec_base<3> {
  union {
    bool __e[4];
    struct {
      bool x, y, z;
    };
    struct {
      bool r, g, b;
    };
  };
};
template <>
struct alignas(4) __mb_bvec_base<4> {
  union {
    bool __e[4];
    struct {
      bool x, y, z, w;
    };
    struct {
      bool r, g, b, a;
    };
  };
};
template <int N>
struct __mb_bvec : __mb_bvec_base<N> {
  __mb_bvec() = default;
  constexpr __mb_bvec(bool s) {
    for (int i = 0; i < N; ++i) this->__e[i] = s;
  }
  template <class... B, std::enable_if_t<sizeof...(B) == N && (N > 1), int> = 0>
  constexpr __mb_bvec(B... b) {
    int i = 0;
    ((this->__e[i++] = (bool)b), ...);
  }
  template <class T, int M, std::enable_if_t<M == N, int> = 0>
  constexpr __mb_bvec(vec<T, M> v) {
    for (int i = 0; i < N; ++i) this->__e[i] = v[i] != 0;
  }
  constexpr bool& operator[](int i) { return this->__e[i]; }
  constexpr const bool& operator[](int i) const { return this->__e[i]; }
  template <class F>
  constexpr __mb_bvec map(F f) const {
    __mb_bvec r;
    for (int i = 0; i < N; ++i) r.__e[i] = f(this->__e[i]);
    return r;
  }
  template <class F>
  constexpr __mb_bvec zip(const __mb_bvec& o, F f) const {
    __mb_bvec r;
    for (int i = 0; i < N; ++i) r.__e[i] = f(this->__e[i], o.__e[i]);
    return r;
  }
  constexpr __mb_bvec operator!() const {
    return map([](bool a) { return !a; });
  }
  constexpr __mb_bvec operator~() const {
    return map([](bool a) { return !a; });
  }
  friend constexpr __mb_bvec operator&&(const __mb_bvec& a, const __mb_bvec& b) {
    return a.zip(b, [](bool p, bool q) { return p && q; });
  }
  friend constexpr __mb_bvec operator||(const __mb_bvec& a, const __mb_bvec& b) {
    return a.zip(b, [](bool p, bool q) { return p || q; });
  }
  friend constexpr __mb_bvec operator&(const __mb_bvec& a, const __mb_bvec& b) {
    return a.zip(b, [](bool p, bool q) { return p && q; });
  }
  friend constexpr __mb_bvec operator|(const __mb_bvec& a, const __mb_bvec& b) {
    return a.zip(b, [](bool p, bool q) { return p || q; });
  }
  friend constexpr __mb_bvec operator^(const __mb_bvec& a, const __mb_bvec& b) {
    return a.zip(b, [](bool p, bool q) { return p != q; });
  }
  friend constexpr __mb_bvec operator==(const __mb_bvec& a, const __mb_bvec& b) {
    return a.zip(b, [](bool p, bool q) { return p == q; });
  }
  friend constexpr __mb_bvec operator!=(const __mb_bvec& a, const __mb_bvec& b) {
    return a.zip(b, [](bool p, bool q) { return p != q; });
  }
  __mb_bvec& operator&=(const __mb_bvec& o) { return *this = *this & o; }
  __mb_bvec& operator|=(const __mb_bvec& o) { return *this = *this | o; }
  __mb_bvec& operator^=(const __mb_bvec& o) { return *this = *this ^ o; }
};
typedef __mb_bvec<2> bool2;
typedef __mb_bvec<3> bool3;
typedef __mb_bvec<4> bool4;
typedef __mb_bvec<2> packed_bool2;
typedef __mb_bvec<4> packed_bool4;

// ---- type traits ------------------------------------------------------------------------------
template <class T>
struct __mb_vt {
  using elem = T;
  static constexpr int n = 1;
  static constexpr bool is_vec = false;
};
template <class T, int N>
struct __mb_vt<vec<T, N>> {
  using elem = T;
  static constexpr int n = N;
  static constexpr bool is_vec = true;
};
template <int N>
struct __mb_vt<__mb_bvec<N>> {
  using elem = bool;
  static constexpr int n = N;
  static constexpr bool is_vec = true;
};
template <class T>
constexpr bool __mb_is_bvec = false;
template <int N>
constexpr bool __mb_is_bvec<__mb_bvec<N>> = true;
template <class T>
using __mb_elem = typename __mb_vt<std::remove_cvref_t<T>>::elem;
template <class T>
constexpr bool __mb_is_vec = __mb_vt<std::remove_cvref_t<T>>::is_vec;
template <class T>
constexpr int __mb_n = __mb_vt<std::remove_cvref_t<T>>::n;
template <class T>
constexpr bool __mb_is_fp_scalar =
    std::is_floating_point_v<T> || std::is_same_v<T, half> || std::is_same_v<T, bfloat>;
template <class T>
constexpr bool __mb_is_fp = __mb_is_fp_scalar<__mb_elem<T>>;
template <class T>
constexpr bool __mb_is_int = std::is_integral_v<__mb_elem<T>>;
// The same shape with another element type.
template <class E, class T>
struct __mb_with {
  using type = E;
};
template <class E, class T, int N>
struct __mb_with<E, vec<T, N>> {
  using type = vec<E, N>;
};
template <class E, int N>
struct __mb_with<E, __mb_bvec<N>> {
  using type = vec<E, N>;
};
template <class T, int N>
struct __mb_with<bool, vec<T, N>> {
  using type = __mb_bvec<N>;
};
template <class E, class T>
using __mb_with_t = typename __mb_with<E, std::remove_cvref_t<T>>::type;

// <metal_type_traits>: the C++ traits Metal offers in namespace metal, plus its vector traits
// (vec_elements, make_scalar, is_vector). Built on clang's trait builtins (no <type_traits>).
template <class T, T V>
struct integral_constant {
  static constexpr T value = V;
  using value_type = T;
  using type = integral_constant;
  constexpr operator T() const { return V; }
  constexpr T operator()() const { return V; }
};
template <bool B>
using bool_constant = integral_constant<bool, B>;
using true_type = bool_constant<true>;
using false_type = bool_constant<false>;
using std::conditional;
using std::conditional_t;
using std::enable_if;
using std::enable_if_t;
template <class T>
struct remove_cv {
  using type = __remove_cv(T);
};
template <class T>
struct remove_const {
  using type = __remove_const(T);
};
template <class T>
struct remove_volatile {
  using type = __remove_volatile(T);
};
template <class T>
struct remove_reference {
  using type = __remove_reference_t(T);
};
template <class T>
struct remove_cvref {
  using type = __remove_cvref(T);
};
template <class T>
struct remove_pointer {
  using type = __remove_pointer(T);
};
template <class T>
struct remove_extent {
  using type = __remove_extent(T);
};
template <class T>
struct remove_all_extents {
  using type = __remove_all_extents(T);
};
template <class T>
struct add_const {
  using type = const T;
};
template <class T>
struct add_volatile {
  using type = volatile T;
};
template <class T>
struct add_cv {
  using type = const volatile T;
};
template <class T>
struct add_pointer {
  using type = __add_pointer(T);
};
template <class T>
struct add_lvalue_reference {
  using type = __add_lvalue_reference(T);
};
template <class T>
struct add_rvalue_reference {
  using type = __add_rvalue_reference(T);
};
template <class T>
struct decay {
  using type = __decay(T);
};
template <class T>
struct make_signed {
  using type = __make_signed(T);
};
template <class T>
struct make_unsigned {
  using type = __make_unsigned(T);
};
template <class T>
struct underlying_type {
  using type = __underlying_type(T);
};
template <class T>
struct remove_address_space {
  using type = T;
};
template <class T>
using remove_cv_t = __remove_cv(T);
template <class T>
using remove_const_t = __remove_const(T);
template <class T>
using remove_volatile_t = __remove_volatile(T);
template <class T>
using remove_reference_t = __remove_reference_t(T);
template <class T>
using remove_cvref_t = __remove_cvref(T);
template <class T>
using remove_pointer_t = __remove_pointer(T);
template <class T>
using remove_extent_t = __remove_extent(T);
template <class T>
using remove_all_extents_t = __remove_all_extents(T);
template <class T>
using add_const_t = const T;
template <class T>
using add_pointer_t = __add_pointer(T);
template <class T>
using add_lvalue_reference_t = __add_lvalue_reference(T);
template <class T>
using add_rvalue_reference_t = __add_rvalue_reference(T);
template <class T>
using decay_t = __decay(T);
template <class T>
using make_signed_t = __make_signed(T);
template <class T>
using make_unsigned_t = __make_unsigned(T);
template <class T>
using underlying_type_t = __underlying_type(T);
template <class T>
using remove_address_space_t = T;
template <class T>
using remove_addrspace_t = T;
template <class T>
__add_rvalue_reference(T) declval() noexcept;
template <class T, class U>
struct is_same : bool_constant<__is_same(T, U)> {};
template <class T, class U>
constexpr bool is_same_v = __is_same(T, U);
#define __MB_TRAIT(NAME, EXPR)          \
  template <class T>                    \
  struct NAME : bool_constant<EXPR> {}; \
  template <class T>                    \
  constexpr bool NAME##_v = EXPR;
__MB_TRAIT(is_void, __is_void(T))
__MB_TRAIT(is_integral, __is_integral(T) || __is_same(__remove_cv(T), bool))
__MB_TRAIT(is_floating_point, __mb_is_fp_scalar<__remove_cv(T)>)
__MB_TRAIT(is_arithmetic, __is_integral(T) || __mb_is_fp_scalar<__remove_cv(T)>)
__MB_TRAIT(is_scalar, __is_scalar(T) || __mb_is_fp_scalar<__remove_cv(T)>)
__MB_TRAIT(is_signed, __is_signed(T) || __mb_is_fp_scalar<__remove_cv(T)>)
__MB_TRAIT(is_unsigned, __is_unsigned(T))
__MB_TRAIT(is_pointer, __is_pointer(T))
__MB_TRAIT(is_reference, __is_reference(T))
__MB_TRAIT(is_lvalue_reference, __is_lvalue_reference(T))
__MB_TRAIT(is_array, __is_array(T))
__MB_TRAIT(is_const, __is_const(T))
__MB_TRAIT(is_volatile, __is_volatile(T))
__MB_TRAIT(is_class, __is_class(T))
__MB_TRAIT(is_enum, __is_enum(T))
__MB_TRAIT(is_union, __is_union(T))
__MB_TRAIT(is_trivially_copyable, __is_trivially_copyable(T))
__MB_TRAIT(is_trivial, __is_trivial(T))
__MB_TRAIT(is_standard_layout, __is_standard_layout(T))
__MB_TRAIT(is_vector, __mb_vt<__remove_cv(T)>::is_vec)
#undef __MB_TRAIT
template <class F, class T>
struct is_convertible : bool_constant<__is_convertible(F, T)> {};
template <class F, class T>
constexpr bool is_convertible_v = __is_convertible(F, T);
template <class B, class D>
struct is_base_of : bool_constant<__is_base_of(B, D)> {};
template <class B, class D>
constexpr bool is_base_of_v = __is_base_of(B, D);
template <class T, class... A>
struct is_constructible : bool_constant<__is_constructible(T, A...)> {};
template <class T, class... A>
constexpr bool is_constructible_v = __is_constructible(T, A...);
template <class... B>
struct conjunction : true_type {};
template <class B, class... R>
struct conjunction<B, R...> : conditional_t<bool(B::value), conjunction<R...>, B> {};
template <class... B>
struct disjunction : false_type {};
template <class B, class... R>
struct disjunction<B, R...> : conditional_t<bool(B::value), B, disjunction<R...>> {};
template <class B>
struct negation : bool_constant<!bool(B::value)> {};
template <class... B>
struct _conjunction : conjunction<B...> {};  // Apple's internal names
template <class... B>
struct _disjunction : disjunction<B...> {};
template <class... B>
constexpr bool conjunction_v = conjunction<B...>::value;
template <class... B>
constexpr bool disjunction_v = disjunction<B...>::value;
// Vector traits: element count (1 for scalars), element type, and a vector of another length.
template <class T>
struct vec_elements : integral_constant<int, __mb_vt<__remove_cv(T)>::n> {};
template <class T>
constexpr int vec_elements_v = vec_elements<T>::value;
template <class T>
struct make_scalar {
  using type = __mb_elem<T>;
};
template <class T>
using make_scalar_t = __mb_elem<T>;
template <class T, int N>
struct make_vector {
  using type = vec<__mb_elem<T>, N>;
};
template <class T, int N>
using make_vector_t = vec<__mb_elem<T>, N>;

// Packed 3-vectors are 3 elements with no padding (12 bytes for float), unlike float3 (16 bytes).
template <class T>
struct __mb_packed3 {
  T x, y, z;
  __mb_packed3() = default;
  constexpr __mb_packed3(T a, T b, T c) : x(a), y(b), z(c) {}
  __mb_packed3(vec<T, 3> v) : x(v.x), y(v.y), z(v.z) {}
  operator vec<T, 3>() const { return vec<T, 3>{x, y, z}; }
  T& operator[](int i) { return (&x)[i]; }
  const T& operator[](int i) const { return (&x)[i]; }
};
typedef __mb_packed3<float> packed_float3;
typedef __mb_packed3<half> packed_half3;
typedef __mb_packed3<bfloat> packed_bfloat3;
typedef __mb_packed3<int> packed_int3;
typedef __mb_packed3<uint> packed_uint3;
typedef __mb_packed3<short> packed_short3;
typedef __mb_packed3<ushort> packed_ushort3;
typedef __mb_packed3<char> packed_char3;
typedef __mb_packed3<uchar> packed_uchar3;

// ---- constructors and conversions --------------------------------------------------------------
template <class E, class V>
inline void __mb_put(V& r, int& i, const auto& a) {
  using A = std::remove_cvref_t<decltype(a)>;
  if constexpr (__mb_is_vec<A>) {
    for (int k = 0; k < __mb_n<A>; ++k) r[i++] = (E)a[k];
  } else if constexpr (std::is_class_v<A>) {  // packed_T3
    r[i++] = (E)a.x;
    r[i++] = (E)a.y;
    r[i++] = (E)a.z;
  } else {
    r[i++] = (E)a;
  }
}
template <class A>
constexpr inline A __mb_first(A a) {
  return a;
}
// MSL's vector constructor: float4(x) splats, float4(v) converts values, float4(v.xy, z, w)
// flattens. Constexpr when every argument is a scalar.
template <class V, class... A>
constexpr inline V __mb_make(A... a) {
  using E = __mb_elem<V>;
  constexpr int N = __mb_n<V>;
  if constexpr (!__mb_is_vec<V>) {  // an alias the compiler took for a vector type: a plain cast
    return V(a...);
  } else if constexpr (sizeof...(A) == 0) {
    return V{};
  } else if constexpr (sizeof...(A) == 1 && (!__mb_is_vec<A> && ...) &&
                       (!std::is_class_v<A> && ...)) {
    return (V)(E)(__mb_first(a...));
  } else if constexpr (sizeof...(A) == 1 && (__mb_is_vec<A> && ...)) {
    static_assert(((__mb_n<A> == N) && ...), "vector constructor: size mismatch");
    if constexpr (__mb_is_bvec<V> || (__mb_is_bvec<A> || ...)) {
      V r{};
      int i = 0;
      (__mb_put<E>(r, i, a), ...);
      return r;
    } else {
      return __builtin_convertvector(__mb_first(a...), V);
    }
  } else if constexpr (sizeof...(A) == N && ((!__mb_is_vec<A> && !std::is_class_v<A>) && ...)) {
    return V{(E)a...};
  } else {
    V r{};
    int i = 0;
    (__mb_put<E>(r, i, a), ...);
    return r;
  }
}
// A vector comparison's result (int vector of -1/0 in clang) as MSL's bool vector.
template <class T>
constexpr inline auto __mb_truth(T v) {
  if constexpr (__mb_is_vec<T> && !__mb_is_bvec<T>)
    return __mb_bvec<__mb_n<T>>(v);
  else
    return v;
}
// static_cast<vector type>(x): a value conversion in MSL, a bitcast in clang.
template <class V, class A>
constexpr inline V __mb_cast(const A& a) {
  if constexpr (__mb_is_vec<V> && (__mb_is_vec<A> || !std::is_class_v<A>))
    return __mb_make<V>(a);
  else if constexpr (!__mb_is_vec<A> && (std::is_same_v<V, half> || std::is_same_v<V, bfloat>) &&
                     (std::is_same_v<A, half> || std::is_same_v<A, bfloat>))
    return static_cast<V>(static_cast<float>(a));  // clang has no direct half <-> bfloat conversion
  else if constexpr (requires { static_cast<V>(a); })
    return static_cast<V>(a);
  else
    return (V)a;  // a C-style cast to a template parameter: whatever that cast does
}
// A braced list passed as a call's argument (`f({a, b, c})`, rewritten by compiler.cpp): clang
// list-initialises ext_vector types in declarations but not in calls. This object converts to
// the parameter's type by list-initialising it from the values, as the call would.
template <class F>
struct __mb_braced_list {
  F __make;
  template <class V>
  constexpr operator V() const {
    return __make.template operator()<V>();
  }
};
template <class... A>
constexpr inline auto __mb_braced(A... a) {
  auto make = [=]<class V>() -> V { return V{a...}; };
  return __mb_braced_list<decltype(make)>{make};
}
template <class T, class U>
inline T as_type(const U& u) {
  static_assert(sizeof(T) == sizeof(U), "as_type: size mismatch");
  return __builtin_bit_cast(T, u);
}

// ---- numeric_limits ----------------------------------------------------------------------------
// numeric_limits<T> derives from _numeric_limits_impl<T>, the name Apple's header specialises
// (and that real-world kernels specialise for their own types).
template <class T>
struct _numeric_limits_impl;
template <class T>
struct __mb_int_limits {
  static constexpr bool is_specialized = true, is_signed = __is_signed(T), is_integer = true,
                        has_infinity = false, has_quiet_NaN = false;
  static constexpr int digits = (int)sizeof(T) * 8 - (is_signed ? 1 : 0);
  static constexpr T min() { return is_signed ? (T)((T)1 << digits) : (T)0; }
  static constexpr T lowest() { return min(); }
  static constexpr T max() { return (T)~min(); }
  static constexpr T epsilon() { return 0; }
};
template <>
struct _numeric_limits_impl<bool> : __mb_int_limits<bool> {
  static constexpr int digits = 1;
  static constexpr bool min() { return false; }
  static constexpr bool lowest() { return false; }
  static constexpr bool max() { return true; }
};
template <>
struct _numeric_limits_impl<char> : __mb_int_limits<char> {};
template <>
struct _numeric_limits_impl<signed char> : __mb_int_limits<signed char> {};
template <>
struct _numeric_limits_impl<unsigned char> : __mb_int_limits<unsigned char> {};
template <>
struct _numeric_limits_impl<short> : __mb_int_limits<short> {};
template <>
struct _numeric_limits_impl<unsigned short> : __mb_int_limits<unsigned short> {};
template <>
struct _numeric_limits_impl<int> : __mb_int_limits<int> {};
template <>
struct _numeric_limits_impl<unsigned int> : __mb_int_limits<unsigned int> {};
template <>
struct _numeric_limits_impl<long> : __mb_int_limits<long> {};
template <>
struct _numeric_limits_impl<unsigned long> : __mb_int_limits<unsigned long> {};
template <>
struct _numeric_limits_impl<float> {
  static constexpr bool is_specialized = true, is_signed = true, is_integer = false,
                        has_infinity = true, has_quiet_NaN = true;
  static constexpr int digits = FLT_MANT_DIG;
  static constexpr float min() { return FLT_MIN; }
  static constexpr float max() { return FLT_MAX; }
  static constexpr float lowest() { return -FLT_MAX; }
  static constexpr float epsilon() { return FLT_EPSILON; }
  static constexpr float infinity() { return __builtin_inff(); }
  static constexpr float quiet_NaN() { return __builtin_nanf(""); }
  static constexpr float denorm_min() { return __FLT_DENORM_MIN__; }
};
template <>
struct _numeric_limits_impl<half> {
  static constexpr bool is_specialized = true, is_signed = true, is_integer = false,
                        has_infinity = true, has_quiet_NaN = true;
  static constexpr int digits = 11;
  static constexpr half min() { return (half)6.103515625e-05f; }
  static constexpr half max() { return (half)65504.0f; }
  static constexpr half lowest() { return (half)-65504.0f; }
  static constexpr half epsilon() { return (half)0.0009765625f; }
  static constexpr half infinity() { return (half)__builtin_inff(); }
  static constexpr half quiet_NaN() { return (half)__builtin_nanf(""); }
  static constexpr half denorm_min() { return (half)5.9604644775390625e-08f; }
};
template <>
struct _numeric_limits_impl<bfloat> {
  static constexpr bool is_specialized = true, is_signed = true, is_integer = false,
                        has_infinity = true, has_quiet_NaN = true;
  static constexpr int digits = 8;
  static constexpr bfloat min() { return (bfloat)1.17549435e-38f; }
  static constexpr bfloat max() { return __builtin_bit_cast(bfloat, (unsigned short)0x7f7f); }
  static constexpr bfloat lowest() { return __builtin_bit_cast(bfloat, (unsigned short)0xff7f); }
  static constexpr bfloat epsilon() { return (bfloat)0.0078125f; }
  static constexpr bfloat infinity() { return (bfloat)__builtin_inff(); }
  static constexpr bfloat quiet_NaN() { return (bfloat)__builtin_nanf(""); }
};
template <class T>
struct numeric_limits : _numeric_limits_impl<T> {};
template <class T>
struct numeric_limits<const T> : numeric_limits<T> {};

// ---- math --------------------------------------------------------------------------------------
// Floating math runs in float (as Metal's half math effectively does) and converts back.
template <class T>
using __mb_f32 = __mb_with_t<float, T>;
template <class T>
inline auto __mb_tof(T x) {
  if constexpr (__mb_is_vec<T>)
    return __builtin_convertvector(x, __mb_f32<T>);
  else
    return (float)x;
}
template <class T, class F>
inline T __mb_fromf(F x) {
  if constexpr (__mb_is_vec<T>)
    return __builtin_convertvector(x, T);
  else
    return (T)x;
}
template <class V, class F>
inline V __mb_each(V v, F f) {
  if constexpr (__mb_is_vec<V>) {
    V r;
    for (int i = 0; i < __mb_n<V>; ++i) r[i] = f(v[i]);
    return r;
  } else {
    return f(v);
  }
}
template <class V, class F>
inline V __mb_each2(V a, V b, F f) {
  if constexpr (__mb_is_vec<V>) {
    V r;
    for (int i = 0; i < __mb_n<V>; ++i) r[i] = f(a[i], b[i]);
    return r;
  } else {
    return f(a, b);
  }
}
// Result type of a two-argument function where one side may be a scalar (broadcast).
template <class A, class B>
struct __mb_common {
  using type = std::conditional_t<
      __mb_is_vec<A>, A,
      std::conditional_t<__mb_is_vec<B>, B,
                         std::conditional_t<std::is_integral_v<A> && __mb_is_fp_scalar<B>, B, A>>>;
};
template <class A, class B>
using __mb_common_t = typename __mb_common<std::remove_cvref_t<A>, std::remove_cvref_t<B>>::type;
template <class R, class A>
inline R __mb_bc(A a) {
  if constexpr (__mb_is_vec<A>)
    return a;
  else
    return (R)(__mb_elem<R>)a;
}

#define __MB_FP_T template <class T, std::enable_if_t<__mb_is_fp<T>, int> = 0>
#define __MB_UNARY(NAME, EXPR)   \
  __MB_FP_T inline T NAME(T x) { \
    auto v = __mb_tof(x);        \
    return __mb_fromf<T>(EXPR);  \
  }
// exp of a float or float vector, inline so that loops calling it vectorise (a call into libm
// does not, and one call per element costs more than the arithmetic): exp(x) = 2^n exp(r) with
// n = round(x log2(e)) and r = x - n ln(2) (ln(2) in two parts, n * hi exact), |r| <= ln(2)/2,
// exp(r) by its Taylor polynomial of degree 7 (truncation below 0.1 ulp there), and 2^n applied
// in two halves so that results down to the subnormals come out right. About 1 ulp; exp of NaN
// is NaN, of -inf 0, of +inf inf.
template <class V>
inline V __mb_exp(V x) {
  using I = __mb_with_t<int, V>;
  const V c = __builtin_elementwise_min(__builtin_elementwise_max(x, (V)-105.0f), (V)88.8f);
  const V n = __builtin_elementwise_roundeven(c * 1.44269504088896341f);
  const V r = (c - n * 0.693145751953125f) - n * 1.4286068203094172e-06f;
  V p = (V)(1.0f / 5040.0f);
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  I k;
  if constexpr (__mb_is_vec<V>)
    k = __builtin_convertvector(n, I);
  else
    k = (int)n;
  const I k1 = k >> 1, k2 = k - k1;
  // The fence keeps fast math from multiplying the two halves first (2^128 overflows).
  const V y = __arithmetic_fence(p * __builtin_bit_cast(V, (k1 + 127) << 23)) *
              __builtin_bit_cast(V, (k2 + 127) << 23);
  if constexpr (__mb_is_vec<V>) {
    const I nan = x != x;
    return __builtin_bit_cast(V,
                              (__builtin_bit_cast(I, y) & ~nan) | (__builtin_bit_cast(I, x) & nan));
  } else {
    return x != x ? x : y;
  }
}
__MB_UNARY(exp, __mb_exp(v))
__MB_UNARY(exp2, __builtin_elementwise_exp2(v))
__MB_UNARY(exp10, __builtin_elementwise_exp(v * 2.302585092994046f))
__MB_UNARY(log, __builtin_elementwise_log(v))
__MB_UNARY(log2, __builtin_elementwise_log2(v))
__MB_UNARY(log10, __builtin_elementwise_log10(v))
__MB_UNARY(sqrt, __builtin_elementwise_sqrt(v))
__MB_UNARY(rsqrt, 1.0f / __builtin_elementwise_sqrt(v))
__MB_UNARY(sin, __builtin_elementwise_sin(v))
__MB_UNARY(cos, __builtin_elementwise_cos(v))
__MB_UNARY(tan, __mb_each(v, [](float a) { return __builtin_tanf(a); }))
__MB_UNARY(asin, __mb_each(v, [](float a) { return __builtin_asinf(a); }))
__MB_UNARY(acos, __mb_each(v, [](float a) { return __builtin_acosf(a); }))
__MB_UNARY(atan, __mb_each(v, [](float a) { return __builtin_atanf(a); }))
__MB_UNARY(sinh, __mb_each(v, [](float a) { return __builtin_sinhf(a); }))
__MB_UNARY(cosh, __mb_each(v, [](float a) { return __builtin_coshf(a); }))
__MB_UNARY(tanh, __mb_each(v, [](float a) { return __builtin_tanhf(a); }))
__MB_UNARY(asinh, __mb_each(v, [](float a) { return __builtin_asinhf(a); }))
__MB_UNARY(acosh, __mb_each(v, [](float a) { return __builtin_acoshf(a); }))
__MB_UNARY(atanh, __mb_each(v, [](float a) { return __builtin_atanhf(a); }))
__MB_UNARY(fabs, __builtin_elementwise_abs(v))
__MB_UNARY(floor, __builtin_elementwise_floor(v))
__MB_UNARY(ceil, __builtin_elementwise_ceil(v))
__MB_UNARY(round, __builtin_elementwise_round(v))
__MB_UNARY(rint, __builtin_elementwise_roundeven(v))
__MB_UNARY(trunc, __builtin_elementwise_trunc(v))
__MB_UNARY(fract, __builtin_elementwise_min(v - __builtin_elementwise_floor(v), 0x1.fffffep-1f))
__MB_UNARY(saturate, __builtin_elementwise_min(__builtin_elementwise_max(v, decltype(v)(0.0f)),
                                               decltype(v)(1.0f)))
__MB_UNARY(sign, __mb_each(v, [](float a) {
             return a > 0.0f ? 1.0f : a < 0.0f ? -1.0f : a == a ? 0.0f * a : 0.0f;
           }))
__MB_UNARY(sinpi, __builtin_elementwise_sin(v* M_PI_F))
__MB_UNARY(cospi, __builtin_elementwise_cos(v* M_PI_F))
#undef __MB_UNARY

#define __MB_BINARY(NAME, EXPR)                                                           \
  template <class A, class B, std::enable_if_t<__mb_is_fp<__mb_common_t<A, B>>, int> = 0> \
  inline __mb_common_t<A, B> NAME(A a, B b) {                                             \
    using R = __mb_common_t<A, B>;                                                        \
    auto x = __mb_tof(__mb_bc<R>(a));                                                     \
    auto y = __mb_tof(__mb_bc<R>(b));                                                     \
    return __mb_fromf<R>(EXPR);                                                           \
  }
__MB_BINARY(pow, __builtin_elementwise_pow(x, y))
__MB_BINARY(powr, __builtin_elementwise_pow(x, y))
__MB_BINARY(fmin, __builtin_elementwise_min(x, y))
__MB_BINARY(fmax, __builtin_elementwise_max(x, y))
__MB_BINARY(copysign, __builtin_elementwise_copysign(x, y))
__MB_BINARY(atan2, __mb_each2(x, y, [](float p, float q) { return __builtin_atan2f(p, q); }))
__MB_BINARY(fmod, __mb_each2(x, y, [](float p, float q) { return __builtin_fmodf(p, q); }))
__MB_BINARY(fdim, __builtin_elementwise_max(x - y, decltype(x)(0.0f)))
__MB_BINARY(step, __mb_each2(x, y, [](float e, float v) { return v < e ? 0.0f : 1.0f; }))
#undef __MB_BINARY
// sincos(x, cosval): returns the sine, stores the cosine.
template <class T>
inline T sincos(T x, T& cosval) {
  cosval = cos(x);
  return sin(x);
}
// divide(x, y) (fast:: and precise:: reach it through their using-directives).
template <class A, class B>
inline __mb_common_t<A, B> divide(A x, B y) {
  return __mb_bc<__mb_common_t<A, B>>(x) / __mb_bc<__mb_common_t<A, B>>(y);
}
template <class T>
inline T pown(T x, int n) {
  return pow(x, (__mb_elem<T>)n);
}
template <class T, class U>
inline T ldexp(T x, U e) {
  return x * exp2(__mb_cast<T>(e));
}

// min/max/clamp/abs for integers and floats (floats use fmin/fmax semantics).
template <class A, class B>
inline __mb_common_t<A, B> min(A a, B b) {
  using R = __mb_common_t<A, B>;
  if constexpr (__mb_is_fp<R>)
    return fmin(__mb_bc<R>(a), __mb_bc<R>(b));
  else
    return __builtin_elementwise_min(__mb_bc<R>(a), __mb_bc<R>(b));
}
template <class A, class B>
inline __mb_common_t<A, B> max(A a, B b) {
  using R = __mb_common_t<A, B>;
  if constexpr (__mb_is_fp<R>)
    return fmax(__mb_bc<R>(a), __mb_bc<R>(b));
  else
    return __builtin_elementwise_max(__mb_bc<R>(a), __mb_bc<R>(b));
}
template <class T, class L, class H>
inline T clamp(T x, L lo, H hi) {
  return min(max(x, lo), hi);
}
template <class T>
inline T abs(T x) {
  if constexpr (__mb_is_fp<T>)
    return fabs(x);
  else
    return __builtin_elementwise_abs(x);
}
template <class T>
inline T absdiff(T a, T b) {
  return a > b ? a - b : b - a;
}
template <class A, class B, class C>
inline __mb_common_t<A, B> fma(A a, B b, C c) {
  using R = __mb_common_t<A, B>;
  auto x = __mb_tof(__mb_bc<R>(a)), y = __mb_tof(__mb_bc<R>(b)), z = __mb_tof(__mb_bc<R>(c));
  return __mb_fromf<R>(__builtin_elementwise_fma(x, y, z));
}
template <class A, class B, class C>
inline __mb_common_t<A, B> mad(A a, B b, C c) {
  return fma(a, b, c);
}
template <class A, class B, class C>
inline __mb_common_t<A, B> mix(A a, B b, C t) {
  using R = __mb_common_t<A, B>;
  auto x = __mb_tof(__mb_bc<R>(a)), y = __mb_tof(__mb_bc<R>(b)), s = __mb_tof(__mb_bc<R>(t));
  return __mb_fromf<R>(x + (y - x) * s);
}
template <class A, class B, class C>
inline C smoothstep(A e0, B e1, C x) {
  auto t = clamp((x - e0) / (e1 - e0), 0.0f, 1.0f);
  return t * t * (3.0f - 2.0f * t);
}

// ---- relational --------------------------------------------------------------------------------
template <class T>
inline auto __mb_pred(T x, auto f) {
  if constexpr (__mb_is_vec<T>) {
    __mb_bvec<__mb_n<T>> r;
    for (int i = 0; i < __mb_n<T>; ++i) r[i] = f((float)x[i]);
    return r;
  } else {
    return (bool)f((float)x);
  }
}
template <class T>
inline auto isnan(T x) {
  return __mb_pred(x, [](float a) { return __builtin_isnan(a); });
}
template <class T>
inline auto isinf(T x) {
  return __mb_pred(x, [](float a) { return __builtin_isinf(a); });
}
template <class T>
inline auto isfinite(T x) {
  return __mb_pred(x, [](float a) { return __builtin_isfinite(a); });
}
template <class T>
inline auto isnormal(T x) {
  return __mb_pred(x, [](float a) { return __builtin_isnormal(a); });
}
template <class T>
inline auto signbit(T x) {
  return __mb_pred(x, [](float a) { return __builtin_signbit(a) != 0; });
}
inline bool all(bool b) { return b; }
inline bool any(bool b) { return b; }
template <class T, std::enable_if_t<__mb_is_vec<T>, int> = 0>
inline bool all(T v) {
  for (int i = 0; i < __mb_n<T>; ++i)
    if (!v[i]) return false;
  return true;
}
template <class T, std::enable_if_t<__mb_is_vec<T>, int> = 0>
inline bool any(T v) {
  for (int i = 0; i < __mb_n<T>; ++i)
    if (v[i]) return true;
  return false;
}
// select(a, b, c): c ? b : a, per element; c is bool or a bool/int vector mask.
template <class T, class C>
inline T select(T a, T b, C c) {
  if constexpr (__mb_is_vec<T> && __mb_is_vec<C>) {
    T r;
    for (int i = 0; i < __mb_n<T>; ++i) r[i] = c[i] ? b[i] : a[i];
    return r;
  } else {
    return c ? b : a;
  }
}

// ---- geometric ---------------------------------------------------------------------------------
template <class T>
inline __mb_elem<T> dot(T a, T b) {
  if constexpr (__mb_is_vec<T>) {
    auto p = __mb_tof(a) * __mb_tof(b);
    float s = 0.0f;
    for (int i = 0; i < __mb_n<T>; ++i) s += p[i];
    return (__mb_elem<T>)s;
  } else {
    return a * b;
  }
}
template <class T>
inline __mb_elem<T> length_squared(T a) {
  return dot(a, a);
}
template <class T>
inline __mb_elem<T> length(T a) {
  return sqrt(dot(a, a));
}
template <class T>
inline __mb_elem<T> distance(T a, T b) {
  return length(a - b);
}
template <class T>
inline T normalize(T a) {
  return a * rsqrt(dot(a, a));
}
template <class T>
inline T cross(T a, T b) {
  return a.yzx * b.zxy - a.zxy * b.yzx;
}

// ---- integer -----------------------------------------------------------------------------------
template <class T>
inline T clz(T x) {
  return __mb_each(x, [](__mb_elem<T> v) -> __mb_elem<T> {
    constexpr int bits = sizeof(v) * 8;
    using U = std::make_unsigned_t<__mb_elem<T>>;
    return v == 0 ? bits : __builtin_clzll((unsigned long long)(U)v) - (64 - bits);
  });
}
template <class T>
inline T ctz(T x) {
  return __mb_each(x, [](__mb_elem<T> v) -> __mb_elem<T> {
    using U = std::make_unsigned_t<__mb_elem<T>>;
    return v == 0 ? (int)sizeof(v) * 8 : __builtin_ctzll((unsigned long long)(U)v);
  });
}
template <class T>
inline T popcount(T x) {
  return __mb_each(x, [](__mb_elem<T> v) -> __mb_elem<T> {
    using U = std::make_unsigned_t<__mb_elem<T>>;
    return __builtin_popcountll((unsigned long long)(U)v);
  });
}
template <class T>
inline T reverse_bits(T x) {
  return __builtin_elementwise_bitreverse(x);
}
template <class T>
inline T mulhi(T a, T b) {
  return __mb_each2(a, b, [](__mb_elem<T> p, __mb_elem<T> q) -> __mb_elem<T> {
    using E = __mb_elem<T>;
    using W = std::conditional_t<std::is_signed_v<E>, int64_t, uint64_t>;
    if constexpr (sizeof(E) == 8) {
      using WW = std::conditional_t<std::is_signed_v<E>, __int128, unsigned __int128>;
      return (E)(((WW)p * (WW)q) >> 64);
    } else {
      return (E)(((W)p * (W)q) >> (sizeof(E) * 8));
    }
  });
}
template <class T>
inline T mul24(T a, T b) {
  return a * b;
}
template <class T>
inline T mad24(T a, T b, T c) {
  return a * b + c;
}
template <class T>
inline T addsat(T a, T b) {
  return __builtin_elementwise_add_sat(a, b);
}
template <class T>
inline T subsat(T a, T b) {
  return __builtin_elementwise_sub_sat(a, b);
}
template <class T>
inline T hadd(T a, T b) {
  return (a >> 1) + (b >> 1) + (a & b & 1);
}
template <class T>
inline T rotate(T v, T i) {
  return __mb_each2(v, i, [](__mb_elem<T> x, __mb_elem<T> s) -> __mb_elem<T> {
    using U = std::make_unsigned_t<__mb_elem<T>>;
    constexpr unsigned bits = sizeof(U) * 8;
    unsigned k = (unsigned)s % bits;
    return (__mb_elem<T>)(k == 0 ? (U)x : (U)(((U)x << k) | ((U)x >> (bits - k))));
  });
}
template <class T>
inline T extract_bits(T x, uint offset, uint bits) {
  return __mb_each(x, [=](__mb_elem<T> v) -> __mb_elem<T> {
    using E = __mb_elem<T>;
    using U = std::make_unsigned_t<E>;
    constexpr uint width = sizeof(E) * 8;
    if (bits == 0) return 0;
    U u = (U)((U)v << (width - offset - bits));
    if constexpr (std::is_signed_v<E>)
      return (E)((E)u >> (width - bits));
    else
      return (E)(u >> (width - bits));
  });
}
template <class T>
inline T insert_bits(T base, T insert, uint offset, uint bits) {
  return __mb_each2(base, insert, [=](__mb_elem<T> b, __mb_elem<T> v) -> __mb_elem<T> {
    using U = std::make_unsigned_t<__mb_elem<T>>;
    if (bits == 0) return b;
    U mask = (U)((bits >= sizeof(U) * 8 ? ~(U)0 : (U)(((U)1 << bits) - 1)) << offset);
    return (__mb_elem<T>)(((U)b & ~mask) | (((U)v << offset) & mask));
  });
}

// fast:: and precise:: hold the same functions (fast math is a compile flag here). The
// using-declarations of the math functions matter when a library adds its own overloads to
// fast:: or precise:: (MLX does, for bfloat16): a qualified call such as precise::atan2 then
// still sees the half and float overloads, where the directive alone would hide them.
// clang-format off
#define __MB_FAST_PRECISE_FUNCTIONS \
  using ::metal::acos; using ::metal::acosh; using ::metal::asin; using ::metal::asinh; \
  using ::metal::atan; using ::metal::atan2; using ::metal::atanh; using ::metal::ceil; \
  using ::metal::copysign; using ::metal::cos; using ::metal::cosh; using ::metal::cospi; \
  using ::metal::divide; using ::metal::exp; using ::metal::exp10; using ::metal::exp2; \
  using ::metal::fabs; using ::metal::abs; using ::metal::fdim; using ::metal::floor; \
  using ::metal::fma; using ::metal::fmax; using ::metal::fmin; using ::metal::fmod; \
  using ::metal::fract; using ::metal::ldexp; using ::metal::log; using ::metal::log10; \
  using ::metal::log2; using ::metal::max; using ::metal::min; using ::metal::pow; \
  using ::metal::pown; using ::metal::powr; using ::metal::rint; using ::metal::round; \
  using ::metal::rsqrt; using ::metal::sin; using ::metal::sincos; using ::metal::sinh; \
  using ::metal::sinpi; using ::metal::sqrt; using ::metal::tan; using ::metal::tanh; \
  using ::metal::trunc; using ::metal::clamp; using ::metal::saturate; using ::metal::sign; \
  using ::metal::normalize; using ::metal::length; using ::metal::length_squared; \
  using ::metal::distance;
// clang-format on
namespace fast {
using namespace ::metal;
__MB_FAST_PRECISE_FUNCTIONS
}  // namespace fast
namespace precise {
using namespace ::metal;
__MB_FAST_PRECISE_FUNCTIONS
}  // namespace precise
#undef __MB_FAST_PRECISE_FUNCTIONS

// ---- runtime services --------------------------------------------------------------------------
inline const mbk_runtime* __mb_rt = nullptr;
// Linear index of the running thread in its threadgroup. Fibers of one group share an OS thread,
// so every switch point (barrier, collective) restores it after the switch.
inline thread_local uint __mb_tid = 0;

enum class mem_flags : uint {
  mem_none = 0,
  mem_device = 1,
  mem_threadgroup = 2,
  mem_texture = 4,
  mem_threadgroup_imageblock = 8,
  mem_object_data = 16
};
constexpr mem_flags operator|(mem_flags a, mem_flags b) { return (mem_flags)((uint)a | (uint)b); }
constexpr mem_flags operator&(mem_flags a, mem_flags b) { return (mem_flags)((uint)a & (uint)b); }

// Work-item loops (msl_work_items.h): while a group runs as loops over its threads, the
// collectives deposit or collect through this space instead of the runtime's fibers. Null on
// fibers (every fiber entry point clears it).
inline thread_local mbk_work_item_space* __mb_wi = nullptr;

inline __MB_SYNC void threadgroup_barrier(mem_flags f = mem_flags::mem_none) {
  uint me = __mb_tid;
  if (__mb_rt) __mb_rt->threadgroup_barrier((uint)f);
  __mb_tid = me;
}
inline __MB_SYNC void simdgroup_barrier(mem_flags f = mem_flags::mem_none) {
  uint me = __mb_tid;
  if (__mb_rt) __mb_rt->simdgroup_barrier((uint)f);
  __mb_tid = me;
}

// ---- SIMD-group and quad-group collectives -----------------------------------------------------
// Everything is built on the runtime's simd_exchange: deposit a value, get every lane's value
// and the active mask. `site` (a distinct object per call site) keeps divergent calls apart.
typedef const void* __mb_site;
#define __MB_SITE __mb_site site = __builtin_source_location()

struct __mb_xchg {
  const unsigned char* slots;
  uint active;  // active lanes of the simdgroup
  uint lane;    // this thread's lane
  template <class T>
  T at(uint l) const {
    T v;
    __builtin_memcpy(&v, slots + l * MBK_SIMD_SLOT_BYTES, sizeof(T));
    return v;
  }
};
template <class T>
inline __mb_xchg __mb_exchange(const T& value, __mb_site site) {
  static_assert(sizeof(T) <= MBK_SIMD_SLOT_BYTES, "simd value too large");
  uint me = __mb_tid;
  __mb_xchg x;
  if (mbk_work_item_space* w = __mb_wi) {
    // Deposit: keep this lane's operand, compute nothing that matters (a lone lane). Collect:
    // every lane of the simdgroup has deposited; read them all.
    mbk_simd_result* r = &w->lanes[me / MBK_SIMD_WIDTH];
    const uint lane = me % MBK_SIMD_WIDTH;
    if (w->collect) {
      x.active = w->active[me / MBK_SIMD_WIDTH];
    } else {
      __builtin_memcpy(r->slots[lane], &value, sizeof(T));
      x.active = 1u << lane;
    }
    x.slots = r->slots[0];
    x.lane = lane;
    return x;
  }
  if (__mb_rt) {
    x.slots = (const unsigned char*)__mb_rt->simd_exchange(&value, sizeof(T), site, &x.active);
  } else {                                     // no runtime (never expected): behave as a lone lane
    static thread_local mbk_simd_result solo;  // serial 0: nothing shared
    __builtin_memcpy(solo.slots[me % MBK_SIMD_WIDTH], &value, sizeof(T));
    x.slots = solo.slots[0];
    x.active = 1u << (me % MBK_SIMD_WIDTH);
  }
  __mb_tid = me;
  x.lane = me % MBK_SIMD_WIDTH;
  return x;
}
// Every lane of a group gets the same result: the group's first lane to get here reduces the
// slots (lowest lane first) and leaves the result in the collective's shared memory
// (kernel_module.h mbk_simd_result); the other lanes of the group copy it.
template <class T, class F>
inline T __mb_reduce(T v, __mb_site site, F op, uint group_mask) {
  static const char tag = 0;  // one address per instantiation (T, op)
  __mb_xchg x = __mb_exchange(v, site);
  uint m = x.active & group_mask;
  mbk_simd_result* res = (mbk_simd_result*)x.slots;
  const uint leader = (uint)__builtin_ctz(m);
  constexpr bool shareable = sizeof(T) <= MBK_SIMD_SHARED_BYTES;
  mbk_simd_share& e = res->share[leader];
  if (shareable && res->serial != 0 && e.serial == res->serial && e.tag == &tag && e.mask == m) {
    T r;
    __builtin_memcpy(&r, res->shared[leader], sizeof(T));
    return r;
  }
  T r = x.at<T>(leader);
  for (uint rest = m & (m - 1); rest != 0; rest &= rest - 1)
    r = op(r, x.at<T>((uint)__builtin_ctz(rest)));
  if (shareable && res->serial != 0) {
    __builtin_memcpy(res->shared[leader], &r, sizeof(T));
    e.serial = res->serial;
    e.tag = &tag;
    e.mask = m;
  }
  return r;
}
inline uint __mb_quad_mask() { return 0xFu << (__mb_tid % MBK_SIMD_WIDTH & ~3u); }
template <class T>
struct __mb_ops {
  static T add(T a, T b) { return a + b; }
  static T mul(T a, T b) { return a * b; }
  static T mn(T a, T b) { return min(a, b); }
  static T mx(T a, T b) { return max(a, b); }
  // On floating types the bitwise reductions work on the bits (Apple's builtins accept them).
  template <class F>
  static T bits(T a, T b, F f) {
    if constexpr (__mb_is_fp<T>) {
      using U = __mb_with_t<std::conditional_t<sizeof(__mb_elem<T>) == 2, ushort, uint>, T>;
      return __builtin_bit_cast(T, (U)f(__builtin_bit_cast(U, a), __builtin_bit_cast(U, b)));
    } else {
      return f(a, b);
    }
  }
  static T band(T a, T b) {
    return bits(a, b, [](auto x, auto y) { return x & y; });
  }
  static T bor(T a, T b) {
    return bits(a, b, [](auto x, auto y) { return x | y; });
  }
  static T bxor(T a, T b) {
    return bits(a, b, [](auto x, auto y) { return x ^ y; });
  }
};
#define __MB_REDUCE(NAME, OP)                                       \
  template <class T>                                                \
  inline __MB_SYNC T simd_##NAME(T v, __MB_SITE) {                  \
    return __mb_reduce(v, site, __mb_ops<T>::OP, ~0u);              \
  }                                                                 \
  template <class T>                                                \
  inline __MB_SYNC T quad_##NAME(T v, __MB_SITE) {                  \
    return __mb_reduce(v, site, __mb_ops<T>::OP, __mb_quad_mask()); \
  }
__MB_REDUCE(sum, add)
__MB_REDUCE(product, mul)
__MB_REDUCE(min, mn)
__MB_REDUCE(max, mx)
__MB_REDUCE(and, band)
__MB_REDUCE(or, bor)
__MB_REDUCE(xor, bxor)
#undef __MB_REDUCE

template <class T, class F>
inline T __mb_prefix(T v, __mb_site site, F op, bool inclusive, T identity, uint group_mask) {
  __mb_xchg x = __mb_exchange(v, site);
  uint m = x.active & group_mask;
  T r = identity;
  for (uint l = 0; l < x.lane; ++l)
    if (m >> l & 1) r = op(r, x.at<T>(l));
  return inclusive ? op(r, v) : r;
}
#define __MB_PREFIX(SCOPE, MASK)                                        \
  template <class T>                                                    \
  inline __MB_SYNC T SCOPE##_prefix_inclusive_sum(T v, __MB_SITE) {     \
    return __mb_prefix(v, site, __mb_ops<T>::add, true, T(0), MASK);    \
  }                                                                     \
  template <class T>                                                    \
  inline __MB_SYNC T SCOPE##_prefix_exclusive_sum(T v, __MB_SITE) {     \
    return __mb_prefix(v, site, __mb_ops<T>::add, false, T(0), MASK);   \
  }                                                                     \
  template <class T>                                                    \
  inline __MB_SYNC T SCOPE##_prefix_inclusive_product(T v, __MB_SITE) { \
    return __mb_prefix(v, site, __mb_ops<T>::mul, true, T(1), MASK);    \
  }                                                                     \
  template <class T>                                                    \
  inline __MB_SYNC T SCOPE##_prefix_exclusive_product(T v, __MB_SITE) { \
    return __mb_prefix(v, site, __mb_ops<T>::mul, false, T(1), MASK);   \
  }
__MB_PREFIX(simd, ~0u)
__MB_PREFIX(quad, __mb_quad_mask())
#undef __MB_PREFIX

// Reads lane `src` (of the simdgroup); an inactive or out-of-range source yields the caller's
// value.
template <class T>
inline T __mb_read(const __mb_xchg& x, int src, T own) {
  if (src < 0 || src >= MBK_SIMD_WIDTH || !(x.active >> src & 1)) return own;
  return x.at<T>((uint)src);
}
template <class T>
inline __MB_SYNC T simd_shuffle(T v, ushort lane, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  return __mb_read(x, lane, v);
}
template <class T>
inline __MB_SYNC T simd_broadcast(T v, ushort lane, __MB_SITE) {
  return simd_shuffle(v, lane, site);
}
template <class T>
inline __MB_SYNC T simd_shuffle_xor(T v, ushort mask, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  return __mb_read(x, (int)(x.lane ^ mask), v);
}
template <class T>
inline __MB_SYNC T simd_shuffle_up(T v, ushort delta, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  return __mb_read(x, (int)x.lane - (int)delta, v);
}
template <class T>
inline __MB_SYNC T simd_shuffle_down(T v, ushort delta, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  return __mb_read(x, (int)x.lane + (int)delta, v);
}
template <class T>
inline __MB_SYNC T simd_shuffle_rotate_down(T v, ushort delta, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  return __mb_read(x, (int)((x.lane + delta) % MBK_SIMD_WIDTH), v);
}
template <class T>
inline __MB_SYNC T simd_shuffle_rotate_up(T v, ushort delta, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  return __mb_read(x, (int)((x.lane + MBK_SIMD_WIDTH - delta % MBK_SIMD_WIDTH) % MBK_SIMD_WIDTH),
                   v);
}
// *_and_fill: lanes shifted past the edge read `fill` from the matching lane instead.
template <class T>
inline T __mb_fill(T v, T fill, int src, uint width, __mb_site site, bool up) {
  struct P {
    T v, f;
  } p{v, fill};
  __mb_xchg x = __mb_exchange(p, site);
  uint base = x.lane / width * width, l = x.lane - base;
  int s = (int)l + src;
  if (s >= 0 && s < (int)width) return __mb_read(x, (int)base + s, p).v;
  int f = up ? s + (int)width : s - (int)width;
  return __mb_read(x, (int)base + f, p).f;
}
template <class T>
inline __MB_SYNC T simd_shuffle_and_fill_up(T v, T fill, ushort delta, __MB_SITE) {
  return __mb_fill(v, fill, -(int)delta, MBK_SIMD_WIDTH, site, true);
}
template <class T>
inline __MB_SYNC T simd_shuffle_and_fill_down(T v, T fill, ushort delta, __MB_SITE) {
  return __mb_fill(v, fill, (int)delta, MBK_SIMD_WIDTH, site, false);
}
template <class T>
inline __MB_SYNC T simd_shuffle_and_fill_up(T v, T fill, ushort delta, ushort modulo, __MB_SITE) {
  return __mb_fill(v, fill, -(int)delta, modulo, site, true);
}
template <class T>
inline __MB_SYNC T simd_shuffle_and_fill_down(T v, T fill, ushort delta, ushort modulo, __MB_SITE) {
  return __mb_fill(v, fill, (int)delta, modulo, site, false);
}
template <class T>
inline __MB_SYNC T simd_broadcast_first(T v, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  return x.at<T>((uint)__builtin_ctz(x.active));
}

// Quad collectives: lanes 4k..4k+3 of the simdgroup.
template <class T>
inline __MB_SYNC T quad_shuffle(T v, ushort lane, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  return __mb_read(x, (int)((x.lane & ~3u) + (lane & 3u)), v);
}
template <class T>
inline __MB_SYNC T quad_broadcast(T v, ushort lane, __MB_SITE) {
  return quad_shuffle(v, lane, site);
}
template <class T>
inline __MB_SYNC T quad_shuffle_xor(T v, ushort mask, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  return __mb_read(x, (int)((x.lane & ~3u) + ((x.lane ^ mask) & 3u)), v);
}
template <class T>
inline __MB_SYNC T quad_shuffle_up(T v, ushort delta, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  int l = (int)(x.lane & 3u) - (int)delta;
  return l < 0 ? v : __mb_read(x, (int)(x.lane & ~3u) + l, v);
}
template <class T>
inline __MB_SYNC T quad_shuffle_down(T v, ushort delta, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  int l = (int)(x.lane & 3u) + (int)delta;
  return l > 3 ? v : __mb_read(x, (int)(x.lane & ~3u) + l, v);
}
template <class T>
inline __MB_SYNC T quad_shuffle_and_fill_up(T v, T fill, ushort delta, __MB_SITE) {
  return __mb_fill(v, fill, -(int)delta, 4, site, true);
}
template <class T>
inline __MB_SYNC T quad_shuffle_and_fill_down(T v, T fill, ushort delta, __MB_SITE) {
  return __mb_fill(v, fill, (int)delta, 4, site, false);
}
template <class T>
inline __MB_SYNC T quad_broadcast_first(T v, __MB_SITE) {
  __mb_xchg x = __mb_exchange(v, site);
  uint m = x.active & (0xFu << (x.lane & ~3u));
  return m ? x.at<T>((uint)__builtin_ctz(m)) : v;
}

// Votes.
struct simd_vote {
  typedef uint64_t vote_t;
  vote_t v = 0;
  constexpr simd_vote() = default;
  constexpr explicit simd_vote(vote_t x) : v(x) {}
  constexpr explicit operator vote_t() const { return v; }
  constexpr bool all() const { return v == 0xFFFFFFFFull; }
  constexpr bool any() const { return v != 0; }
};
typedef simd_vote quad_vote;
inline __MB_SYNC simd_vote simd_ballot(bool p, __MB_SITE) {
  __mb_xchg x = __mb_exchange(p, site);
  uint64_t r = 0;
  for (uint l = 0; l < MBK_SIMD_WIDTH; ++l)
    if ((x.active >> l & 1) && x.at<bool>(l)) r |= 1ull << l;
  return simd_vote(r);
}
inline __MB_SYNC simd_vote simd_active_threads_mask(__MB_SITE) {
  __mb_xchg x = __mb_exchange(true, site);
  return simd_vote((uint64_t)x.active);
}
inline __MB_SYNC bool simd_all(bool p, __MB_SITE) {
  __mb_xchg x = __mb_exchange(p, site);
  for (uint l = 0; l < MBK_SIMD_WIDTH; ++l)
    if ((x.active >> l & 1) && !x.at<bool>(l)) return false;
  return true;
}
inline __MB_SYNC bool simd_any(bool p, __MB_SITE) {
  __mb_xchg x = __mb_exchange(p, site);
  for (uint l = 0; l < MBK_SIMD_WIDTH; ++l)
    if ((x.active >> l & 1) && x.at<bool>(l)) return true;
  return false;
}
inline __MB_SYNC bool simd_is_first(__MB_SITE) {
  __mb_xchg x = __mb_exchange(true, site);
  return x.lane == (uint)__builtin_ctz(x.active);
}
inline __MB_SYNC simd_vote quad_ballot(bool p, __MB_SITE) {
  __mb_xchg x = __mb_exchange(p, site);
  uint64_t r = 0;
  uint base = x.lane & ~3u;
  for (uint l = 0; l < 4; ++l)
    if ((x.active >> (base + l) & 1) && x.at<bool>(base + l)) r |= 1ull << l;
  return simd_vote(r);
}
inline __MB_SYNC simd_vote quad_active_threads_mask(__MB_SITE) {
  __mb_xchg x = __mb_exchange(true, site);
  return simd_vote((uint64_t)(x.active >> (x.lane & ~3u) & 0xFu));
}
inline __MB_SYNC bool quad_all(bool p, __MB_SITE) {
  __mb_xchg x = __mb_exchange(p, site);
  uint base = x.lane & ~3u;
  for (uint l = base; l < base + 4; ++l)
    if ((x.active >> l & 1) && !x.at<bool>(l)) return false;
  return true;
}
inline __MB_SYNC bool quad_any(bool p, __MB_SITE) {
  __mb_xchg x = __mb_exchange(p, site);
  uint base = x.lane & ~3u;
  for (uint l = base; l < base + 4; ++l)
    if ((x.active >> l & 1) && x.at<bool>(l)) return true;
  return false;
}
inline __MB_SYNC bool quad_is_first(__MB_SITE) {
  __mb_xchg x = __mb_exchange(true, site);
  uint m = x.active & (0xFu << (x.lane & ~3u));
  return x.lane == (uint)__builtin_ctz(m);
}
// ---- work-item loops: what the generated loops call (msl_work_items.cpp) ------------------------
inline mbk_work_item_space& __mb_wi_begin(const mbk_group& g) {
  __mb_wi = static_cast<mbk_work_item_space*>(g.work_item_space);
  __mb_wi->collect = 0;
  return *__mb_wi;
}
inline void __mb_wi_end() { __mb_wi = nullptr; }
inline void __mb_wi_deposit(mbk_work_item_space& w) { w.collect = 0; }
inline void __mb_wi_done(mbk_work_item_space& w) { w.collect = 0; }
// Every lane has deposited: the lanes of each simdgroup that take part (under `mask`, when a
// branch or loop holds the collective) and a new serial for what they share.
inline void __mb_wi_collect(mbk_work_item_space& w, const bool* mask, uint n) {
  w.collect = 1;
  ++w.serial;
  for (uint s = 0; s * MBK_SIMD_WIDTH < n; ++s) {
    uint active = 0;
    for (uint l = 0; l < MBK_SIMD_WIDTH && s * MBK_SIMD_WIDTH + l < n; ++l)
      if (mask == nullptr || mask[s * MBK_SIMD_WIDTH + l]) active |= 1u << l;
    w.active[s] = active;
    w.lanes[s].serial = w.serial;
  }
}
template <class R>
inline void __mb_wi_keep(mbk_work_item_space& w, uint area, uint li, const R& r) {
  static_assert(sizeof(R) <= MBK_SIMD_SLOT_BYTES, "collective result too large");
  __builtin_memcpy(w.results[area] + li * sizeof(R), &r, sizeof(R));
}
template <class R>
inline std::remove_cvref_t<R> __mb_wi_take(mbk_work_item_space& w, uint area, uint li) {
  return *reinterpret_cast<const std::remove_cvref_t<R>*>(w.results[area] +
                                                          li * sizeof(std::remove_cvref_t<R>));
}
// A variable's per-thread copy, written at the end of the loop that declares it.
template <class S, class V>
inline void __mb_wi_save(S& slot, const V& value) {
  static_assert(
      __is_same(__remove_cv(S), __remove_cv(V)) && __is_trivially_copyable(__remove_cv(S)),
      "a variable kept across a barrier must be trivially copyable");
  __builtin_memcpy(&slot, &value, sizeof(S));
}
inline bool __mb_wi_any(const bool* mask, uint n) {
  for (uint i = 0; i < n; ++i)
    if (mask[i]) return true;
  return false;
}
// Checked mode: which thread the loops run, for a fault's report (the runtime reads it).
inline void __mb_wi_here(const mbk_group& g, uint li) {
#if MBK_CHECKED
  // Stored per thread, in program order: not sunk out of the loop nor moved past its accesses.
  *static_cast<volatile uint*>(&static_cast<mbk_work_item_space*>(g.work_item_space)->thread) = li;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
#else
  (void)g;
  (void)li;
#endif
}
// Library functions that synchronise, as group functions (msl_work_items.cpp): the caller
// evaluates each thread's arguments into a pack (a by-value parameter is the thread's own copy,
// a reference to a const object a copy too, a reference to a mutable object a pointer to it),
// the group function runs the callee's body as loops over the threads under the caller's mask,
// and each thread's return value is read back from __mb_wi_rets.
template <class P>
struct __mb_wi_held {
  __remove_cv(P) v;
  __mb_wi_held(const __remove_cv(P)& a) : v(a) {}
  __remove_cv(P)& get() { return v; }
};
template <class P, bool = __is_const(P)>
struct __mb_wi_held_ref {  // a reference to a const object: a copy
  __remove_cv(P) v;
  __mb_wi_held_ref(P& a) : v(a) {}
  P& get() { return v; }
};
template <class P>
struct __mb_wi_held_ref<P, false> {  // a reference to a mutable object: its address
  P* p;
  __mb_wi_held_ref(P& a) : p(&a) {}
  P& get() { return *p; }
};
template <class P>
struct __mb_wi_held<P&> : __mb_wi_held_ref<P> {
  using __mb_wi_held_ref<P>::__mb_wi_held_ref;
};
template <unsigned I, class... P>
struct __mb_wi_fields {
  __mb_wi_fields() = default;
};
template <class P>
using __mb_wi_lvalue = __remove_reference_t(P)&;
template <unsigned I, class P0, class... P>
struct __mb_wi_fields<I, P0, P...> : __mb_wi_fields<I + 1, P...> {
  __mb_wi_held<P0> h;
  __mb_wi_fields(__mb_wi_lvalue<P0> a, __mb_wi_lvalue<P>... rest)
      : __mb_wi_fields<I + 1, P...>(rest...), h(a) {}
};
template <unsigned I, class P0, class... P>
inline auto& __mb_wi_field(__mb_wi_fields<I, P0, P...>& f) {
  return f.h.get();
}
// One thread's arguments to a group function whose call returns R.
template <class R, class... P>
struct __mb_wi_pack : __mb_wi_fields<0, P...> {
  using __mb_wi_fields<0, P...>::__mb_wi_fields;
  template <unsigned I>
  auto& get() {
    return __mb_wi_field<I>(*this);
  }
};
// What one thread's value of a call of a group function is kept as (a byte for void).
template <class Pack>
struct __mb_wi_value;
template <class R, class... P>
struct __mb_wi_value<__mb_wi_pack<R, P...>> {
  static_assert(!__is_reference(R), "a group function returning a reference");
  using type = std::conditional_t<__is_void(R), unsigned char, __remove_cv(R)>;
  static_assert(__is_trivially_copyable(type) && sizeof(type) <= 1024,
                "a group function's value must be trivially copyable, at most 1 KiB");
};
template <class Pack>
using __mb_wi_value_t = typename __mb_wi_value<Pack>::type;
template <class R, class V>
inline void __mb_wi_put(R* values, uint li, V&& value) {
  values[li] = static_cast<R>(static_cast<V&&>(value));
}
// Calls `group` with a null pointer to the type of the packs `args` makes (so the group
// function deduces the callee's template arguments from its parameters' types).
template <class A, class G>
inline void __mb_wi_call(A& args, G&& group) {
  using Pack = decltype(args(0u, 0u, 0u, 0u));
  static_assert(__is_trivially_copyable(Pack) && sizeof(Pack) <= 1024,
                "a group function's arguments must be trivially copyable, at most 1 KiB a thread");
  group(static_cast<Pack*>(nullptr));
}
// Each thread's pack, evaluated by the caller's `args` for the threads under `mask`.
template <class Pack, class A>
inline void __mb_wi_fill(Pack* packs, const bool* mask, A& args, const mbk_group& g) {
  const uint nx = g.threads_per_threadgroup[0], ny = g.threads_per_threadgroup[1],
             nz = g.threads_per_threadgroup[2];
  for (uint z = 0; z < nz; ++z)
    for (uint y = 0; y < ny; ++y)
      for (uint x = 0; x < nx; ++x) {
        const uint li = x + nx * (y + ny * z);
        if (!mask[li]) continue;
        __mb_wi_here(g, li);
        Pack p = args(x, y, z, li);
        __builtin_memcpy(static_cast<void*>(&packs[li]), &p, sizeof(Pack));
      }
}
inline bool* __mb_wi_all(bool* mask, uint n) {
  for (uint i = 0; i < n; ++i) mask[i] = true;
  return mask;
}
// A threadgroup barrier at a kernel's top level after some threads returned (`live`: the
// threads still running): as on fibers, the barrier fails the dispatch unless every thread, or
// none, reaches it.
inline void __mb_wi_barrier_live(const bool* live, uint n) {
  uint waiting = 0, first_waiting = 0, first_returned = 0;
  for (uint i = n; i-- > 0;) {
    if (live[i]) {
      ++waiting;
      first_waiting = i;
    } else {
      first_returned = i;
    }
  }
  if (waiting == 0 || waiting == n) return;
  static thread_local char message[240];
  char* p = message;
  auto put = [&](const char* t) {
    while (*t && p < message + sizeof message - 1) *p++ = *t++;
  };
  auto put_uint = [&](uint v) {
    char digits[12];
    int k = 0;
    do digits[k++] = (char)('0' + v % 10);
    while ((v /= 10) != 0 && k < 11);
    while (k > 0 && p < message + sizeof message - 1) *p++ = digits[--k];
  };
  put("threadgroup_barrier divergence: ");
  put_uint(waiting);
  put(" of ");
  put_uint(n);
  put(" threads wait at a barrier (first: thread ");
  put_uint(first_waiting);
  put(") that ");
  put_uint(n - waiting);
  put(" threads returned without reaching (first: thread ");
  put_uint(first_returned);
  put("); every thread of a threadgroup must reach each barrier");
  *p = 0;
  if (__mb_rt) __mb_rt->fail(message);
  __builtin_trap();
}
// A barrier reached by only some threads of the group (or, for simdgroup_barrier, of a
// simdgroup): Metal requires uniform control flow there, and the loops cannot run it.
inline void __mb_wi_barrier(const bool* mask, uint n, bool simd, int line) {
  if (!__mb_wi_any(mask, n)) return;  // every thread returned: none waits here
  for (uint s = 0; s * MBK_SIMD_WIDTH < n; ++s) {
    uint in = 0, all = 0;
    for (uint l = 0; l < MBK_SIMD_WIDTH && s * MBK_SIMD_WIDTH + l < n; ++l, ++all)
      in += mask[s * MBK_SIMD_WIDTH + l] ? 1 : 0;
    if (simd ? (in == 0 || in == all) : in == all) continue;
    static thread_local char message[200];
    char* p = message;
    auto put = [&](const char* t) {
      while (*t && p < message + sizeof message - 1) *p++ = *t++;
    };
    auto put_uint = [&](uint v) {
      char digits[12];
      int k = 0;
      do digits[k++] = (char)('0' + v % 10);
      while ((v /= 10) != 0 && k < 11);
      while (k > 0 && p < message + sizeof message - 1) *p++ = digits[--k];
    };
    put(simd ? "simdgroup_barrier" : "threadgroup_barrier");
    put(" divergence: the barrier on line ");
    put_uint((uint)line);
    put(" is reached by ");
    put_uint(in);
    put(" of the ");
    put_uint(all);
    put(" threads of simdgroup ");
    put_uint(s);
    put(simd ? "; every thread of a simdgroup must reach it"
             : "; every thread of a threadgroup must reach it");
    *p = 0;
    if (__mb_rt) __mb_rt->fail(message);
    __builtin_trap();
  }
}

// ---- simdgroup_matrix
// ---------------------------------------------------------------------------- 8x8 matrices held as
// on Apple GPUs: each lane of the simdgroup owns two elements of a row (thread_elements()), lane l
// holding row ((l / 4) & 4) + (l / 2) % 4 and columns c, c + 1 with c = ((l / 4) & 2) * 2 + (l % 2)
// * 2 (the layout MLX and llama.cpp rely on). Loads read and stores write only the lane's own
// elements; multiplies gather the operands' elements from their owners with one simd_exchange and
// compute the lane's own two results (accumulating in float). Loads and stores are also simdgroup
// synchronisation points, as the lanes of a GPU run them in lock step: a load sees every lane's
// earlier writes, and writes are done when a store returns.
template <class T, int Cols = 8, int Rows = 8>
struct __MB_SYNC simdgroup_matrix {
  static_assert(Cols == 8 && Rows == 8, "the CPU backend supports 8x8 simdgroup matrices");
  vec<T, 2> __el;
  simdgroup_matrix() = default;
  // A diagonal matrix holding `d` (MSL's simdgroup_matrix(T) constructor).
  explicit simdgroup_matrix(T d) {
    uint l = __mb_tid % MBK_SIMD_WIDTH;
    uint r = __mb_sgm_row(l), c = __mb_sgm_col(l);
    __el = vec<T, 2>{r == c ? d : (T)0, r == c + 1 ? d : (T)0};
  }
  vec<T, 2>& thread_elements() { return __el; }
  const vec<T, 2>& thread_elements() const { return __el; }
  static uint __mb_sgm_row(uint l) { return ((l / 4) & 4) + (l / 2) % 4; }
  static uint __mb_sgm_col(uint l) { return ((l / 4) & 2) * 2 + (l % 2) * 2; }
};
inline uint __mb_sgm_owner(uint r, uint c) {
  return ((r >> 2 & 1) << 4) | ((c >> 2 & 1) << 3) | ((r >> 1 & 1) << 2) | ((r & 1) << 1) |
         (c >> 1 & 1);
}
typedef simdgroup_matrix<float, 8, 8> simdgroup_float8x8;
typedef simdgroup_matrix<half, 8, 8> simdgroup_half8x8;
typedef simdgroup_matrix<bfloat, 8, 8> simdgroup_bfloat8x8;

template <class T>
inline simdgroup_matrix<T, 8, 8> make_filled_simdgroup_matrix(T v) {
  simdgroup_matrix<T, 8, 8> m;
  m.__el = vec<T, 2>{v, v};
  return m;
}
template <class T, int C, int R = C>
inline simdgroup_matrix<T, C, R> make_filled_simdgroup_matrix(T v) {
  return make_filled_simdgroup_matrix<T>(v);
}
template <class T, class U, class I = ulong>
inline __MB_SYNC void simdgroup_load(simdgroup_matrix<T, 8, 8>& d, const U* src,
                                     I elements_per_row = 8, ulong2 matrix_origin = ulong2{0, 0},
                                     bool transpose_matrix = false, __MB_SITE) {
  __mb_exchange((char)0, site);  // every lane's earlier writes are visible
  uint l = __mb_tid % MBK_SIMD_WIDTH;
  ulong r = simdgroup_matrix<T, 8, 8>::__mb_sgm_row(l),
        c = simdgroup_matrix<T, 8, 8>::__mb_sgm_col(l);
  ulong stride = (ulong)elements_per_row;
  const U* base = src + matrix_origin.y * stride + matrix_origin.x;
  for (ulong k = 0; k < 2; ++k)
    d.__el[k] = (T)(transpose_matrix ? base[(c + k) * stride + r] : base[r * stride + c + k]);
}
template <class T, class U, class I = ulong>
inline __MB_SYNC void simdgroup_store(const simdgroup_matrix<T, 8, 8>& a, U* dst,
                                      I elements_per_row = 8, ulong2 matrix_origin = ulong2{0, 0},
                                      bool transpose_matrix = false, __MB_SITE) {
  uint l = __mb_tid % MBK_SIMD_WIDTH;
  ulong r = simdgroup_matrix<T, 8, 8>::__mb_sgm_row(l),
        c = simdgroup_matrix<T, 8, 8>::__mb_sgm_col(l);
  ulong stride = (ulong)elements_per_row;
  U* base = dst + matrix_origin.y * stride + matrix_origin.x;
  for (ulong k = 0; k < 2; ++k) {
    if (transpose_matrix)
      base[(c + k) * stride + r] = (U)a.__el[k];
    else
      base[r * stride + c + k] = (U)a.__el[k];
  }
  __mb_exchange((char)0, site);  // every lane's writes are done
}
template <class TD, class TA, class TB, class TC>
inline __MB_SYNC void simdgroup_multiply_accumulate(simdgroup_matrix<TD, 8, 8>& d,
                                                    const simdgroup_matrix<TA, 8, 8>& a,
                                                    const simdgroup_matrix<TB, 8, 8>& b,
                                                    const simdgroup_matrix<TC, 8, 8>& c,
                                                    __MB_SITE) {
  struct P {
    vec<TA, 2> a;
    vec<TB, 2> b;
  } p{a.__el, b.__el};
  __mb_xchg x = __mb_exchange(p, site);
  // Work-item loops' deposit pass: the operands are kept; `d` (often `c` too) waits for the
  // collect pass, when every lane's operands are there.
  if (__mb_wi && !__mb_wi->collect) return;
  // The whole of A and B, from their owners (an inactive owner reads as zero): gathered by the
  // first lane to get here into the collective's shared memory, which the other lanes read.
  static const char tag = 0;  // one address per instantiation
  static_assert(sizeof(float[2][8][8]) <= sizeof(((mbk_simd_result*)0)->shared), "");
  mbk_simd_result* res = (mbk_simd_result*)x.slots;
  mbk_simd_share& sh = res->share[0];
  float local[2][8][8];
  float(*AB)[8][8] = res->serial != 0 ? (float(*)[8][8])res->shared : local;
  if (res->serial == 0 || sh.serial != res->serial || sh.tag != &tag || sh.mask != x.active) {
    for (uint o = 0; o < MBK_SIMD_WIDTH; ++o) {
      P q = (x.active >> o & 1) ? x.at<P>(o) : P{};
      uint r = simdgroup_matrix<TA, 8, 8>::__mb_sgm_row(o),
           k = simdgroup_matrix<TA, 8, 8>::__mb_sgm_col(o);
      AB[0][r][k] = (float)q.a[0];
      AB[0][r][k + 1] = (float)q.a[1];
      AB[1][r][k] = (float)q.b[0];
      AB[1][r][k + 1] = (float)q.b[1];
    }
    if (res->serial != 0) {
      sh.serial = res->serial;
      sh.tag = &tag;
      sh.mask = x.active;
    }
  }
  const float(*A)[8] = AB[0];
  const float(*B)[8] = AB[1];
  uint r = simdgroup_matrix<TD, 8, 8>::__mb_sgm_row(x.lane),
       col = simdgroup_matrix<TD, 8, 8>::__mb_sgm_col(x.lane);
  vec<TD, 2> out;
  for (uint e = 0; e < 2; ++e) {
    float s = (float)c.__el[e];
    for (uint k = 0; k < 8; ++k) s = __builtin_fmaf(A[r][k], B[k][col + e], s);
    out[e] = (TD)s;
  }
  d.__el = out;
}
template <class TD, class TA, class TB>
inline __MB_SYNC void simdgroup_multiply(simdgroup_matrix<TD, 8, 8>& d,
                                         const simdgroup_matrix<TA, 8, 8>& a,
                                         const simdgroup_matrix<TB, 8, 8>& b, __MB_SITE) {
  simdgroup_multiply_accumulate(d, a, b, make_filled_simdgroup_matrix<TD>((TD)0), site);
}
// `a * b` is the matrix product (a simdgroup-wide operation, as simdgroup_multiply); `a + b` and
// `a - b` are elementwise, each lane on its own elements.
template <class T>
inline simdgroup_matrix<T, 8, 8> operator*(const simdgroup_matrix<T, 8, 8>& a,
                                           const simdgroup_matrix<T, 8, 8>& b) {
  simdgroup_matrix<T, 8, 8> d;
  simdgroup_multiply(d, a, b);
  return d;
}
template <class T>
inline simdgroup_matrix<T, 8, 8> operator+(const simdgroup_matrix<T, 8, 8>& a,
                                           const simdgroup_matrix<T, 8, 8>& b) {
  simdgroup_matrix<T, 8, 8> d;
  d.__el = a.__el + b.__el;
  return d;
}
template <class T>
inline simdgroup_matrix<T, 8, 8> operator-(const simdgroup_matrix<T, 8, 8>& a,
                                           const simdgroup_matrix<T, 8, 8>& b) {
  simdgroup_matrix<T, 8, 8> d;
  d.__el = a.__el - b.__el;
  return d;
}

// ---- atomics -----------------------------------------------------------------------------------
// Threadgroups run concurrently on different workers, so device atomics must be real atomics.
enum memory_order {
  memory_order_relaxed = __ATOMIC_RELAXED,
  memory_order_acquire = __ATOMIC_ACQUIRE,
  memory_order_release = __ATOMIC_RELEASE,
  memory_order_acq_rel = __ATOMIC_ACQ_REL,
  memory_order_seq_cst = __ATOMIC_SEQ_CST
};
template <class T>
struct atomic {
  T __v;
};
typedef atomic<int> atomic_int;
typedef atomic<uint> atomic_uint;
typedef atomic<float> atomic_float;
typedef atomic<bool> atomic_bool;
typedef atomic<ulong> atomic_ulong;
typedef atomic<long> atomic_long;

template <class T>
inline T* __mb_ap(volatile atomic<T>* o) {
  return const_cast<T*>(&o->__v);
}
template <class T, class U>
inline void atomic_store_explicit(volatile atomic<T>* o, U v, memory_order = memory_order_relaxed) {
  T t = (T)v;
  __atomic_store(__mb_ap(o), &t, __ATOMIC_SEQ_CST);
}
template <class T>
inline T atomic_load_explicit(volatile atomic<T>* o, memory_order = memory_order_relaxed) {
  T t;
  __atomic_load(__mb_ap(o), &t, __ATOMIC_SEQ_CST);
  return t;
}
template <class T, class U>
inline T atomic_exchange_explicit(volatile atomic<T>* o, U v, memory_order = memory_order_relaxed) {
  T t = (T)v, r;
  __atomic_exchange(__mb_ap(o), &t, &r, __ATOMIC_SEQ_CST);
  return r;
}
template <class T, class U>
inline bool atomic_compare_exchange_weak_explicit(volatile atomic<T>* o, T* expected, U desired,
                                                  memory_order = memory_order_relaxed,
                                                  memory_order = memory_order_relaxed) {
  T d = (T)desired;
  return __atomic_compare_exchange(__mb_ap(o), expected, &d, false, __ATOMIC_SEQ_CST,
                                   __ATOMIC_SEQ_CST);
}
template <class T, class U>
inline bool atomic_compare_exchange_strong_explicit(volatile atomic<T>* o, T* expected, U desired,
                                                    memory_order a = memory_order_relaxed,
                                                    memory_order b = memory_order_relaxed) {
  return atomic_compare_exchange_weak_explicit(o, expected, desired, a, b);
}
// Read-modify-write through a compare-exchange loop (works for float and every integer).
template <class T, class F>
inline T __mb_rmw(volatile atomic<T>* o, F f) {
  T* p = __mb_ap(o);
  T old;
  __atomic_load(p, &old, __ATOMIC_RELAXED);
  T nv;
  do {
    nv = f(old);
  } while (!__atomic_compare_exchange(p, &old, &nv, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
  return old;
}
#define __MB_RMW(NAME, INT_BUILTIN, EXPR)                                  \
  template <class T, class U>                                              \
  inline T atomic_##NAME##_explicit(volatile atomic<T>* o, U v,            \
                                    memory_order = memory_order_relaxed) { \
    T b = (T)v;                                                            \
    if constexpr (std::is_integral_v<T>)                                   \
      return INT_BUILTIN(__mb_ap(o), b, __ATOMIC_SEQ_CST);                 \
    else                                                                   \
      return __mb_rmw(o, [b](T a) { return EXPR; });                       \
  }
__MB_RMW(fetch_add, __atomic_fetch_add, a + b)
__MB_RMW(fetch_sub, __atomic_fetch_sub, a - b)
__MB_RMW(fetch_and, __atomic_fetch_and, a)
__MB_RMW(fetch_or, __atomic_fetch_or, a)
__MB_RMW(fetch_xor, __atomic_fetch_xor, a)
__MB_RMW(fetch_min, __atomic_fetch_min, (b < a ? b : a))
__MB_RMW(fetch_max, __atomic_fetch_max, (b > a ? b : a))
#undef __MB_RMW
template <class T, class U>
inline void atomic_store(volatile atomic<T>* o, U v) {
  atomic_store_explicit(o, v);
}
template <class T>
inline T atomic_load(volatile atomic<T>* o) {
  return atomic_load_explicit(o);
}

// ---- kernel entry support (used by the generated entry points) ---------------------------------
template <class F>
struct __mb_sig;
template <class R, class... A>
struct __mb_sig<R (*)(A...)> {
  template <int I>
  using arg = __type_pack_element<I, A...>;
};
template <class T>
inline T __mb_bind(void* p) {
  if constexpr (std::is_pointer_v<T>)
    return (T)p;
  else
    return *(std::remove_reference_t<T>*)p;  // constant Params& p [[buffer(0)]] (or by value)
}
// The bytes a [[buffer(i)]] argument of type T needs bound: a reference or a value reads a whole
// T (Metal's validation layer refuses a shorter binding); a pointer's extent is the kernel's own.
template <class T>
constexpr uint64_t __mb_min_length() {
  if constexpr (std::is_pointer_v<T>)
    return 0;
  else
    return sizeof(std::remove_cvref_t<T>);
}
// run_group's `constant T& p [[buffer(i)]]` argument (T a reference), read once per threadgroup.
// Constant memory is read-only for the whole dispatch, so a copy is exact, and the kernel's
// stores through device pointers provably cannot change it: clang keeps its fields in
// registers across the thread loop instead of reloading them after every store. At most the
// bound length is copied (the rest reads as zero), so the copy itself never reads past the
// binding; checked mode (MBK_CHECKED) keeps a short binding in place, so a kernel reading past
// its end still faults and is reported. Large or non-trivially-copyable types stay in place.
template <class T, bool = __is_lvalue_reference(T) &&
                          __is_trivially_copyable(std::remove_cvref_t<T>) &&
                          (sizeof(std::remove_cvref_t<T>) <= 1024)>
struct __mb_group_constant {
  void* p;
  __mb_group_constant(void* src, uint64_t) : p(src) {}
  T get() { return __mb_bind<T>(p); }
};
// Types the simd_* collectives take (Apple's header names this trait; kernels test it).
template <class T>
struct __is_valid_simdgroup_type
    : bool_constant<(__mb_is_fp_scalar<__mb_elem<T>> || __is_integral(__mb_elem<T>)) &&
                    !__mb_is_bvec<T>> {};
template <class T>
struct __mb_group_constant<T, true> {
  using V = std::remove_cvref_t<T>;
  alignas(V) unsigned char bytes[sizeof(V)];
#if defined(MBK_CHECKED)
  V* p;
  __mb_group_constant(void* src, uint64_t length) : p(length >= sizeof(V) ? (V*)bytes : (V*)src) {
    if (length >= sizeof(V)) __builtin_memcpy(bytes, src, sizeof(V));
  }
  T get() { return *__builtin_launder(p); }
#else
  __mb_group_constant(void* src, uint64_t length) {
    if (__builtin_expect(length >= sizeof(V), 1)) {
      __builtin_memcpy(bytes, src, sizeof(V));  // a few moves
    } else {
      __builtin_memset(bytes, 0, sizeof(V));
      __builtin_memcpy(bytes, src, length);
    }
  }
  T get() { return *__builtin_launder((V*)bytes); }
#endif
};
// ---- matrices ---------------------------------------------------------------------------------
// matrix<T, C, R>: C columns of vec<T, R> (m[c] is a column, m[c][r] an element), as in MSL.
template <class T, int C, int R>
struct matrix {
  using column_type = vec<T, R>;
  column_type columns[C];
  matrix() = default;
  // A scalar fills the diagonal; C columns give the columns; C*R scalars fill column by column.
  explicit matrix(T d) {
    for (int c = 0; c < C; ++c) {
      columns[c] = (column_type)(T)0;
      if (c < R) columns[c][c] = d;
    }
  }
  template <class... A, std::enable_if_t<sizeof...(A) == C && (__mb_n<A> + ...) == C * R, int> = 0>
  matrix(A... cols) {
    int c = 0;
    ((columns[c++] = __mb_cast<column_type>(cols)), ...);
  }
  template <class... A, std::enable_if_t<sizeof...(A) == C * R && C * R != C, int> = 0>
  matrix(A... elems) {
    T e[C * R] = {(T)elems...};
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < R; ++r) columns[c][r] = e[c * R + r];
  }
  // Element-type conversion: float4x4(half4x4).
  template <class U>
  explicit matrix(const matrix<U, C, R>& m) {
    for (int c = 0; c < C; ++c) columns[c] = __builtin_convertvector(m.columns[c], column_type);
  }
  column_type& operator[](int c) { return columns[c]; }
  const column_type& operator[](int c) const { return columns[c]; }
  matrix& operator+=(const matrix& o) {
    for (int c = 0; c < C; ++c) columns[c] += o.columns[c];
    return *this;
  }
  matrix& operator-=(const matrix& o) {
    for (int c = 0; c < C; ++c) columns[c] -= o.columns[c];
    return *this;
  }
  matrix& operator*=(T s) {
    for (int c = 0; c < C; ++c) columns[c] *= s;
    return *this;
  }
  friend matrix operator+(matrix a, const matrix& b) { return a += b; }
  friend matrix operator-(matrix a, const matrix& b) { return a -= b; }
  friend matrix operator-(matrix a) {
    for (int c = 0; c < C; ++c) a.columns[c] = -a.columns[c];
    return a;
  }
  friend matrix operator*(matrix a, T s) { return a *= s; }
  friend matrix operator*(T s, matrix a) { return a *= s; }
  friend bool operator==(const matrix& a, const matrix& b) {
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < R; ++r)
        if (a.columns[c][r] != b.columns[c][r]) return false;
    return true;
  }
  // Matrix times column vector: a vec<T, R>.
  friend column_type operator*(const matrix& m, const vec<T, C>& v) {
    column_type r = (column_type)(T)0;
    for (int c = 0; c < C; ++c) r += m.columns[c] * v[c];
    return r;
  }
  // Row vector times matrix: a vec<T, C>.
  friend vec<T, C> operator*(const column_type& v, const matrix& m) {
    vec<T, C> r;
    for (int c = 0; c < C; ++c) r[c] = dot(v, m.columns[c]);
    return r;
  }
  template <int K>
  friend matrix<T, K, R> operator*(const matrix& a, const matrix<T, K, C>& b) {
    matrix<T, K, R> r;
    for (int k = 0; k < K; ++k) r.columns[k] = a * b.columns[k];
    return r;
  }
};
template <class T, int C, int R>
inline matrix<T, R, C> transpose(const matrix<T, C, R>& m) {
  matrix<T, R, C> t;
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < R; ++r) t.columns[r][c] = m.columns[c][r];
  return t;
}
template <class T>
inline T determinant(const matrix<T, 2, 2>& m) {
  return m[0][0] * m[1][1] - m[1][0] * m[0][1];
}
template <class T>
inline T determinant(const matrix<T, 3, 3>& m) {
  return dot(m[0], cross(m[1], m[2]));
}
#define __MB_MATS(T)              \
  typedef matrix<T, 2, 2> T##2x2; \
  typedef matrix<T, 2, 3> T##2x3; \
  typedef matrix<T, 2, 4> T##2x4; \
  typedef matrix<T, 3, 2> T##3x2; \
  typedef matrix<T, 3, 3> T##3x3; \
  typedef matrix<T, 3, 4> T##3x4; \
  typedef matrix<T, 4, 2> T##4x2; \
  typedef matrix<T, 4, 3> T##4x3; \
  typedef matrix<T, 4, 4> T##4x4;
__MB_MATS(float)
__MB_MATS(half)
#undef __MB_MATS

// ---- Apple's internal builtins ----------------------------------------------------------------
// <metal_stdlib> implements its public functions with __metal_* builtins, and real libraries
// (MLX's bfloat math) call them directly, with a math-mode argument that is accepted here and
// ignored (the module's math mode applies). The collectives forward the caller's site.
template <class T>
inline T tanpi(T x) {
  return tan(x * (__mb_elem<T>)M_PI_F);
}
template <class T>
inline T fmax3(T x, T y, T z) {
  return fmax(fmax(x, y), z);
}
template <class T>
inline T fmin3(T x, T y, T z) {
  return fmin(fmin(x, y), z);
}
template <class T>
inline T fmedian3(T x, T y, T z) {
  return fmax(fmin(x, y), fmin(fmax(x, y), z));
}
template <class T>
inline T max3(T x, T y, T z) {
  return max(max(x, y), z);
}
template <class T>
inline T min3(T x, T y, T z) {
  return min(min(x, y), z);
}
template <class T>
inline T median3(T x, T y, T z) {
  return max(min(x, y), min(max(x, y), z));
}
template <class T>
inline T nextafter(T x, T y) {
  return __mb_each2(x, y, [](__mb_elem<T> a, __mb_elem<T> b) {
    return (__mb_elem<T>)__builtin_nextafterf((float)a, (float)b);
  });
}
template <class T>
inline T frexp(T x, int& e) {
  return (T)__builtin_frexpf((float)x, &e);
}
// clang-format off: lists of macro invocations, one line per group
#define __MB_BUILTIN1(NAME) template <class T> inline auto __metal_##NAME(T x, int = 0) { return NAME(x); }
#define __MB_BUILTIN2(NAME) template <class T, class U> inline auto __metal_##NAME(T x, U y, int = 0) { return NAME(x, y); }
#define __MB_BUILTIN3(NAME) \
  template <class T, class U, class V> inline auto __metal_##NAME(T x, U y, V z, int = 0) { return NAME(x, y, z); }
__MB_BUILTIN1(fabs) __MB_BUILTIN1(acos) __MB_BUILTIN1(acosh) __MB_BUILTIN1(asin) __MB_BUILTIN1(asinh)
__MB_BUILTIN1(atan) __MB_BUILTIN1(atanh) __MB_BUILTIN1(ceil) __MB_BUILTIN1(cos) __MB_BUILTIN1(cosh)
__MB_BUILTIN1(cospi) __MB_BUILTIN1(exp) __MB_BUILTIN1(exp10) __MB_BUILTIN1(exp2) __MB_BUILTIN1(floor)
__MB_BUILTIN1(fract) __MB_BUILTIN1(log) __MB_BUILTIN1(log10) __MB_BUILTIN1(log2) __MB_BUILTIN1(rint)
__MB_BUILTIN1(round) __MB_BUILTIN1(rsqrt) __MB_BUILTIN1(sin) __MB_BUILTIN1(sinh) __MB_BUILTIN1(sinpi)
__MB_BUILTIN1(sqrt) __MB_BUILTIN1(tan) __MB_BUILTIN1(tanh) __MB_BUILTIN1(tanpi) __MB_BUILTIN1(trunc)
__MB_BUILTIN2(atan2) __MB_BUILTIN2(divide) __MB_BUILTIN2(fmax) __MB_BUILTIN2(fmin) __MB_BUILTIN2(fmod)
__MB_BUILTIN2(pow) __MB_BUILTIN2(powr) __MB_BUILTIN2(ldexp) __MB_BUILTIN2(copysign)
__MB_BUILTIN3(fma) __MB_BUILTIN3(fmax3) __MB_BUILTIN3(fmin3) __MB_BUILTIN3(fmedian3)
#undef __MB_BUILTIN1
#undef __MB_BUILTIN2
#undef __MB_BUILTIN3
template <class T, class U> inline T __metal_nextafter(T x, U y) { return nextafter(x, (T)y); }
template <class T> inline T __metal_frexp(T x, int* e) { return frexp(x, *e); }
template <class T> inline T __metal_get_simdgroup_size(T) { return (T)MBK_SIMD_WIDTH; }
template <class T> inline __MB_SYNC T __metal_get_thread_index_in_simdgroup(T) { return (T)(__mb_tid % MBK_SIMD_WIDTH); }
#define __MB_COLLECTIVE(NAME) \
  template <class T> inline __MB_SYNC T __metal_simd_##NAME(T v, __MB_SITE) { return simd_##NAME(v, site); }
__MB_COLLECTIVE(sum) __MB_COLLECTIVE(product) __MB_COLLECTIVE(min) __MB_COLLECTIVE(max) __MB_COLLECTIVE(and)
__MB_COLLECTIVE(or) __MB_COLLECTIVE(xor) __MB_COLLECTIVE(prefix_inclusive_sum) __MB_COLLECTIVE(prefix_exclusive_sum)
__MB_COLLECTIVE(prefix_inclusive_product) __MB_COLLECTIVE(prefix_exclusive_product)
#undef __MB_COLLECTIVE
#define __MB_COLLECTIVE(NAME) \
  template <class T, class U> inline __MB_SYNC T __metal_simd_##NAME(T v, U arg, __MB_SITE) { return simd_##NAME(v, (ushort)arg, site); }
__MB_COLLECTIVE(broadcast) __MB_COLLECTIVE(shuffle) __MB_COLLECTIVE(shuffle_xor) __MB_COLLECTIVE(shuffle_up)
__MB_COLLECTIVE(shuffle_down) __MB_COLLECTIVE(shuffle_rotate_up) __MB_COLLECTIVE(shuffle_rotate_down)
#undef __MB_COLLECTIVE
template <class T, class U>
inline __MB_SYNC T __metal_simd_shuffle_and_fill_up(T v, T fill, U delta, __MB_SITE) {
  return __mb_fill(v, fill, -(int)delta, MBK_SIMD_WIDTH, site, true);
}
// clang-format on
template <class T, class U, class M>
inline __MB_SYNC T __metal_simd_shuffle_and_fill_up(T v, T fill, U delta, M modulo, __MB_SITE) {
  return __mb_fill(v, fill, -(int)delta, (uint)modulo, site, true);
}
template <class T, class U>
inline __MB_SYNC T __metal_simd_shuffle_and_fill_down(T v, T fill, U delta, __MB_SITE) {
  return __mb_fill(v, fill, (int)delta, MBK_SIMD_WIDTH, site, false);
}
template <class T, class U, class M>
inline __MB_SYNC T __metal_simd_shuffle_and_fill_down(T v, T fill, U delta, M modulo, __MB_SITE) {
  return __mb_fill(v, fill, (int)delta, (uint)modulo, site, false);
}

#undef __MB_SITE

// <metal_logging>: os_log accepts messages and drops them (the CPU backend has no log buffer).
struct os_log {
  constexpr os_log() {}
  constexpr os_log(const char*, const char*) {}
  template <class... A>
  void log(const char*, A...) const {}
  template <class... A>
  void log_debug(const char*, A...) const {}
  template <class... A>
  void log_info(const char*, A...) const {}
  template <class... A>
  void log_error(const char*, A...) const {}
  template <class... A>
  void log_fault(const char*, A...) const {}
};
inline constexpr os_log os_log_default{};

// A thread id of any MSL id type (uint, ushort, uint2/3, ushort2/3, int ...).
template <class T>
inline T __mb_id(uint x, uint y, uint z) {
  if constexpr (__mb_is_vec<T>) {
    using E = __mb_elem<T>;
    if constexpr (__mb_n<T> == 2)
      return T{(E)x, (E)y};
    else if constexpr (__mb_n<T> == 3)
      return T{(E)x, (E)y, (E)z};
    else
      return T{(E)x, (E)y, (E)z, (E)0};
  } else {
    return (T)x;
  }
}
template <class T>
inline T __mb_id3(const uint* v) {
  return __mb_id<T>(v[0], v[1], v[2]);
}

#if defined(__MB_ADDRESS_SPACES)
// ---- the address-space check only (see the macros at the end) -------------------------------
// A type's space: 0 thread, 1 device, 2 constant, 3 threadgroup (the numbers behind the macros).
template <class T>
struct __mb_space_of {
  static constexpr int value = 0;
};
template <class T>
struct __mb_space_of<__attribute__((address_space(1))) T> {
  static constexpr int value = 1;
};
template <class T>
struct __mb_space_of<__attribute__((address_space(2))) T> {
  static constexpr int value = 2;
};
template <class T>
struct __mb_space_of<__attribute__((address_space(3))) T> {
  static constexpr int value = 3;
};
template <class T>
inline constexpr int __mb_space = __mb_space_of<__remove_cv(T)>::value;
// A cast naming an address space keeps the space of what it points at (Metal refuses a cast
// between spaces; clang accepts C-style ones, so the check rewrites them into this call).
template <class T, class U>
inline constexpr bool __mb_cast_keeps_space = true;
template <class T, class U>
inline constexpr bool __mb_cast_keeps_space<T*, U*> = __mb_space<T> == __mb_space<U>;
template <class T, class U>
  requires __mb_cast_keeps_space<T, U>
inline T __mb_as_cast(U x) {
  return (T)x;
}
// The atomics take their object in device or threadgroup memory.
#define __MB_ATOMICS_IN(S)                                                                       \
  template <class T, class U>                                                                    \
  void atomic_store_explicit(volatile S atomic<T>* o, U v, memory_order = memory_order_relaxed); \
  template <class T>                                                                             \
  T atomic_load_explicit(volatile S atomic<T>* o, memory_order = memory_order_relaxed);          \
  template <class T, class U>                                                                    \
  T atomic_exchange_explicit(volatile S atomic<T>* o, U v, memory_order = memory_order_relaxed); \
  template <class T, class U>                                                                    \
  bool atomic_compare_exchange_weak_explicit(volatile S atomic<T>* o, T* expected, U desired,    \
                                             memory_order = memory_order_relaxed,                \
                                             memory_order = memory_order_relaxed);               \
  template <class T, class U>                                                                    \
  bool atomic_compare_exchange_strong_explicit(volatile S atomic<T>* o, T* expected, U desired,  \
                                               memory_order = memory_order_relaxed,              \
                                               memory_order = memory_order_relaxed);             \
  template <class T, class U>                                                                    \
  void atomic_store(volatile S atomic<T>* o, U v);                                               \
  template <class T>                                                                             \
  T atomic_load(volatile S atomic<T>* o);                                                        \
  __MB_ATOMIC_RMW_IN(S, fetch_add)                                                               \
  __MB_ATOMIC_RMW_IN(S, fetch_sub)                                                               \
  __MB_ATOMIC_RMW_IN(S, fetch_and)                                                               \
  __MB_ATOMIC_RMW_IN(S, fetch_or)                                                                \
  __MB_ATOMIC_RMW_IN(S, fetch_xor)                                                               \
  __MB_ATOMIC_RMW_IN(S, fetch_min)                                                               \
  __MB_ATOMIC_RMW_IN(S, fetch_max)
#define __MB_ATOMIC_RMW_IN(S, NAME) \
  template <class T, class U>       \
  T atomic_##NAME##_explicit(volatile S atomic<T>* o, U v, memory_order = memory_order_relaxed);
__MB_ATOMICS_IN(__attribute__((address_space(1))))
__MB_ATOMICS_IN(__attribute__((address_space(3))))
#undef __MB_ATOMICS_IN
#undef __MB_ATOMIC_RMW_IN
#endif

// ---- <metal_array>, <metal_uniform>, memory scopes ---------------------------------------------
// metal::array: a fixed-size aggregate (brace-initialised, returned by value) with size() and [].
template <class T, size_t N>
struct array {
  T __elems[N ? N : 1];
  constexpr size_t size() const { return N; }
  static constexpr size_t max_size() { return N; }
  constexpr bool empty() const { return N == 0; }
  constexpr T& operator[](size_t i) { return __elems[i]; }
  constexpr const T& operator[](size_t i) const { return __elems[i]; }
  constexpr T& front() { return __elems[0]; }
  constexpr const T& front() const { return __elems[0]; }
  constexpr T& back() { return __elems[N - 1]; }
  constexpr const T& back() const { return __elems[N - 1]; }
  constexpr T* data() { return __elems; }
  constexpr const T* data() const { return __elems; }
  constexpr T* begin() { return __elems; }
  constexpr const T* begin() const { return __elems; }
  constexpr T* end() { return __elems + N; }
  constexpr const T* end() const { return __elems + N; }
};
// metal::uniform<T>: a value the compiler may assume equal across the threads of a dispatch
// (a hint on a GPU; on the CPU every thread holds its own copy). Converts to and from T, so its
// arithmetic and comparisons are T's.
template <class T>
struct uniform {
  T __value;
  uniform() = default;
  constexpr uniform(T v) : __value(v) {}
  template <class U>
  constexpr uniform(uniform<U> u) : __value((T)u.__value) {}
  constexpr operator T() const { return __value; }
  uniform& operator=(T v) {
    __value = v;
    return *this;
  }
};
template <class T>
constexpr uniform<T> make_uniform(T v) {
  return uniform<T>(v);
}
// Memory scopes of fences and atomics. Workers share one coherent memory, so every fence is a
// full fence whatever its scope.
enum thread_scope {
  thread_scope_thread = 0,
  thread_scope_threadgroup = 1,
  thread_scope_device = 2,
  thread_scope_simdgroup = 4
};
inline void atomic_thread_fence(mem_flags, memory_order order, thread_scope = thread_scope_device) {
  (void)order;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

}  // namespace metal

// Metal 4's tensor API (<metal_tensor>, MetalPerformancePrimitives' matmul2d).
#include "metal_tensor.h"

// Address-space qualifiers carry no meaning on the CPU (compiler.cpp turns `threadgroup` variables
// into per-worker statics and namespace-scope `constant` into const before this applies), except
// that the constant space is read-only: `constant T*` is `const T*`, so writes through it are
// refused as on Metal, and a `constant` array passes to a `constant T*` parameter.
// Metal's scalar, vector and matrix type names are usable outside namespace metal too (real
// headers typedef them before any `using namespace metal;`).
typedef metal::uint uint;
typedef metal::ushort ushort;
typedef metal::uchar uchar;
typedef metal::ulong ulong;
typedef metal::half half;
typedef metal::bfloat bfloat;
typedef metal::float2 float2;
typedef metal::float3 float3;
typedef metal::float4 float4;
typedef metal::half2 half2;
typedef metal::half3 half3;
typedef metal::half4 half4;
typedef metal::bfloat2 bfloat2;
typedef metal::bfloat3 bfloat3;
typedef metal::bfloat4 bfloat4;
typedef metal::int2 int2;
typedef metal::int3 int3;
typedef metal::int4 int4;
typedef metal::uint2 uint2;
typedef metal::uint3 uint3;
typedef metal::uint4 uint4;
typedef metal::short2 short2;
typedef metal::short3 short3;
typedef metal::short4 short4;
typedef metal::ushort2 ushort2;
typedef metal::ushort3 ushort3;
typedef metal::ushort4 ushort4;
typedef metal::char2 char2;
typedef metal::char3 char3;
typedef metal::char4 char4;
typedef metal::uchar2 uchar2;
typedef metal::uchar3 uchar3;
typedef metal::uchar4 uchar4;
typedef metal::long2 long2;
typedef metal::long3 long3;
typedef metal::long4 long4;
typedef metal::ulong2 ulong2;
typedef metal::ulong3 ulong3;
typedef metal::ulong4 ulong4;
typedef metal::bool2 bool2;
typedef metal::bool3 bool3;
typedef metal::bool4 bool4;
typedef metal::packed_float2 packed_float2;
typedef metal::packed_float4 packed_float4;
typedef metal::packed_half2 packed_half2;
typedef metal::packed_half4 packed_half4;
typedef metal::packed_bfloat2 packed_bfloat2;
typedef metal::packed_bfloat4 packed_bfloat4;
typedef metal::packed_int2 packed_int2;
typedef metal::packed_int4 packed_int4;
typedef metal::packed_uint2 packed_uint2;
typedef metal::packed_uint4 packed_uint4;
typedef metal::packed_short2 packed_short2;
typedef metal::packed_short4 packed_short4;
typedef metal::packed_ushort2 packed_ushort2;
typedef metal::packed_ushort4 packed_ushort4;
typedef metal::packed_char2 packed_char2;
typedef metal::packed_char4 packed_char4;
typedef metal::packed_uchar2 packed_uchar2;
typedef metal::packed_uchar4 packed_uchar4;
typedef metal::float2x2 float2x2;
typedef metal::float2x3 float2x3;
typedef metal::float2x4 float2x4;
typedef metal::float3x2 float3x2;
typedef metal::float3x3 float3x3;
typedef metal::float3x4 float3x4;
typedef metal::float4x2 float4x2;
typedef metal::float4x3 float4x3;
typedef metal::float4x4 float4x4;
typedef metal::half2x2 half2x2;
typedef metal::half2x3 half2x3;
typedef metal::half2x4 half2x4;
typedef metal::half3x2 half3x2;
typedef metal::half3x3 half3x3;
typedef metal::half3x4 half3x4;
typedef metal::half4x2 half4x2;
typedef metal::half4x3 half4x3;
typedef metal::half4x4 half4x4;

// Apple's headers spell a forced-inline function this way; real-world kernels use it.
#define METAL_FUNC inline __attribute__((always_inline))
// `coherent(device)` / `coherent(system)`: stores visible to other threadgroups (or the host)
// without a fence. Workers share one coherent memory, so the qualifier has nothing to do here.
#define coherent(scope)
#define __METAL_MAYBE_FAST_MATH__ 0
#define __METAL_FAST_MATH__ 1
#define __METAL_PRECISE_MATH__ 2
#if defined(__MB_ADDRESS_SPACES)
// The address-space check (msl_address_spaces.h): a syntax-only compile of the same source in
// which the spaces are clang address spaces, so overloads by address space resolve as on Metal and
// the conversions Metal refuses are refused. `thread` is the default space, as in MSL, where a
// pointer or variable without a space is in thread memory. Code generation erases them instead.
#define device __attribute__((address_space(1)))
#define constant __attribute__((address_space(2))) const
#define thread
#define threadgroup __attribute__((address_space(3)))
#else
#define device
#define constant const
#define thread
#define threadgroup
#endif
#define ray_data
#define object_data
