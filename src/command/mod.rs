//! The command layer: the runtime command table (specs joined with handlers), the
//! execution context handlers receive, the error type, and dispatch (lookup, arity, auth,
//! locking, handler, statistics).

pub mod args;
pub mod blocking;
pub mod dispatch;
pub mod introspect;
pub mod multi;
pub mod spec;
pub mod table;

use std::borrow::Cow;

use crate::keyspace::Access;
use crate::resp::write::ReplyWriter;
use crate::server::client::Client;
use crate::server::Server;

/// An error reply: the full text without the leading '-', e.g. "ERR syntax error".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub Cow<'static, str>);

impl Error {
    pub fn msg(s: impl Into<Cow<'static, str>>) -> Error {
        Error(s.into())
    }
}

impl From<&'static str> for Error {
    fn from(s: &'static str) -> Self {
        Error(Cow::Borrowed(s))
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(Cow::Owned(s))
    }
}

pub type CmdResult = Result<(), Error>;

/// Redis's shared error texts.
pub mod err {
    use super::Error;
    use std::borrow::Cow::Borrowed;
    pub const WRONGTYPE: Error = Error(Borrowed("WRONGTYPE Operation against a key holding the wrong kind of value"));
    pub const NOT_INT: Error = Error(Borrowed("ERR value is not an integer or out of range"));
    pub const NOT_FLOAT: Error = Error(Borrowed("ERR value is not a valid float"));
    pub const SYNTAX: Error = Error(Borrowed("ERR syntax error"));
    pub const OVERFLOW: Error = Error(Borrowed("ERR increment or decrement would overflow"));
    pub const NO_SUCH_KEY: Error = Error(Borrowed("ERR no such key"));
    pub const OUT_OF_RANGE: Error = Error(Borrowed("ERR index out of range"));
    pub const DB_INDEX: Error = Error(Borrowed("ERR DB index is out of range"));
    pub const NOT_POSITIVE: Error = Error(Borrowed("ERR value is out of range, must be positive"));
    pub const STRING_TOO_LONG: Error = Error(Borrowed("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
}

/// Everything a handler may use: the server, its own client, the reply buffer, the locked
/// keyspace view, and the arguments (args[0] is the command name as the client sent it).
pub struct Ctx<'a, 'b> {
    pub srv: &'a Server,
    pub client: &'b mut Client,
    pub out: &'b mut ReplyWriter,
    pub ks: &'b mut Access<'a>,
    pub args: &'b [&'b [u8]],
}

impl Ctx<'_, '_> {
    pub fn arg(&self, i: usize) -> &[u8] {
        self.args.get(i).copied().unwrap_or(b"")
    }

    /// The command's lower-case full name, for error messages.
    pub fn name_lower(&self) -> String {
        String::from_utf8_lossy(self.arg(0)).to_ascii_lowercase()
    }

    /// Redis's addReplyErrorArity, for a handler that finds the argument count wrong only
    /// after parsing its options (XADD's field/value pairs).
    pub fn arity_error(&self) -> Error {
        Error::msg(format!("ERR wrong number of arguments for '{}' command", self.name_lower()))
    }

    /// Redis's addReplySubcommandSyntaxError: the subcommand as typed (128 bytes at most),
    /// the command upper-cased.
    pub fn subcommand_syntax_error(&self) -> Error {
        let sub = self.arg(1);
        Error::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)]),
            String::from_utf8_lossy(self.arg(0)).to_ascii_uppercase()
        ))
    }
}

pub type Handler = fn(&mut Ctx) -> CmdResult;
