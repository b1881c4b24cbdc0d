//! Plans are data: for every resource instance, the action and why, the prior and planned
//! values. A plan prints as text (`(known after apply)`, `(sensitive)`) and as JSON (the
//! `vitrina tf plan --json` contract), and apply carries out exactly its changes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::addr::InstanceAddr;
use crate::value::{PathStep, Value};

/// What happens to one resource instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Read,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }

    /// The progressive verb for progress lines: "Creating", "Destroying", …
    pub fn verb(self) -> &'static str {
        match self {
            Action::NoOp => "Keeping",
            Action::Create => "Creating",
            Action::Read => "Reading",
            Action::Update => "Modifying",
            Action::Replace => "Replacing",
            Action::Delete => "Destroying",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => "  ",
            Action::Create => " +",
            Action::Read => " <=",
            Action::Update => " ~",
            Action::Replace => "-/+",
            Action::Delete => " -",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The planned change of one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceChange {
    pub addr: InstanceAddr,
    /// Provider configuration address (`null`, `vkcs.second`).
    pub provider: String,
    pub action: Action,
    /// Why: "`triggers` forces replacement", "`null_resource.a` was replaced (replace_triggered_by)",
    /// "tainted by a failed apply", "no longer in the configuration", …
    pub reasons: Vec<String>,
    /// The prior object (`Null` on create).
    pub before: Value,
    /// The planned object (`Null` on delete); may hold `Unknown`.
    pub after: Value,
    /// Paths (in `before`/`after`) to sensitive values.
    pub sensitive_paths: Vec<Vec<PathStep>>,
    /// Paths whose change forces the replacement.
    pub replace_paths: Vec<Vec<PathStep>>,
    /// For replace: create the new object before deleting the old one.
    pub create_before_destroy: bool,
    /// Set when this change deletes a deposed object: its create token.
    pub deposed: Option<String>,
}

impl ResourceChange {
    fn is_sensitive(&self, attr: &str) -> bool {
        self.sensitive_paths
            .iter()
            .any(|p| matches!(p.first(), Some(PathStep::Attr(a)) if a == attr))
    }
}

/// A root output after the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedOutput {
    pub value: Value,
    pub sensitive: bool,
    pub action: Action,
}

/// Plan for a normal apply or for destroying everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanMode {
    Normal,
    Destroy,
}

/// A whole plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub mode: PlanMode,
    /// Sorted by address.
    pub changes: Vec<ResourceChange>,
    pub outputs: BTreeMap<String, PlannedOutput>,
    /// Objects the `moved` blocks moved in the state: `(from, to)` instance addresses.
    pub moved: Vec<(String, String)>,
}

/// How many instances a plan adds, changes and destroys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub read: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::Delete => s.destroy += 1,
                Action::Read => s.read += 1,
                Action::NoOp => {}
            }
        }
        s
    }

    /// True when applying would change any resource or output.
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| !matches!(c.action, Action::NoOp | Action::Read))
            || self.outputs.values().any(|o| o.action != Action::NoOp)
            || !self.moved.is_empty()
    }

    /// The change for an address, if planned.
    pub fn change(&self, addr: &str) -> Option<&ResourceChange> {
        self.changes.iter().find(|c| c.addr.to_string() == addr)
    }

    /// The `plan --json` document: `{"changes":[{"address","action","reasons"}],"outputs":{…}}`.
    /// Sensitive output values are left out (`"value": null`); unknown ones have `"known": false`.
    pub fn to_json(&self) -> serde_json::Value {
        let changes: Vec<serde_json::Value> = self
            .changes
            .iter()
            .map(|c| {
                let mut obj = serde_json::json!({
                    "address": c.addr.to_string(),
                    "action": c.action.as_str(),
                    "reasons": c.reasons,
                });
                if let Some(d) = &c.deposed {
                    obj["deposed"] = serde_json::Value::String(d.clone());
                }
                obj
            })
            .collect();
        let outputs: serde_json::Map<String, serde_json::Value> = self
            .outputs
            .iter()
            .map(|(name, o)| {
                let known = o.value.is_wholly_known();
                let value = if o.sensitive || !known {
                    serde_json::Value::Null
                } else {
                    o.value.to_json_lossy()
                };
                (
                    name.clone(),
                    serde_json::json!({
                        "action": o.action.as_str(),
                        "value": value,
                        "sensitive": o.sensitive,
                        "known": known,
                    }),
                )
            })
            .collect();
        let moved: Vec<serde_json::Value> = self
            .moved
            .iter()
            .map(|(from, to)| serde_json::json!({"from": from, "to": to}))
            .collect();
        serde_json::json!({
            "mode": self.mode,
            "moved": moved,
            "changes": changes,
            "outputs": outputs,
            "summary": self.summary(),
        })
    }

    /// The human-readable plan, like Terraform's.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let visible: Vec<&ResourceChange> = self
            .changes
            .iter()
            .filter(|c| c.action != Action::NoOp)
            .collect();
        for (from, to) in &self.moved {
            let _ = writeln!(out, "  # {from} has moved to {to}");
        }
        if !self.moved.is_empty() {
            out.push('\n');
        }
        if visible.is_empty() && !self.has_changes() {
            out.push_str("No changes. The infrastructure matches the configuration.\n");
            return out;
        }
        if !visible.is_empty() {
            out.push_str("vitrina will perform the following actions:\n");
        }
        for c in visible {
            out.push('\n');
            let what = match c.action {
                Action::Create => "will be created",
                Action::Read => "will be read during apply",
                Action::Update => "will be updated in-place",
                Action::Replace => "must be replaced",
                Action::Delete => "will be destroyed",
                Action::NoOp => "",
            };
            let deposed = c
                .deposed
                .as_ref()
                .map(|t| format!(" (deposed object {t})"))
                .unwrap_or_default();
            let _ = writeln!(out, "  # {}{deposed} {what}", c.addr);
            for r in &c.reasons {
                let _ = writeln!(out, "  # ({r})");
            }
            let kind = if c.addr.resource.mode == crate::addr::ResourceMode::Data {
                "data"
            } else {
                "resource"
            };
            // A `create_before_destroy` replacement creates first: Terraform marks it `+/-`
            // ("create replacement and then destroy") instead of `-/+`.
            let symbol = if c.action == Action::Replace && c.create_before_destroy {
                "+/-"
            } else {
                c.action.symbol()
            };
            let _ = writeln!(
                out,
                "{symbol} {kind} \"{}\" \"{}\" {{",
                c.addr.resource.type_name, c.addr.resource.name
            );
            render_attrs(&mut out, c);
            out.push_str("    }\n");
        }
        let s = self.summary();
        let _ = writeln!(
            out,
            "\nPlan: {} to add, {} to change, {} to destroy.",
            s.add, s.change, s.destroy
        );
        let changed: Vec<_> = self
            .outputs
            .iter()
            .filter(|(_, o)| o.action != Action::NoOp)
            .collect();
        if !changed.is_empty() {
            out.push_str("\nChanges to Outputs:\n");
            for (name, o) in changed {
                let v = if o.sensitive {
                    "(sensitive value)".to_owned()
                } else {
                    o.value.to_string()
                };
                let sym = match o.action {
                    Action::Create => "+",
                    Action::Delete => "-",
                    _ => "~",
                };
                let _ = writeln!(out, "  {sym} {name} = {v}");
            }
        }
        out
    }
}

fn render_attrs(out: &mut String, c: &ResourceChange) {
    let empty = BTreeMap::new();
    let before = c.before.as_map().unwrap_or(&empty);
    let after = c.after.as_map().unwrap_or(&empty);
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    let width = names
        .iter()
        .filter(|n| {
            !(before.get(**n).unwrap_or(&Value::Null).is_null()
                && after.get(**n).unwrap_or(&Value::Null).is_null())
        })
        .map(|n| n.len())
        .max()
        .unwrap_or(0);
    for name in names {
        let b = before.get(name).unwrap_or(&Value::Null);
        let a = after.get(name).unwrap_or(&Value::Null);
        if b.is_null() && a.is_null() {
            continue;
        }
        let sensitive = c.is_sensitive(name);
        let show = |v: &Value| {
            if sensitive && !v.is_null() && !v.is_unknown() {
                "(sensitive value)".to_owned()
            } else {
                v.to_string()
            }
        };
        let forces = c
            .replace_paths
            .iter()
            .any(|p| matches!(p.first(), Some(PathStep::Attr(x)) if x == name));
        let note = if forces { " # forces replacement" } else { "" };
        let line = match c.action {
            Action::Create | Action::Read => format!("+ {name:<width$} = {}", show(a)),
            Action::Delete => format!("- {name:<width$} = {}", show(b)),
            _ if b == a => format!("  {name:<width$} = {}", show(a)),
            _ if b.is_null() => format!("+ {name:<width$} = {}", show(a)),
            _ if a.is_null() => format!("- {name:<width$} = {} -> null", show(b)),
            _ => format!("~ {name:<width$} = {} -> {}", show(b), show(a)),
        };
        let _ = writeln!(out, "      {line}{note}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::{InstanceKey, ResourceAddr};

    fn change(action: Action, before: Value, after: Value) -> ResourceChange {
        ResourceChange {
            addr: ResourceAddr::managed("random_password", "p").instance(InstanceKey::Int(0)),
            provider: "random".into(),
            action,
            reasons: vec!["`length` forces replacement".into()],
            before,
            after,
            sensitive_paths: vec![vec![PathStep::Attr("result".into())]],
            replace_paths: vec![vec![PathStep::Attr("length".into())]],
            create_before_destroy: false,
            deposed: None,
        }
    }

    #[test]
    fn text_shows_unknown_and_sensitive() {
        let before = Value::map([
            ("length", Value::int(8)),
            ("result", Value::string("hunter2!")),
        ]);
        let after = Value::map([("length", Value::int(12)), ("result", Value::Unknown)]);
        let plan = Plan {
            mode: PlanMode::Normal,
            changes: vec![change(Action::Replace, before, after)],
            outputs: BTreeMap::new(),
            moved: Vec::new(),
        };
        let text = plan.render_text();
        assert!(
            text.contains("# random_password.p[0] must be replaced"),
            "{text}"
        );
        assert!(
            text.contains("~ length = 8 -> 12 # forces replacement"),
            "{text}"
        );
        assert!(
            text.contains("~ result = (sensitive value) -> (known after apply)"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.contains("Plan: 1 to add, 0 to change, 1 to destroy."),
            "{text}"
        );
        let json = plan.to_json();
        assert_eq!(json["changes"][0]["address"], "random_password.p[0]");
        assert_eq!(json["changes"][0]["action"], "replace");
        assert_eq!(
            json["changes"][0]["reasons"][0],
            "`length` forces replacement"
        );
    }

    /// Terraform's plan renderer marks a `create_before_destroy` replacement `+/-` ("create
    /// replacement and then destroy") and an ordinary one `-/+`
    /// (hashicorp/terraform `internal/plans/action.go`: `CreateThenDelete` is `+/-`,
    /// `DeleteThenCreate` is `-/+`).
    #[test]
    fn create_before_destroy_replacement_reads_plus_minus() {
        let before = Value::map([("length", Value::int(8))]);
        let after = Value::map([("length", Value::int(12))]);
        let mut c = change(Action::Replace, before, after);
        let plain = Plan {
            mode: PlanMode::Normal,
            changes: vec![c.clone()],
            outputs: BTreeMap::new(),
            moved: Vec::new(),
        };
        assert!(plain
            .render_text()
            .contains("-/+ resource \"random_password\" \"p\""));
        c.create_before_destroy = true;
        let cbd = Plan {
            mode: PlanMode::Normal,
            changes: vec![c],
            outputs: BTreeMap::new(),
            moved: Vec::new(),
        };
        let text = cbd.render_text();
        assert!(
            text.contains("+/- resource \"random_password\" \"p\""),
            "{text}"
        );
        assert!(!text.contains("-/+"), "{text}");
    }
}
