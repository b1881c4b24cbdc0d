//! The plan + apply benchmark of `common/plan_apply.rs` with the system allocator, for
//! comparison with `plan_apply` (mimalloc).
//! `cargo bench -p vitrina-engine --bench plan_apply_system_alloc [-- sizes…]`.

include!("common/plan_apply.rs");
