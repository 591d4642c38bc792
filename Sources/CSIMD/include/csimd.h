// Vector operations Swift's SIMD types lack a fast form of. Swift's Float.squareRoot() keeps C's
// errno rule (a call to sqrtf for a negative input), so SIMD8<Float>.squareRoot() runs lane by
// lane; clang's elementwise builtin has no errno and compiles to packed sqrtps (or its NEON
// counterpart). IEEE square root is correctly rounded, so each lane is bit for bit the scalar's.
#ifndef CSIMD_H
#define CSIMD_H

typedef float csimd_float8 __attribute__((ext_vector_type(8)));

/// The square root of each lane; imported into Swift as taking and returning SIMD8<Float>.
static inline csimd_float8 csimd_sqrt8(csimd_float8 x) { return __builtin_elementwise_sqrt(x); }

#endif
