//! SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP: bitmaps are strings (Redis's bitops.c).
