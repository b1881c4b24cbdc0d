//! The package room's diagnostic codes. They are registered, with every other code of the
//! project and its what/why/example/fix, in [`vitrina_diagnostics::codes`] (generated into
//! `docs/CODES.md`); this module re-exports them under their usual names.

pub use vitrina_diagnostics::codes::*;
