// SHA-256 compression of whole 64-byte blocks: the x86 SHA extensions where the CPU has them
// (chosen once), a portable C version elsewhere. Hashing uploads at disk speed needs this.
#ifndef CSHA256_H
#define CSHA256_H
#include <stddef.h>
#include <stdint.h>

/// Updates `state` (a..h) with `blocks` consecutive 64-byte blocks of `data`.
void qs_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);
/// The portable version, for tests.
void qs_sha256_blocks_portable(uint32_t state[8], const uint8_t *data, size_t blocks);
/// 1 when the SHA-extension path is in use.
int qs_sha256_accelerated(void);
#endif
