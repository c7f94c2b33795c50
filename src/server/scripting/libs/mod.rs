//! Placeholder until the cjson/cmsgpack/bit/struct libraries land.
pub fn install(_lua: &mlua::Lua) -> mlua::Result<()> {
    Ok(())
}
