// Vector operations Swift cannot express at their speed. Swift's Float.squareRoot() keeps C's
// errno rule (a call to sqrtf for a negative input), so SIMD8<Float>.squareRoot() runs lane by
// lane; clang's elementwise builtin has no errno and compiles to packed sqrtps (or its NEON
// counterpart). IEEE square root is correctly rounded, so each lane is bit for bit the scalar's.
//
// Swift code is compiled for the architecture's baseline (SSE2 on x86-64), so its loops use
// 4-float vectors. The AVX2 kernels below do the same IEEE operations, in the same order, on 8
// floats at a time; they never fuse a multiply and an add (no FMA: the file is compiled with
// contraction off and the functions enable AVX2 only), so they give the bits of the Swift loops
// they stand in for. Call them only where csimd_has_avx2() says so.
#ifndef CSIMD_H
#define CSIMD_H

#include <stdbool.h>

typedef float csimd_float8 __attribute__((ext_vector_type(8)));

/// The square root of each lane; imported into Swift as taking and returning SIMD8<Float>.
static inline csimd_float8 csimd_sqrt8(csimd_float8 x) { return __builtin_elementwise_sqrt(x); }

/// Asks the CPU to bring `count` bytes at `bytes` into its caches, without waiting for them: a hint
/// (a no-op where the compiler has none), never a fault, whatever the address.
static inline void csimd_prefetch(const void *bytes, long count) {
    const char *p = (const char *)bytes;
    for (long i = 0; i < count; i += 64) __builtin_prefetch(p + i, 0, 3);
    if (count > 0) __builtin_prefetch(p + count - 1, 0, 3);
}

#if defined(__x86_64__)
/// Whether this CPU runs AVX2 (checked once).
bool csimd_has_avx2(void);

/// values[k] = tanh(values[k]) for k < count: Model's Activation.tanh (Cephes' tanhf), 8 at a time.
void csimd_tanh_avx2(float *values, long count);

/// out = Â m for one graph, as Model's Propagation.apply: for each node i,
/// out_i = s_i (s_i m_i + Σ_{j ∈ N(i)} s_j m_j), the neighbours of i being
/// neighbours[start[i] ..< start[i + 1]], m and out `nodes x width`.
void csimd_propagate_avx2(long nodes, const int *start, const int *neighbours, const float *scale,
                          const float *m, long width, float *out);

/// Base64 (the standard alphabet) of `input`, 24 bytes to 32 characters at a time while 28 bytes
/// remain to be read; returns the bytes encoded (a multiple of 24), whose text is at `output`.
/// The caller encodes the rest.
long csimd_base64_encode_avx2(const unsigned char *input, long count, unsigned char *output);

/// Decodes up to `blocks` blocks of 32 base64 characters (no padding) into 24 bytes each,
/// stopping before the first block with a character outside the alphabet; returns the blocks
/// decoded. The caller decodes the rest, and finds the bad character again.
long csimd_base64_decode_avx2(const unsigned char *text, long blocks, unsigned char *output);
#endif

#endif
