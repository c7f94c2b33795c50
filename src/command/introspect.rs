//! COMMAND and its subcommands (being written; replaced by the generated-table work).
use super::spec::CommandDef;
use crate::resp::write::ReplyWriter;
pub fn command(_args: &[&[u8]], _implemented: &dyn Fn(&CommandDef) -> bool, _out: &mut ReplyWriter) -> Result<(), String> {
    Err("ERR COMMAND is being built".into())
}
