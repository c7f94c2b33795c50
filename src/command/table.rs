//! The runtime command table: every command and subcommand Redis 7.2 defines (from
//! `spec::COMMANDS`) that cinnabar implements, joined with its handler and locking mode.
//!
//! `implementation` below is the only place a command name meets its handler; the spec
//! supplies arity, flags and key positions. A spec without an implementation is absent
//! from the runtime table, so it answers "unknown command" and COMMAND does not list it.

use ahash::AHashMap as HashMap;

use super::spec::{CommandDef, COMMANDS};
use super::{multi, Handler};
use crate::server as srv;
use crate::server::acl::cmd as acl;
use crate::server::pubsub as ps;
use crate::server::scripting as sc;
use crate::types::generic as kc;
use crate::types::string as st;
use crate::util::counter::Counter;

/// How a command holds the keyspace while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Lock the shards of the keys the spec names (none for keyless commands).
    Keys,
    /// Hold every gate: nothing else runs (FLUSHALL, SWAPDB, KEYS, MOVE, DEBUG SLEEP ...).
    Exclusive,
    /// EXEC: takes what its queued commands need itself (command::multi).
    Transaction,
    /// Touches no keyspace and must run even while a script is busy (SCRIPT KILL,
    /// FUNCTION KILL): no gate, no shard.
    Free,
}

pub struct Command {
    pub def: &'static CommandDef,
    pub handler: Handler,
    pub lock: Lock,
    pub subcommands: HashMap<Vec<u8>, Command>,
    pub calls: Counter,
    pub usec: Counter,
    pub failed_calls: Counter,
    pub rejected_calls: Counter,
    /// latency-tracking's histogram (LATENCY HISTOGRAM, INFO latencystats).
    pub hist: crate::util::hdr::CmdHist,
}

impl Command {
    /// Count one call made by thread `slot`.
    pub fn record(&self, slot: usize, usec: u64, failed: bool) {
        self.calls.add(slot, 1);
        self.usec.add(slot, usec);
        if failed {
            self.failed_calls.add(slot, 1);
        }
    }

    pub fn reset_stats(&self) {
        for c in [&self.calls, &self.usec, &self.failed_calls, &self.rejected_calls] {
            c.reset();
        }
        self.hist.reset();
    }
}

pub struct CommandTable {
    pub commands: HashMap<Vec<u8>, Command>,
    /// Whether rename-command moved any entry (then a key may not be the entry's name).
    renamed: bool,
}

/// A handler for container commands: reached only when the subcommand is missing.
fn container(_: &mut super::Ctx) -> super::CmdResult {
    Err(super::err::SYNTAX)
}

/// The name -> (handler, lock) registry. Adding a command = adding a line here and its handler.
fn implementation(name: &str) -> Option<(Handler, Lock)> {
    use Lock::*;
    let h: (Handler, Lock) = match name {
        // transactions
        "multi" => (multi::multi, Keys),
        "exec" => (container, Transaction),
        "discard" => (multi::discard, Keys),
        "watch" => (multi::watch, Keys),
        "unwatch" => (multi::unwatch, Keys),
        // pub/sub
        "subscribe" => (ps::subscribe_cmd, Keys),
        "unsubscribe" => (ps::unsubscribe_cmd, Keys),
        "psubscribe" => (ps::psubscribe, Keys),
        "punsubscribe" => (ps::punsubscribe, Keys),
        "ssubscribe" => (ps::ssubscribe, Keys),
        "sunsubscribe" => (ps::sunsubscribe, Keys),
        "publish" => (ps::publish, Keys),
        "spublish" => (ps::spublish, Keys),
        "pubsub" => (container, Keys),
        "pubsub|channels" => (ps::pubsub_channels, Keys),
        "pubsub|numsub" => (ps::pubsub_numsub, Keys),
        "pubsub|numpat" => (ps::pubsub_numpat, Keys),
        "pubsub|shardchannels" => (ps::pubsub_shardchannels, Keys),
        "pubsub|shardnumsub" => (ps::pubsub_shardnumsub, Keys),
        "pubsub|help" => (ps::pubsub_help, Keys),
        "monitor" => (ps::monitor, Keys),
        // scripting
        "eval" => (sc::eval, Exclusive),
        "evalsha" => (sc::evalsha, Exclusive),
        "eval_ro" => (sc::eval_ro, Exclusive),
        "evalsha_ro" => (sc::evalsha_ro, Exclusive),
        "script" => (container, Keys),
        "script|load" => (sc::script_load, Keys),
        "script|exists" => (sc::script_exists, Keys),
        "script|flush" => (sc::script_flush, Keys),
        "script|kill" => (sc::script_kill, Free),
        "script|help" => (sc::script_help, Keys),
        "fcall" => (sc::functions::fcall, Exclusive),
        "fcall_ro" => (sc::functions::fcall_ro, Exclusive),
        "function" => (container, Keys),
        "function|load" => (sc::functions::function_load, Keys),
        "function|delete" => (sc::functions::function_delete, Keys),
        "function|flush" => (sc::functions::function_flush, Keys),
        "function|list" => (sc::functions::function_list, Keys),
        "function|stats" => (sc::functions::function_stats, Keys),
        "function|kill" => (sc::functions::function_kill, Free),
        "function|help" => (sc::functions::function_help, Keys),
        "function|dump" => (sc::functions::function_dump, Keys),
        "function|restore" => (sc::functions::function_restore, Keys),
        // strings
        "append" => (st::append, Keys),
        "decr" => (st::decr, Keys),
        "decrby" => (st::decrby, Keys),
        "get" => (st::get, Keys),
        "getdel" => (st::getdel, Keys),
        "getex" => (st::getex, Keys),
        "getrange" => (st::getrange, Keys),
        "substr" => (st::getrange, Keys),
        "getset" => (st::getset, Keys),
        "incr" => (st::incr, Keys),
        "incrby" => (st::incrby, Keys),
        "incrbyfloat" => (st::incrbyfloat, Keys),
        "lcs" => (st::lcs, Keys),
        "mget" => (st::mget, Keys),
        "mset" => (st::mset, Keys),
        "msetnx" => (st::msetnx, Keys),
        "psetex" => (st::psetex, Keys),
        "set" => (st::set, Keys),
        "setex" => (st::setex, Keys),
        "setnx" => (st::setnx, Keys),
        "setrange" => (st::setrange, Keys),
        "strlen" => (st::strlen, Keys),
        // lists (types::list)
        "blpop" => (crate::types::list_block::blpop, Keys),
        "brpop" => (crate::types::list_block::brpop, Keys),
        "blmove" => (crate::types::list_block::blmove, Keys),
        "brpoplpush" => (crate::types::list_block::brpoplpush, Keys),
        "blmpop" => (crate::types::list_block::blmpop, Keys),
        "lindex" => (crate::types::list::lindex, Keys),
        "linsert" => (crate::types::list::linsert, Keys),
        "llen" => (crate::types::list::llen, Keys),
        "lmove" => (crate::types::list::lmove, Keys),
        "lmpop" => (crate::types::list::lmpop, Keys),
        "lpop" => (crate::types::list::lpop, Keys),
        "lpos" => (crate::types::list::lpos, Keys),
        "lpush" => (crate::types::list::lpush, Keys),
        "lpushx" => (crate::types::list::lpushx, Keys),
        "lrange" => (crate::types::list::lrange, Keys),
        "lrem" => (crate::types::list::lrem, Keys),
        "lset" => (crate::types::list::lset, Keys),
        "ltrim" => (crate::types::list::ltrim, Keys),
        "rpop" => (crate::types::list::rpop, Keys),
        "rpoplpush" => (crate::types::list::rpoplpush, Keys),
        "rpush" => (crate::types::list::rpush, Keys),
        "rpushx" => (crate::types::list::rpushx, Keys),
        // hashes (types::hash)
        "hdel" => (crate::types::hash::hdel, Keys),
        "hexists" => (crate::types::hash::hexists, Keys),
        "hget" => (crate::types::hash::hget, Keys),
        "hgetall" => (crate::types::hash::hgetall, Keys),
        "hincrby" => (crate::types::hash::hincrby, Keys),
        "hincrbyfloat" => (crate::types::hash::hincrbyfloat, Keys),
        "hkeys" => (crate::types::hash::hkeys, Keys),
        "hlen" => (crate::types::hash::hlen, Keys),
        "hmget" => (crate::types::hash::hmget, Keys),
        "hmset" => (crate::types::hash::hmset, Keys),
        "hrandfield" => (crate::types::hash::hrandfield, Keys),
        "hscan" => (crate::types::hash::hscan, Keys),
        "hset" => (crate::types::hash::hset, Keys),
        "hsetnx" => (crate::types::hash::hsetnx, Keys),
        "hstrlen" => (crate::types::hash::hstrlen, Keys),
        "hvals" => (crate::types::hash::hvals, Keys),
        // sets (types::set)
        "sadd" => (crate::types::set::sadd, Keys),
        "scard" => (crate::types::set::scard, Keys),
        "sdiff" => (crate::types::set::sdiff, Keys),
        "sdiffstore" => (crate::types::set::sdiffstore, Keys),
        "sinter" => (crate::types::set::sinter, Keys),
        "sintercard" => (crate::types::set::sintercard, Keys),
        "sinterstore" => (crate::types::set::sinterstore, Keys),
        "sismember" => (crate::types::set::sismember, Keys),
        "smembers" => (crate::types::set::smembers, Keys),
        "smismember" => (crate::types::set::smismember, Keys),
        "smove" => (crate::types::set::smove, Keys),
        "spop" => (crate::types::set::spop, Keys),
        "srandmember" => (crate::types::set::srandmember, Keys),
        "srem" => (crate::types::set::srem, Keys),
        "sscan" => (crate::types::set::sscan, Keys),
        "sunion" => (crate::types::set::sunion, Keys),
        "sunionstore" => (crate::types::set::sunionstore, Keys),
        // sorted sets (types::zset)
        "zadd" => (crate::types::zset::zadd, Keys),
        "zcard" => (crate::types::zset::zcard, Keys),
        "zcount" => (crate::types::zset::zcount, Keys),
        "zdiff" => (crate::types::zset::zdiff, Keys),
        "zdiffstore" => (crate::types::zset::zdiffstore, Keys),
        "zincrby" => (crate::types::zset::zincrby, Keys),
        "zinter" => (crate::types::zset::zinter, Keys),
        "zintercard" => (crate::types::zset::zintercard, Keys),
        "zinterstore" => (crate::types::zset::zinterstore, Keys),
        "zlexcount" => (crate::types::zset::zlexcount, Keys),
        "zmpop" => (crate::types::zset::zmpop, Keys),
        "zmscore" => (crate::types::zset::zmscore, Keys),
        "zpopmax" => (crate::types::zset::zpopmax, Keys),
        "zpopmin" => (crate::types::zset::zpopmin, Keys),
        "bzpopmin" => (crate::types::zset::bzpopmin, Keys),
        "bzpopmax" => (crate::types::zset::bzpopmax, Keys),
        "bzmpop" => (crate::types::zset::bzmpop, Keys),
        "zrandmember" => (crate::types::zset::zrandmember, Keys),
        "zrange" => (crate::types::zset::zrange, Keys),
        "zrangebylex" => (crate::types::zset::zrangebylex, Keys),
        "zrangebyscore" => (crate::types::zset::zrangebyscore, Keys),
        "zrangestore" => (crate::types::zset::zrangestore, Keys),
        "zrank" => (crate::types::zset::zrank, Keys),
        "zrem" => (crate::types::zset::zrem, Keys),
        "zremrangebylex" => (crate::types::zset::zremrangebylex, Keys),
        "zremrangebyrank" => (crate::types::zset::zremrangebyrank, Keys),
        "zremrangebyscore" => (crate::types::zset::zremrangebyscore, Keys),
        "zrevrange" => (crate::types::zset::zrevrange, Keys),
        "zrevrangebylex" => (crate::types::zset::zrevrangebylex, Keys),
        "zrevrangebyscore" => (crate::types::zset::zrevrangebyscore, Keys),
        "zrevrank" => (crate::types::zset::zrevrank, Keys),
        "zscan" => (crate::types::zset::zscan, Keys),
        "zscore" => (crate::types::zset::zscore, Keys),
        "zunion" => (crate::types::zset::zunion, Keys),
        "zunionstore" => (crate::types::zset::zunionstore, Keys),
        // HyperLogLog (types::hll)
        "pfadd" => (crate::types::hll::pfadd, Keys),
        "pfcount" => (crate::types::hll::pfcount, Keys),
        "pfmerge" => (crate::types::hll::pfmerge, Keys),
        "pfdebug" => (crate::types::hll::pfdebug, Keys),
        "pfselftest" => (crate::types::hll::pfselftest, Keys),
        // bitmaps (types::bitmap)
        "bitcount" => (crate::types::bitmap::bitcount, Keys),
        "bitop" => (crate::types::bitmap::bitop, Keys),
        "bitpos" => (crate::types::bitmap::bitpos, Keys),
        "getbit" => (crate::types::bitmap::getbit, Keys),
        "setbit" => (crate::types::bitmap::setbit, Keys),
        // BITFIELD (types::bitfield)
        "bitfield" => (crate::types::bitfield::bitfield, Keys),
        "bitfield_ro" => (crate::types::bitfield::bitfield_ro, Keys),
        // geo (types::geo)
        "geoadd" => (crate::types::geo::geoadd, Keys),
        "geodist" => (crate::types::geo::geodist, Keys),
        "geohash" => (crate::types::geo::geohash, Keys),
        "geopos" => (crate::types::geo::geopos, Keys),
        "georadius" => (crate::types::geo::georadius, Keys),
        "georadius_ro" => (crate::types::geo::georadius_ro, Keys),
        "georadiusbymember" => (crate::types::geo::georadiusbymember, Keys),
        "georadiusbymember_ro" => (crate::types::geo::georadiusbymember_ro, Keys),
        "geosearch" => (crate::types::geo::geosearch, Keys),
        "geosearchstore" => (crate::types::geo::geosearchstore, Keys),
        // streams (types::stream)
        "xadd" => (crate::types::stream::xadd, Keys),
        "xdel" => (crate::types::stream::xdel, Keys),
        "xlen" => (crate::types::stream::xlen, Keys),
        "xrange" => (crate::types::stream::xrange, Keys),
        "xrevrange" => (crate::types::stream::xrevrange, Keys),
        "xsetid" => (crate::types::stream::xsetid, Keys),
        "xtrim" => (crate::types::stream::xtrim, Keys),
        // stream consumer groups and reads (types::stream_group)
        "xread" => (crate::types::stream_group::xread, Keys),
        "xreadgroup" => (crate::types::stream_group::xreadgroup, Keys),
        "xack" => (crate::types::stream_group::xack, Keys),
        "xpending" => (crate::types::stream_group::xpending, Keys),
        "xclaim" => (crate::types::stream_group::xclaim, Keys),
        "xautoclaim" => (crate::types::stream_group::xautoclaim, Keys),
        "xgroup" => (container, Keys),
        "xgroup|create" => (crate::types::stream_group::xgroup, Keys),
        "xgroup|setid" => (crate::types::stream_group::xgroup, Keys),
        "xgroup|destroy" => (crate::types::stream_group::xgroup, Keys),
        "xgroup|createconsumer" => (crate::types::stream_group::xgroup, Keys),
        "xgroup|delconsumer" => (crate::types::stream_group::xgroup, Keys),
        "xgroup|help" => (crate::types::stream_group::xgroup_help, Keys),
        "xinfo" => (container, Keys),
        "xinfo|stream" => (crate::types::stream_group::xinfo, Keys),
        "xinfo|groups" => (crate::types::stream_group::xinfo, Keys),
        "xinfo|consumers" => (crate::types::stream_group::xinfo, Keys),
        "xinfo|help" => (crate::types::stream_group::xinfo_help, Keys),
        // sort
        "sort" => (crate::types::sort::sort, Exclusive),
        "sort_ro" => (crate::types::sort::sort_ro, Exclusive),
        // generic keys
        "del" => (kc::del, Keys),
        "unlink" => (kc::unlink, Keys),
        "exists" => (kc::exists, Keys),
        "type" => (kc::type_, Keys),
        "keys" => (kc::keys, Exclusive),
        "scan" => (kc::scan, Keys),
        "randomkey" => (kc::randomkey, Keys),
        "rename" => (kc::rename, Keys),
        "renamenx" => (kc::renamenx, Keys),
        "touch" => (kc::touch, Keys),
        "object" => (container, Keys),
        "object|encoding" => (kc::object_encoding, Keys),
        "object|freq" => (kc::object_freq, Keys),
        "object|idletime" => (kc::object_idletime, Keys),
        "object|refcount" => (kc::object_refcount, Keys),
        "object|help" => (kc::object_help, Keys),
        "expire" => (kc::expire, Keys),
        "pexpire" => (kc::pexpire, Keys),
        "expireat" => (kc::expireat, Keys),
        "pexpireat" => (kc::pexpireat, Keys),
        "ttl" => (kc::ttl, Keys),
        "pttl" => (kc::pttl, Keys),
        "expiretime" => (kc::expiretime, Keys),
        "pexpiretime" => (kc::pexpiretime, Keys),
        "persist" => (kc::persist, Keys),
        "dbsize" => (kc::dbsize, Keys),
        "flushdb" => (kc::flushdb, Exclusive),
        "flushall" => (kc::flushall, Exclusive),
        "swapdb" => (kc::swapdb, Exclusive),
        "move" => (kc::move_, Exclusive),
        "copy" => (kc::copy, Exclusive),
        // connection and server
        "ping" => (srv::conn::ping, Keys),
        "echo" => (srv::conn::echo, Keys),
        "quit" => (srv::conn::quit, Keys),
        "reset" => (srv::conn::reset, Keys),
        "select" => (srv::conn::select, Keys),
        // ACL
        "acl" => (container, Keys),
        "acl|cat" => (acl::cat, Keys),
        "acl|deluser" => (acl::deluser, Keys),
        "acl|dryrun" => (acl::dryrun, Keys),
        "acl|genpass" => (acl::genpass, Keys),
        "acl|getuser" => (acl::getuser, Keys),
        "acl|help" => (acl::help, Keys),
        "acl|list" => (acl::list, Keys),
        "acl|load" => (acl::load, Keys),
        "acl|log" => (acl::log, Keys),
        "acl|save" => (acl::save, Keys),
        "acl|setuser" => (acl::setuser, Keys),
        "acl|users" => (acl::users, Keys),
        "acl|whoami" => (acl::whoami, Keys),
        "auth" => (srv::conn::auth, Keys),
        "hello" => (srv::conn::hello, Keys),
        "time" => (srv::conn::time, Keys),
        "command" => (srv::conn::command, Keys),
        "command|count" => (srv::conn::command, Keys),
        "command|info" => (srv::conn::command, Keys),
        "command|list" => (srv::conn::command, Keys),
        "command|getkeys" => (srv::conn::command, Keys),
        "command|getkeysandflags" => (srv::conn::command, Keys),
        "command|docs" => (srv::conn::command, Keys),
        "command|help" => (srv::conn::command, Keys),
        "client" => (container, Keys),
        "client|id" => (srv::client::id, Keys),
        "client|getname" => (srv::client::getname, Keys),
        "client|setname" => (srv::client::setname, Keys),
        "client|setinfo" => (srv::client::setinfo, Keys),
        "client|list" => (srv::client::list, Keys),
        "client|info" => (srv::client::info, Keys),
        "client|kill" => (srv::client::kill, Keys),
        "client|reply" => (srv::client::reply, Keys),
        "client|no-evict" => (srv::client::no_evict, Keys),
        "client|no-touch" => (srv::client::no_touch, Keys),
        "client|pause" => (srv::client::pause, Keys),
        "client|unpause" => (srv::client::unpause, Keys),
        "client|help" => (srv::client::help, Keys),
        "client|getredir" => (srv::tracking::getredir, Keys),
        "client|unblock" => (srv::client::unblock, Keys),
        "client|trackinginfo" => (srv::tracking::trackinginfo, Keys),
        "client|tracking" => (srv::tracking::tracking_cmd, Keys),
        "client|caching" => (srv::tracking::caching, Keys),
        "info" => (srv::info::info, Keys),
        // SLOWLOG and LATENCY (server::slowlog, server::latency)
        "slowlog" => (container, Keys),
        "slowlog|get" => (srv::slowlog::get, Keys),
        "slowlog|len" => (srv::slowlog::len, Keys),
        "slowlog|reset" => (srv::slowlog::reset, Keys),
        "slowlog|help" => (srv::slowlog::help, Keys),
        "latency" => (container, Keys),
        "latency|latest" => (srv::latency::latest, Keys),
        "latency|history" => (srv::latency::history, Keys),
        "latency|reset" => (srv::latency::reset, Keys),
        "latency|graph" => (srv::latency::graph, Keys),
        "latency|doctor" => (srv::latency::doctor, Keys),
        "latency|histogram" => (srv::latency::histogram, Keys),
        "latency|help" => (srv::latency::help, Keys),
        "config" => (container, Keys),
        "config|get" => (srv::config::config_get, Keys),
        "config|set" => (srv::config::config_set, Keys),
        "config|resetstat" => (srv::config::config_resetstat, Keys),
        "config|help" => (srv::config::config_help, Keys),
        "config|rewrite" => (srv::config::config_rewrite, Keys),
        "shutdown" => (srv::shutdown::command, Exclusive),
        "debug" => (srv::debug::debug, Exclusive),
        "memory" => (container, Keys),
        "memory|usage" => (srv::memory::usage, Keys),
        "memory|stats" => (srv::memory::stats, Keys),
        "memory|doctor" => (srv::memory::doctor, Keys),
        "memory|malloc-stats" => (srv::memory::malloc_stats, Keys),
        "memory|purge" => (srv::memory::purge, Keys),
        "memory|help" => (srv::memory::help, Keys),
        "role" => (srv::info::role, Keys),
        "lolwut" => (srv::lolwut::lolwut, Keys),
        // Persistence (issue 23); each group registers its commands under its own line:
        // DUMP, RESTORE (types::dump)
        "dump" => (crate::types::dump::dump, Keys),
        "restore" => (crate::types::dump::restore, Keys),
        "restore-asking" => (crate::types::dump::restore, Keys),
        // MIGRATE (types::migrate)
        "migrate" => (crate::types::migrate::migrate, Keys),
        // SAVE, BGSAVE, LASTSAVE (server::save)
        "save" => (srv::save::save, Exclusive),
        "bgsave" => (srv::save::bgsave, Exclusive),
        "lastsave" => (srv::save::lastsave, Keys),
        // BGREWRITEAOF (server::aof_cmds)
        "bgrewriteaof" => (srv::aof_cmds::bgrewriteaof, Keys),
        _ => return None,
    };
    Some(h)
}

impl CommandTable {
    /// `slots`: how many threads count statistics (one counter line each).
    pub fn build(slots: usize) -> CommandTable {
        let mut commands = HashMap::default();
        for def in COMMANDS.iter() {
            if let Some(c) = Self::make(def, slots) {
                commands.insert(def.name.as_bytes().to_vec(), c);
            }
        }
        CommandTable { commands, renamed: false }
    }

    fn make(def: &'static CommandDef, slots: usize) -> Option<Command> {
        let (handler, lock) = implementation(def.name)?;
        let mut subcommands = HashMap::default();
        for sub in def.subcommands {
            if let Some(c) = Self::make(sub, slots) {
                let short = sub.name.rsplit('|').next().unwrap_or(sub.name);
                subcommands.insert(short.as_bytes().to_vec(), c);
            }
        }
        Some(Command {
            def,
            handler,
            lock,
            subcommands,
            calls: Counter::new(slots),
            usec: Counter::new(slots),
            failed_calls: Counter::new(slots),
            rejected_calls: Counter::new(slots),
            hist: crate::util::hdr::CmdHist::new(slots),
        })
    }

    /// rename-command: the entry answers to `to` instead ("" removes it). Statistics and
    /// COMMAND keep its own name, as Redis's do.
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(c) = self.commands.remove(from.as_bytes()) {
            self.renamed = true;
            if !to.is_empty() {
                self.commands.insert(to.as_bytes().to_vec(), c);
            }
        }
    }

    /// The entry of the command whose own name is `name`, whatever it answers to: COMMAND
    /// lists a renamed command under its own name, as Redis does, and no removed one.
    fn by_own_name(&self, name: &str) -> Option<&Command> {
        let direct = self.commands.get(name.as_bytes()).filter(|c| c.def.name == name);
        if direct.is_some() || !self.renamed {
            return direct;
        }
        self.commands.values().find(|c| c.def.name == name)
    }

    /// Look up by a name as sent by a client (any case).
    pub fn get(&self, name: &[u8]) -> Option<&Command> {
        if name.len() > 64 {
            return None;
        }
        let mut buf = [0u8; 64];
        let lower = &mut buf[..name.len()];
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        self.commands.get(&lower[..])
    }

    /// Whether the runtime implements `def` (for COMMAND's listings).
    pub fn implements(&self, def: &CommandDef) -> bool {
        match def.name.split_once('|') {
            None => self.by_own_name(def.name).is_some(),
            Some((parent, sub)) => self.by_own_name(parent).is_some_and(|c| c.subcommands.contains_key(sub.as_bytes())),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Command> {
        self.commands.values().flat_map(|c| std::iter::once(c).chain(c.subcommands.values()))
    }

    /// The commands with statistics, by name: those that ran, failed or were refused, as
    /// INFO commandstats lists them (a rejected-only command has calls=0) and the metrics
    /// endpoint exports them.
    pub fn with_stats(&self) -> Vec<&Command> {
        let mut rows: Vec<_> = self
            .iter()
            .filter(|c| c.calls.get() > 0 || c.rejected_calls.get() > 0 || c.failed_calls.get() > 0)
            .collect();
        rows.sort_by_key(|c| c.def.name);
        rows
    }
}
