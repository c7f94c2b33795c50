//! A value's RDB encoding (rdb.c's rdbSaveObjectType/rdbSaveObject and rdbLoadObject): the
//! type byte and the payload, for every type and encoding Redis 7.2 writes, and the older
//! ones it still reads. Shared by RDB files, DUMP/RESTORE payloads and the AOF's RDB
//! preamble; it knows nothing of keys, expiry or files.
//!
//! (Skeleton: strings only; the rest of the types land with the codec work of issue 23.)

use super::rdb;
use crate::data::value::Value;

/// RDB object types (rdb.h).
pub mod types {
    pub const STRING: u8 = 0;
}

/// What loading needs from the configuration: the thresholds that choose an encoding for a
/// loaded collection, and whether to check a listpack's or intset's bytes deeply
/// (`sanitize-dump-payload`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOpts {
    pub deep_sanitize: bool,
}

/// Append `v`'s RDB type byte and payload to `out`; `compress`: `rdbcompression`.
pub fn save(out: &mut Vec<u8>, v: &Value, compress: bool) {
    match v {
        Value::Int(n) => {
            out.push(types::STRING);
            rdb::put_i64(out, *n);
        }
        Value::Str { bytes, .. } => {
            out.push(types::STRING);
            rdb::put_string(out, bytes, compress);
        }
        _ => unimplemented!("issue 23: RDB encoding of collections"),
    }
}

/// Read a value of RDB type `ty` at `*pos` (advanced past it). None on anything malformed,
/// truncated or unknown; never panics on any input.
pub fn load(ty: u8, data: &[u8], pos: &mut usize, _opts: &LoadOpts) -> Option<Value> {
    match ty {
        types::STRING => Some(Value::from_string(&rdb::get_string(data, pos)?)),
        _ => None,
    }
}
