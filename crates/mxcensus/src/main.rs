//! mxcensus command-line front end (wiring only).
fn main() {}
