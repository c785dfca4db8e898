//! Learning algorithms. Each family lives in its own module.

pub mod trees;
