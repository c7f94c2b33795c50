//! HyperLogLog: Redis's exact representation (hyperloglog.c), stored as a string value so
//! GET/SET/DUMP move it between servers. Filled in by issue 22's HLL work.
