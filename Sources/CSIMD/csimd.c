#include "csimd.h"

#if defined(__x86_64__)
#include <string.h>

// No a * b + c may become one fused operation: the results must be the Swift loops' bits.
#pragma clang fp contract(off)

typedef unsigned int csimd_bits8 __attribute__((ext_vector_type(8)));

bool csimd_has_avx2(void) {
    static int known = -1;
    if (known < 0) known = __builtin_cpu_supports("avx2") ? 1 : 0;
    return known == 1;
}

#define AVX2 __attribute__((target("avx2")))

// Activation.exp (Cephes' expf for x ≤ 88), lane by lane the same operations.
AVX2 static csimd_float8 exp8(csimd_float8 x) {
    csimd_float8 shifted = x * 1.44269504088896341f + 12582912.0f;
    csimd_float8 n = shifted - 12582912.0f;
    csimd_float8 r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
    csimd_float8 p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    csimd_bits8 scale = ((csimd_bits8)shifted - 0x4B400000u + 127u) << 23;
    return (p * (r * r) + r + 1.0f) * (csimd_float8)scale;
}

// Activation.tanh, lane by lane the same operations.
AVX2 static csimd_float8 tanh8(csimd_float8 x) {
    csimd_bits8 bits = (csimd_bits8)x;
    csimd_float8 a = (csimd_float8)(bits & 0x7FFFFFFFu), z = x * x;
    csimd_float8 p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    csimd_float8 small = p * z * a + a;
    csimd_float8 twice = 2.0f * a;
    // Swift's min(t, 88) is `88 < t ? 88 : t` (a NaN stays NaN).
    csimd_float8 clamped = 88.0f < twice ? (csimd_float8)88.0f : twice;
    csimd_float8 large = 1.0f - 2.0f / (exp8(clamped) + 1.0f);
    csimd_float8 magnitude = a < 0.625f ? small : large;
    // Float(signOf: x, magnitudeOf: magnitude)
    return (csimd_float8)(((csimd_bits8)magnitude & 0x7FFFFFFFu) | (bits & 0x80000000u));
}

AVX2 void csimd_tanh_avx2(float *values, long count) {
    long k = 0;
    for (; k + 8 <= count; k += 8) {
        csimd_float8 x;
        memcpy(&x, values + k, sizeof x);
        x = tanh8(x);
        memcpy(values + k, &x, sizeof x);
    }
    if (k < count) {
        // The last 1 to 7 values, in a zero-padded group.
        csimd_float8 x = 0.0f;
        memcpy(&x, values + k, (size_t)(count - k) * sizeof(float));
        x = tanh8(x);
        memcpy(values + k, &x, (size_t)(count - k) * sizeof(float));
    }
}

AVX2 void csimd_propagate_avx2(long nodes, const int *start, const int *neighbours, const float *scale,
                               const float *m, long width, float *out) {
    for (long i = 0; i < nodes; i++) {
        float *row = out + i * width;
        const float *own = m + i * width;
        float si = scale[i];
        for (long c = 0; c < width; c++) row[c] = si * own[c];
        for (int e = start[i]; e < start[i + 1]; e++) {
            int j = neighbours[e];
            float sj = scale[j];
            const float *other = m + (long)j * width;
            for (long c = 0; c < width; c++) row[c] += sj * other[c];
        }
        for (long c = 0; c < width; c++) row[c] *= si;
    }
}
#endif
