// Builds csrc/longdouble.c: Redis's INCRBYFLOAT arithmetic needs C `long double`
// (x87 80-bit on x86_64) plus strtod/strtold/printf from libc, which Rust lacks.
fn main() {
    println!("cargo:rerun-if-changed=csrc/longdouble.c");
    cc::Build::new().file("csrc/longdouble.c").warnings(true).compile("cinnabar_longdouble");
}
