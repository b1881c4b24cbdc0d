//! The providers built into the engine: `null`, `random`, `time` and `terraform`
//! (`terraform_data`). They touch nothing outside
//! the state, and derive every generated value from the create token, so a create retried after
//! a crash gives the same result.

mod null;
mod random;
mod terraform;
mod time;

use std::sync::Arc;

use rand::SeedableRng as _;

use crate::provider::{BoxFuture, ConfiguredProvider, ProviderError, ProviderRegistry};
use crate::value::Value;

pub use null::NullProvider;
pub use random::RandomProvider;
pub use terraform::TerraformProvider;
pub use time::TimeProvider;

/// Adds `null`, `random`, `time` and `terraform` to a registry.
pub fn register(registry: &mut ProviderRegistry) {
    registry.register("null", Arc::new(NullProvider));
    registry.register("random", Arc::new(RandomProvider));
    registry.register("time", Arc::new(TimeProvider));
    registry.register("terraform", Arc::new(TerraformProvider));
}

/// A deterministic random generator seeded from a create token.
pub(crate) fn rng_for(token: &str, salt: &str) -> rand::rngs::StdRng {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(token.as_bytes());
    h.update([0]);
    h.update(salt.as_bytes());
    rand::rngs::StdRng::from_seed(h.finalize().into())
}

/// `configure` for providers that take no settings and are their own configured instance.
fn configure_self<P: ConfiguredProvider + Clone + 'static>(
    p: &P,
) -> BoxFuture<'static, Result<Arc<dyn ConfiguredProvider>, ProviderError>> {
    let p: Arc<dyn ConfiguredProvider> = Arc::new(p.clone());
    Box::pin(async move { Ok(p) })
}

fn unknown_type(type_name: &str) -> ProviderError {
    ProviderError::new(format!("unknown resource type `{type_name}`"))
}

/// Reads an integer argument, with a typed error naming it.
fn int_arg(config: &Value, name: &str) -> Result<Option<i64>, ProviderError> {
    match config.get(name) {
        Value::Null => Ok(None),
        v => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ProviderError::new(format!("`{name}` must be a whole number, got {v}"))),
    }
}

fn bool_arg(config: &Value, name: &str, default: bool) -> bool {
    config.get(name).as_bool().unwrap_or(default)
}
