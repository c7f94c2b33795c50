//! GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH(STORE), GEORADIUS(BYMEMBER)(_RO): geo sets are
//! sorted sets scored by `data::geohash` (Redis's geo.c).
