//! Geohash: Redis's 52-bit interleaved encoding of (longitude, latitude), its neighbour
//! boxes and its distance formula (geohash.c, geohash_helper.c). Filled in by issue 22's geo work.
