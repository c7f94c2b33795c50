//! BITFIELD and BITFIELD_RO: integers of 1-64 bits at any bit offset of a string.
