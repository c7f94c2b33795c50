//! The blocking list commands: BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP.
//!
//! Each tries its non-blocking core from `types::list` first (so an answer available now
//! is given now, with the same errors); when there is nothing, it blocks through
//! `command::blocking::block`. When a key it waits on is filled, the same handler runs
//! again on the client's behalf (see `keyspace::blocking`), finds the element, and its
//! reply goes to the waiting client.

use crate::command::blocking::{block, parse_timeout, OnTimeout};
use crate::command::{CmdResult, Ctx};
use crate::persist::propagate;
use crate::types::list::{lmove_core, mpop_core, parse_end, parse_mpop, pop_and_reply, End, PopShape};

fn bpop(ctx: &mut Ctx, end: End) -> CmdResult {
    let args = ctx.args;
    let n = args.len();
    let timeout = parse_timeout(args[n - 1])?;
    let keys = &args[1..n - 1];
    for k in keys {
        if pop_and_reply(ctx, k, end, 1, PopShape::KeyElement)? {
            return Ok(());
        }
    }
    block(ctx, keys, timeout, "list", OnTimeout::NullArray)
}

pub fn blpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, End::Left)
}

pub fn brpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, End::Right)
}

fn bmove(ctx: &mut Ctx, from: End, to: End, timeout_arg: &[u8]) -> CmdResult {
    let timeout = parse_timeout(timeout_arg)?;
    let (src, dst) = (ctx.args[1], ctx.args[2]);
    if lmove_core(ctx, src, dst, from, to)? {
        // As the non-blocking form: LMOVE with the same sides, RPOPLPUSH.
        let args = ctx.args;
        ctx.ks.propagate_as(|| match args.len() {
            6 => propagate::argv(&[b"LMOVE", src, dst, args[3], args[4]]),
            _ => propagate::argv(&[b"RPOPLPUSH", src, dst]),
        });
        return Ok(());
    }
    block(ctx, &[src], timeout, "list", OnTimeout::Move)
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx) -> CmdResult {
    let from = parse_end(ctx.args[3])?;
    let to = parse_end(ctx.args[4])?;
    bmove(ctx, from, to, ctx.args[5])
}

/// BRPOPLPUSH source destination timeout
pub fn brpoplpush(ctx: &mut Ctx) -> CmdResult {
    bmove(ctx, End::Right, End::Left, ctx.args[3])
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let m = parse_mpop(args, 2)?;
    let timeout = parse_timeout(args[1])?;
    if mpop_core(ctx, m.keys, m.side, m.count)? {
        return Ok(());
    }
    block(ctx, m.keys, timeout, "list", OnTimeout::NullArray)
}
