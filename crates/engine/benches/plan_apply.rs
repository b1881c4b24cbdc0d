//! Plan + apply benchmark with mimalloc, the allocator of the `vitrina` binary; the body is in
//! `common/plan_apply.rs`. `cargo bench -p vitrina-engine --bench plan_apply [-- sizes…]`.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

include!("common/plan_apply.rs");
