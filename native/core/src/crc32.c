/*
 * crc32.c - CRC-32 (IEEE 802.3 polynomial, reflected), the same value as
 * zlib's crc32(), so a file's checksum can be checked with standard tools.
 * The 1 KB table is built on the stack per call instead of living in a
 * global; building it costs about as much as hashing 2 KB.
 */
#include "internal.h"

uint32_t hdrnn_crc32(uint32_t crc, const uint8_t *bytes, size_t length) {
  uint32_t table[256];
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  crc = ~crc;
  for (size_t i = 0; i < length; i++) crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}
