//! Word-at-a-time bit loops shared by the bitmap commands: population count, first set or
//! clear bit, AND/OR/XOR/NOT of byte strings. Filled in by issue 22's bitmap work.
