// Bit packing of any width from 1 to 8, eight fields to a 64-bit word: eight codes of `bits` bits
// are exactly `bits` bytes, so a row is packed (or unpacked) a word at a time, with shifts that do
// not depend on the data. The vector variants use this for the widths that have no byte-aligned
// vector layout (3, 5, 6, 7) and for row tails; the result is the reference's, bit for bit.
#include "internal.h"

// Codes [0, cols) of one row; cols a multiple of 8. Writes cols * bits / 8 bytes.
void qk_pack_words(const uint8_t *codes, size_t cols, int bits, uint8_t *out) {
    const uint64_t mask = (1u << bits) - 1;
    size_t groups = cols / 8;
    for (size_t g = 0; g < groups; g++) {
        const uint8_t *c = codes + g * 8;
        uint64_t word = 0;
        for (int i = 0; i < 8; i++) word |= ((uint64_t)c[i] & mask) << (i * bits);
        uint8_t *dst = out + g * (size_t)bits;
        // The next groups' bytes are written after this one's, so a full 8-byte store may run ahead
        // of its own `bits` bytes, as long as it stays within this row's.
        if (g * (size_t)bits + 8 <= groups * (size_t)bits) memcpy(dst, &word, 8);
        else for (int b = 0; b < bits; b++) dst[b] = (uint8_t)(word >> (8 * b));
    }
}

// Fields [0, cols) of one packed row; cols a multiple of 8. Sign-extends from `bits` when asked.
void qk_unpack_words(const uint8_t *packed, size_t cols, int bits, int sign_extend, uint8_t *out) {
    const uint64_t mask = (1u << bits) - 1;
    const uint8_t sign = (uint8_t)(1u << (bits - 1));
    size_t groups = cols / 8;
    for (size_t g = 0; g < groups; g++) {
        const uint8_t *src = packed + g * (size_t)bits;
        uint64_t word = 0;
        // A whole 8-byte load only where the row certainly has 8 more bytes.
        if (g * (size_t)bits + 8 <= groups * (size_t)bits) memcpy(&word, src, 8);
        else for (int b = 0; b < bits; b++) word |= (uint64_t)src[b] << (8 * b);
        uint8_t *dst = out + g * 8;
        for (int i = 0; i < 8; i++) {
            uint8_t field = (uint8_t)((word >> (i * bits)) & mask);
            dst[i] = sign_extend ? (uint8_t)((field ^ sign) - sign) : field;
        }
    }
}

// A whole row: groups of eight as words, the last fields (fewer than eight) by the reference.
void qk_pack_row_words(const uint8_t *codes, size_t cols, int bits, uint8_t *out) {
    size_t full = cols / 8 * 8;
    if (full) qk_pack_words(codes, full, bits, out);
    if (full < cols) qk_pack_ref(codes + full, 1, cols - full, bits, out + full * (size_t)bits / 8);
}

void qk_unpack_row_words(const uint8_t *packed, size_t cols, int bits, int sign_extend, uint8_t *out) {
    size_t full = cols / 8 * 8;
    if (full) qk_unpack_words(packed, full, bits, sign_extend, out);
    if (full < cols) qk_unpack_ref(packed + full * (size_t)bits / 8, 1, cols - full, bits, sign_extend, out + full);
}

void qk_pack_rows(const uint8_t *codes, size_t rows, size_t cols, int bits, uint8_t *out, qk_pack_row_fn vector) {
    const size_t stride = (cols * (size_t)bits + 7) / 8;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *src = codes + r * cols;
        uint8_t *dst = out + r * stride;
        if (bits == 8) {
            memcpy(dst, src, cols);
            continue;
        }
        const size_t c = vector(src, cols, bits, dst);
        if (c < cols) qk_pack_row_words(src + c, cols - c, bits, dst + c * (size_t)bits / 8);
    }
}

void qk_unpack_rows(const uint8_t *packed, size_t rows, size_t cols, int bits, int sign_extend, uint8_t *out, qk_unpack_row_fn vector) {
    const size_t stride = (cols * (size_t)bits + 7) / 8;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *src = packed + r * stride;
        uint8_t *dst = out + r * cols;
        if (bits == 8) {
            memcpy(dst, src, cols);
            continue;
        }
        const size_t c = vector(src, cols, bits, sign_extend, dst);
        if (c < cols) qk_unpack_row_words(src + c * (size_t)bits / 8, cols - c, bits, sign_extend, dst + c);
    }
}
