#include "csimd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

// No a * b + c may become one fused operation: the results must be the Swift loops' bits.
#pragma clang fp contract(off)

typedef unsigned int csimd_bits8 __attribute__((ext_vector_type(8)));

bool csimd_has_avx2(void) {
    // 0: not asked yet, 1: no, 2: yes. (The check includes the OS's saving of the AVX registers.)
    static int known;
    int value = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (value == 0) {
        __builtin_cpu_init();
        value = __builtin_cpu_supports("avx2") ? 2 : 1;
        __atomic_store_n(&known, value, __ATOMIC_RELAXED);
    }
    return value == 2;
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
        // The last 1 to 7 values, with masked loads and stores (the other lanes read as zero).
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count - k)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        csimd_float8 x = (csimd_float8)_mm256_maskload_ps(values + k, mask);
        _mm256_maskstore_ps(values + k, mask, (__m256)tanh8(x));
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

// Base64 with AVX2, after Wojciech Muła and Daniel Lemire, "Faster Base64 Encoding and Decoding
// Using AVX2 Instructions" (ACM TWEB 2018), and Alfred Klomp's base64 library.

AVX2 long csimd_base64_encode_avx2(const unsigned char *input, long count, unsigned char *output) {
    // Each 32-bit word k of a 128-bit lane gets bytes [3k + 1, 3k, 3k + 2, 3k + 1] of the lane's 12.
    const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,
                                            1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    // Added to a value's class (below) to make its character: 'A' + v, 'a' + v - 26, '0' + v - 52, '+', '/'.
    const __m256i offsets = _mm256_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                             '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0,
                                             'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                             '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
    long i = 0;
    for (; i + 28 <= count; i += 24) {
        __m128i low = _mm_loadu_si128((const __m128i *)(input + i));
        __m128i high = _mm_loadu_si128((const __m128i *)(input + i + 12));
        __m256i words = _mm256_shuffle_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(low), high, 1), spread);
        // The four 6-bit values of each word's three bytes, one per byte, first value lowest.
        __m256i ac = _mm256_mulhi_epu16(_mm256_and_si256(words, _mm256_set1_epi32(0x0FC0FC00)), _mm256_set1_epi32(0x04000040));
        __m256i bd = _mm256_mullo_epi16(_mm256_and_si256(words, _mm256_set1_epi32(0x003F03F0)), _mm256_set1_epi32(0x01000010));
        __m256i values = _mm256_or_si256(ac, bd);
        // Class: 13 below 26, 0 for 26...51, 1...12 for 52...63; then the class's offset is added.
        __m256i classes = _mm256_subs_epu8(values, _mm256_set1_epi8(51));
        __m256i upper = _mm256_cmpgt_epi8(_mm256_set1_epi8(26), values);
        classes = _mm256_or_si256(classes, _mm256_and_si256(upper, _mm256_set1_epi8(13)));
        __m256i text = _mm256_add_epi8(values, _mm256_shuffle_epi8(offsets, classes));
        _mm256_storeu_si256((__m256i *)(output + i / 3 * 4), text);
    }
    return i;
}

AVX2 long csimd_base64_decode_avx2(const unsigned char *text, long blocks, unsigned char *output) {
    // A character is in the alphabet exactly when its low-nibble and high-nibble classes share no
    // bit; the roll, chosen by high nibble (and '/' apart), turns it into its 6-bit value.
    const __m256i lowClasses = _mm256_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A,
                                                0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
    const __m256i highClasses = _mm256_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
                                                 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
    const __m256i rolls = _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0,
                                           0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i slash = _mm256_set1_epi8(0x2F);
    // Each lane's 12 bytes to its front, then the two lanes' 12 together.
    const __m256i gather = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                                            2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
    long b = 0;
    for (; b < blocks; b++) {
        __m256i chars = _mm256_loadu_si256((const __m256i *)(text + 32 * b));
        __m256i high = _mm256_and_si256(_mm256_srli_epi32(chars, 4), slash);
        __m256i low = _mm256_and_si256(chars, slash);
        if (!_mm256_testz_si256(_mm256_shuffle_epi8(lowClasses, low), _mm256_shuffle_epi8(highClasses, high))) break;
        __m256i roll = _mm256_shuffle_epi8(rolls, _mm256_add_epi8(_mm256_cmpeq_epi8(chars, slash), high));
        __m256i values = _mm256_add_epi8(chars, roll);
        // 6-bit values a b c d -> 24 bits per 32-bit word (a·2^18 + b·2^12 + c·2^6 + d), then bytes.
        __m256i pairs = _mm256_maddubs_epi16(values, _mm256_set1_epi32(0x01400140));
        __m256i words = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
        __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(words, gather), join);
        // Exactly 24 bytes: 16, then 8.
        _mm_storeu_si128((__m128i *)(output + 24 * b), _mm256_castsi256_si128(bytes));
        _mm_storel_epi64((__m128i *)(output + 24 * b + 16), _mm256_extracti128_si256(bytes, 1));
    }
    return b;
}
#endif
