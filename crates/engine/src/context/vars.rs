//! Input variables: values from `--var`, `--var-file`, `*.tfvars` / `*.tfvars.json` and
//! `TF_VAR_*`, resolved against the `variable` blocks (type conversion, defaults, `nullable`,
//! `sensitive`, `validation`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use vitrina_diagnostics::{Diagnostic, Diagnostics, Span};
use vitrina_hcl as hcl;
use vitrina_hcl::eval::EvalContext;

use super::eval::eval_expr;
use super::run_codes;
use crate::config::Config;
use crate::state::State;

/// Where input values come from, before they meet the `variable` blocks.
#[derive(Debug, Clone, Default)]
pub struct VarInputs {
    /// Values by name; later sources already overrode earlier ones.
    pub values: BTreeMap<String, InputValue>,
    /// Variables that, when they get no value and have no default, take a UUID4 generated once
    /// and kept in the state (`instance_uuid`).
    pub generated_uuids: BTreeSet<String>,
    /// Values used when a variable gets no value and has no default (`email` from
    /// `VITRINA_EMAIL`).
    pub fallbacks: BTreeMap<String, hcl::Value>,
}

/// One input value and where it came from (for messages).
#[derive(Debug, Clone)]
pub struct InputValue {
    pub value: hcl::Value,
    pub origin: String,
    /// From `--var`: an undeclared name is an error (from files: a warning).
    pub strict: bool,
}

impl VarInputs {
    pub fn set(
        &mut self,
        name: impl Into<String>,
        value: hcl::Value,
        origin: impl Into<String>,
        strict: bool,
    ) {
        self.values.insert(
            name.into(),
            InputValue {
                value,
                origin: origin.into(),
                strict,
            },
        );
    }

    /// Sets a value given as JSON (an API's `vars`): objects become maps, arrays tuples.
    pub fn set_json(
        &mut self,
        name: impl Into<String>,
        value: &serde_json::Value,
        origin: impl Into<String>,
    ) {
        self.set(name, hcl::Value::from_json(value), origin, true);
    }

    /// Adds `TF_VAR_name` environment variables (strings, or HCL when the variable's type is
    /// not a string).
    pub fn add_env(&mut self, env: impl IntoIterator<Item = (String, String)>) {
        for (k, v) in env {
            if let Some(name) = k.strip_prefix("TF_VAR_") {
                if !self.values.contains_key(name) {
                    self.set(
                        name,
                        hcl::Value::String(v),
                        format!("environment variable `{k}`"),
                        false,
                    );
                }
            }
        }
    }

    /// Adds `NAME=VALUE` from the command line; the value is an HCL expression when it parses
    /// into a constant, else a string.
    pub fn add_cli(&mut self, raw: &str) -> Result<(), String> {
        let Some((name, text)) = raw.split_once('=') else {
            return Err(format!("`--var {raw}` needs the form NAME=VALUE"));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("`--var {raw}` has no variable name"));
        }
        self.set(name, parse_cli_value(text), "`--var`", true);
        Ok(())
    }

    /// Adds every value of a `.tfvars` (HCL) or `.tfvars.json` file.
    pub fn add_file(&mut self, path: &Path) -> Result<(), Diagnostics> {
        let name = path.display().to_string();
        let text = fs_err::read_to_string(path).map_err(|e| {
            let mut d = Diagnostics::new();
            d.push(Diagnostic::error(
                run_codes::VARIABLE,
                Span::file_start(name.clone()),
                e.to_string(),
            ));
            d
        })?;
        for (k, v) in read_tfvars(&name, &text)? {
            self.set(k, v, format!("`{name}`"), false);
        }
        Ok(())
    }

    /// Adds every `*.tfvars` and `*.tfvars.json` in `dir`, sorted by name.
    pub fn add_dir_files(&mut self, dir: &Path) -> Result<(), Diagnostics> {
        let Ok(entries) = fs_err::read_dir(dir) else {
            return Ok(());
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let n = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                n.ends_with(".tfvars") || n.ends_with(".tfvars.json")
            })
            .collect();
        files.sort();
        for f in files {
            self.add_file(&f)?;
        }
        Ok(())
    }
}

/// `--var` values: a constant HCL expression, else the raw text.
pub fn parse_cli_value(text: &str) -> hcl::Value {
    match hcl::parse_expression("--var", text) {
        Ok(expr) => hcl::eval::evaluate_constant(&expr)
            .unwrap_or_else(|_| hcl::Value::String(text.to_owned())),
        Err(_) => hcl::Value::String(text.to_owned()),
    }
}

/// The values of a tfvars file.
pub fn read_tfvars(name: &str, text: &str) -> Result<BTreeMap<String, hcl::Value>, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut out = BTreeMap::new();
    if name.ends_with(".json") {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(m)) => {
                for (k, v) in m {
                    out.insert(k, hcl::Value::from_json(&v));
                }
            }
            Ok(_) => diags.push(Diagnostic::error(
                run_codes::VARIABLE,
                Span::file_start(name),
                "a `.tfvars.json` file must hold one JSON object",
            )),
            Err(e) => diags.push(Diagnostic::error(
                run_codes::VARIABLE,
                Span::file_start(name),
                format!("invalid JSON: {e}"),
            )),
        }
    } else {
        match hcl::parse(name, text) {
            Ok(m) => {
                for a in &m.attributes {
                    match hcl::eval::evaluate_constant(&a.expr) {
                        Ok(v) => {
                            out.insert(a.name.clone(), v);
                        }
                        Err(e) => diags.push(e.to_diagnostic(
                            name,
                            run_codes::VARIABLE,
                            a.expr_span.clone(),
                        )),
                    }
                }
                for b in &m.blocks {
                    diags.push(Diagnostic::error(
                        run_codes::VARIABLE,
                        Span::new(name, b.kind_span.clone()),
                        "a `.tfvars` file holds only `name = value` lines",
                    ));
                }
            }
            Err(d) => diags.push(d),
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}

/// Resolves every declared variable. `state.generated` supplies (and receives) generated
/// UUIDs. Returns the values (sensitive ones marked) and warnings, or every error.
pub(crate) fn resolve(
    config: &Config,
    inputs: &VarInputs,
    generated: &mut BTreeMap<String, String>,
    warnings: &mut Diagnostics,
) -> Result<BTreeMap<String, hcl::Value>, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut out = BTreeMap::new();
    for (name, input) in &inputs.values {
        if !config.variables.contains_key(name) {
            let d = Diagnostic::warning(
                run_codes::VARIABLE,
                Span::file_start(input.origin.trim_matches('`')),
                format!(
                    "a value is given for undeclared variable `{name}` by {}",
                    input.origin
                ),
            )
            .with_help("declare it with a `variable` block, or remove the value");
            if input.strict {
                diags.push(Diagnostic {
                    severity: vitrina_diagnostics::Severity::Error,
                    ..d
                });
            } else {
                warnings.push(d);
            }
        }
    }
    for (name, v) in &config.variables {
        let at = v.span.clone();
        let raw = if let Some(input) = inputs.values.get(name) {
            // Environment values are strings; parse them as HCL for non-string types.
            if input.origin.starts_with("environment")
                && !matches!(v.ty, None | Some(hcl::Type::String))
            {
                match &input.value {
                    hcl::Value::String(s) => parse_cli_value(s),
                    other => other.clone(),
                }
            } else {
                input.value.clone()
            }
        } else if let Some(d) = &v.default {
            match hcl::eval::evaluate_constant(&d.expr) {
                Ok(val) => val,
                Err(e) => {
                    diags.push(e.to_diagnostic(&v.file, run_codes::VARIABLE, d.expr_span.clone()));
                    continue;
                }
            }
        } else if inputs.generated_uuids.contains(name) {
            let id = generated
                .entry(name.clone())
                .or_insert_with(|| uuid::Uuid::new_v4().to_string());
            hcl::Value::String(id.clone())
        } else if let Some(f) = inputs.fallbacks.get(name) {
            f.clone()
        } else {
            diags.push(
                Diagnostic::error(run_codes::VARIABLE, at, format!("no value for required variable `{name}`"))
                    .with_help(format!("pass `--var {name}=…`, put it in a `.tfvars` file, or give the variable a `default`")),
            );
            continue;
        };
        // `nullable = false` with a default: a null input takes the default, as the variables
        // documentation says ("If nullable is false and the variable has a default value, then
        // Terraform uses the default when a module input argument is null";
        // https://developer.hashicorp.com/terraform/language/values/variables#disallowing-null-input-values).
        let raw = match &v.default {
            Some(d) if raw.is_null() && !v.nullable => {
                match hcl::eval::evaluate_constant(&d.expr) {
                    Ok(val) => val,
                    Err(e) => {
                        diags.push(e.to_diagnostic(
                            &v.file,
                            run_codes::VARIABLE,
                            d.expr_span.clone(),
                        ));
                        continue;
                    }
                }
            }
            _ => raw,
        };
        let value = match (&v.ty, raw.is_null()) {
            (_, true) => raw,
            (Some(t), false) => match hcl::convert(&raw, t) {
                Ok(c) => c,
                Err(e) => {
                    diags.push(
                        Diagnostic::error(
                            run_codes::VARIABLE,
                            at,
                            format!("invalid value for variable `{name}`: {e}"),
                        )
                        .with_help(format!("`{name}` takes a {}", t.friendly_name())),
                    );
                    continue;
                }
            },
            (None, false) => raw,
        };
        if value.is_null() && !v.nullable {
            diags.push(Diagnostic::error(
                run_codes::VARIABLE,
                at,
                format!("variable `{name}` cannot be null (`nullable = false`)"),
            ));
            continue;
        }
        let value = if v.sensitive {
            value.mark_sensitive()
        } else {
            value
        };
        // Validation blocks see only this variable.
        for val in &v.validations {
            let (Some(cond), Some(msg)) = (&val.condition, &val.error_message) else {
                diags.push(Diagnostic::error(
                    run_codes::VARIABLE,
                    Span::new(v.file.clone(), val.span.clone()),
                    "a `validation` block needs `condition` and `error_message`",
                ));
                continue;
            };
            let mut ctx = EvalContext::new();
            ctx.set_variable("var", hcl::Value::object([(name.clone(), value.clone())]));
            match eval_expr(&cond.expr, &ctx, &v.file).map(hcl::Value::unmark_deep) {
                Ok((hcl::Value::Bool(true), _)) | Ok((hcl::Value::Unknown(_), _)) => {}
                Ok((hcl::Value::Bool(false), _)) => {
                    let text = eval_expr(&msg.expr, &ctx, &v.file)
                        .ok()
                        .and_then(|m| m.unmarked().as_str().map(str::to_owned))
                        .unwrap_or_else(|| "the value is not valid".to_owned());
                    diags.push(
                        Diagnostic::error(
                            run_codes::VARIABLE,
                            Span::new(v.file.clone(), cond.expr_span.clone()),
                            format!("invalid value for variable `{name}`: {text}"),
                        )
                        .with_label(at.clone(), "declared here"),
                    );
                }
                Ok(_) => diags.push(Diagnostic::error(
                    run_codes::VARIABLE,
                    Span::new(v.file.clone(), cond.expr_span.clone()),
                    "a validation `condition` must be true or false",
                )),
                Err(d) => diags.push(d),
            }
        }
        out.insert(name.clone(), value);
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}

/// The generated values a run keeps in the state.
pub(crate) fn keep_generated(state: &mut State, generated: &BTreeMap<String, String>) {
    for (k, v) in generated {
        state.generated.insert(k.clone(), v.clone());
    }
}
