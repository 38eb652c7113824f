#ifndef TRIPLEGATE_CVECTORMATH_H
#define TRIPLEGATE_CVECTORMATH_H

#include <stddef.h>
#include <stdint.h>

/// Dot product of two float vectors, with the widest SIMD this CPU has (AVX-512, AVX2 + FMA,
/// or SSE), chosen once at start-up.
float tg_dot_f32(const float *a, const float *b, size_t n);

/// Dot product of a float vector and an int8 vector.
float tg_dot_f32_i8(const float *a, const int8_t *b, size_t n);

/// Asks the CPU to start loading the cache line at `p`.
static inline void tg_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// The kernel in use, for benchmark reports: "avx512", "avx2" or "generic".
const char *tg_dot_kernel(void);

#endif
