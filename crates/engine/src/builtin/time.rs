//! `time`: `time_sleep` (waits on create and/or destroy) and `time_static` (a timestamp taken
//! once). `triggers` replace either.

use super::{configure_self, unknown_type};
use crate::duration::parse_duration;
use crate::provider::{
    ApplyError, AttrType, Attribute, BoxFuture, ConfiguredProvider, CreateRequest, DeleteRequest,
    Provider, ProviderError, ProviderSchema, Schema, UpdateRequest,
};
use crate::value::Value;

#[derive(Clone, Debug, Default)]
pub struct TimeProvider;

impl Provider for TimeProvider {
    fn schema(&self) -> ProviderSchema {
        let triggers = Attribute::optional(AttrType::map(AttrType::String)).force_new();
        let mut s = ProviderSchema::default();
        s.resources.insert(
            "time_sleep".into(),
            Schema::new()
                .attr("create_duration", Attribute::optional(AttrType::String))
                .attr("destroy_duration", Attribute::optional(AttrType::String))
                .attr("triggers", triggers.clone())
                .attr("id", Attribute::computed(AttrType::String)),
        );
        let mut st = Schema::new()
            .attr("triggers", triggers)
            .attr(
                "rfc3339",
                Attribute::optional_computed(AttrType::String).force_new(),
            )
            .attr("id", Attribute::computed(AttrType::String))
            .attr("unix", Attribute::computed(AttrType::Number));
        for p in ["year", "month", "day", "hour", "minute", "second"] {
            st = st.attr(p, Attribute::computed(AttrType::Number));
        }
        s.resources.insert("time_static".into(), st);
        s
    }

    fn configure(
        &self,
        _config: Value,
    ) -> BoxFuture<'_, Result<std::sync::Arc<dyn ConfiguredProvider>, ProviderError>> {
        configure_self(self)
    }
}

fn duration_arg(config: &Value, name: &str) -> Result<Option<std::time::Duration>, ProviderError> {
    match config.get(name) {
        Value::Null => Ok(None),
        v => v
            .as_str()
            .and_then(parse_duration)
            .map(Some)
            .ok_or_else(|| {
                ProviderError::new(format!(
                    "`{name}` must be a duration like \"30s\" or \"5m\", got {v}"
                ))
            }),
    }
}

impl ConfiguredProvider for TimeProvider {
    fn create(&self, req: CreateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        Box::pin(async move {
            let mut out = req.planned.clone();
            match req.type_name.as_str() {
                "time_sleep" => {
                    if let Some(d) = duration_arg(&req.config, "create_duration")? {
                        tokio::time::sleep(d).await;
                    }
                    out.set(
                        "id",
                        Value::String(
                            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        ),
                    );
                }
                "time_static" => {
                    let t = match req.config.get("rfc3339").as_str() {
                        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
                            .map_err(|e| {
                                ProviderError::with_source(
                                    format!("`rfc3339` is not a timestamp: {s}"),
                                    e,
                                )
                            })?
                            .with_timezone(&chrono::Utc),
                        None => chrono::Utc::now(),
                    };
                    use chrono::{Datelike as _, Timelike as _};
                    let text = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                    out.set("id", Value::String(text.clone()));
                    out.set("rfc3339", Value::String(text));
                    out.set("unix", Value::int(t.timestamp()));
                    out.set("year", Value::int(i64::from(t.year())));
                    out.set("month", Value::int(i64::from(t.month())));
                    out.set("day", Value::int(i64::from(t.day())));
                    out.set("hour", Value::int(i64::from(t.hour())));
                    out.set("minute", Value::int(i64::from(t.minute())));
                    out.set("second", Value::int(i64::from(t.second())));
                }
                other => return Err(unknown_type(other).into()),
            }
            Ok(out)
        })
    }

    fn update(&self, req: UpdateRequest) -> BoxFuture<'_, Result<Value, ApplyError>> {
        // Only the durations of `time_sleep` can change in place; they take effect next time.
        Box::pin(async move {
            let mut out = req.planned;
            out.set("id", req.prior.get("id").clone());
            Ok(out)
        })
    }

    fn delete(&self, req: DeleteRequest) -> BoxFuture<'_, Result<(), ApplyError>> {
        Box::pin(async move {
            if req.type_name == "time_sleep" {
                if let Some(d) = duration_arg(&req.prior, "destroy_duration")? {
                    tokio::time::sleep(d).await;
                }
            }
            Ok(())
        })
    }
}
