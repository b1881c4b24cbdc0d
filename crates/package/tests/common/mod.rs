//! A tiny valid package (`demo`, plans `basic` and `pro`) and edits to break it one rule at a
//! time. Expected positions are written into the edited text as a `⟦` marker, which the harness
//! removes and turns into file:line:col.

#![allow(dead_code)]

use std::collections::BTreeMap;

use vitrina_diagnostics::LineIndex;
use vitrina_package::PackageFiles;

pub const MARK: char = '⟦';

/// A PNG signature and IHDR chunk of the given size (all the validator reads).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    v.extend(w.to_be_bytes());
    v.extend(h.to_be_bytes());
    v.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
    v
}

pub const VERSION: &str = "version: 1.0.0\n";

pub const SERVICE: &str = "\
id: 0f8d8f3e-2c4b-4a7e-9d1a-6b2f3c4d5e6f
revision: \"1.0\"
name: Demo
short_description: A demo service
singleton: false
auto_bind: true
icon: icon.png
help: https://example.com/help
bindable: true
plan_updateable: false
deactivatable: false
bindings_retrievable: true
instances_retrievable: true

plans:
  - name: basic
  - name: pro

preview:
  parameters:
    - name: nodes
";

pub const DESCRIPTION: &str = "# Demo\n\nA demo service.\n";

pub const OPT_FLAVOR: &str = "\
actions:
  - create
schema:
  description: VM type
  type: string
  datasource:
    type: flavor
    filter:
      vcpus:
        minimum: 1
      ram:
        minimum: 1024
";

pub const OPT_AZ: &str = "\
actions:
  - create
schema:
  description: Availability zone
  type: string
  default: gz1
  datasource:
    type: az
";

pub const OPT_DISK_TYPE: &str = "\
actions:
  - create
  - update
schema:
  description: Disk type
  type: string
  default: ceph-ssd
  tag: data
  datasource:
    type: volume_type
    filter:
      disk_class:
        enum: [ssd, hdd]
";

pub const OPT_DISK_SIZE: &str = "\
actions:
  - create
  - update
schema:
  description: Disk size, GB
  type: integer
  default: 10
  minimum: 10
  maximum: 100
  tag: data
";

pub const OPT_NODES: &str = "\
actions:
  - create
schema:
  description: Nodes
  type: integer
  enum: [1, 3]
  default: 1
";

pub const OPT_TITLE: &str = "\
actions:
  - create
  - update
schema:
  description: Page title
  hint: Shown in the browser tab
  type: string
  default: Hello
  pattern: \"^[A-Za-z ]+$\"
  minLength: 1
  maxLength: 64
";

pub const OPT_BACKUPS: &str = "\
actions:
  - create
  - update
schema:
  description: Backups
  type: boolean
  default: false
";

pub const OPT_EXTRA: &str = "\
actions:
  - create
  - update
billing:
  base: 10
  cost: 100
  unit:
    size: 10
    measurement: GB
schema:
  description: Extra space
  type: integer
  default: 0
  minimum: 0
  maximum: 5
";

pub const PLAN_BASIC: &str = "\
id: 1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d
revision: \"1.0\"
name: basic
description: Basic
free: true
billing:
  cost: 0
";

pub const PLAN_PRO: &str = "\
id: 9e8d7c6b-5a4f-4e3d-a2c1-b0a9f8e7d6c5
revision: \"1.0\"
name: pro
description: Professional
free: false
billing:
  cost: 990
  refundable: true
  billing_cycle_flat: 1 mons 0 days
parameters_patch:
  disk_size:
    schema.default: 20
    schema.minimum: 20
";

pub const DISPLAY: &str = "\
pages:
  - name: Server
    groups:
      - name: VM
        parameters:
          - name: flavor
          - name: az
          - name: nodes
      - name: Disk
        parameters:
          - name: disk_type
          - name: disk_size
  - name: Site
    groups:
      - name: Page
        parameters:
          - name: title
          - name: backups
          - name: extra_space
entities:
  - entity: vm
    description: Server
    count:
      param: nodes
    flavor:
      param: flavor
    disks:
      - type:
          param: disk_type
        size:
          param: disk_size
";

pub const DEPLOY: &str = r#"variable "instance_uuid" {
  type = string
}

variable "email" {
  type = string
}

variable "flavor" {
  type = string
}

variable "az" {
  type = string
}

variable "nodes" {
  type = number
}

variable "disk_type" {
  type = string
}

variable "disk_size" {
  type = number
}

variable "title" {
  type = string
}

variable "backups" {
  type = bool
}

variable "extra_space" {
  type = number
}

locals {
  name = "demo-${var.instance_uuid}"
}

resource "random_password" "admin" {
  length = 16
}

resource "vkcs_compute_instance" "vm" {
  count             = var.nodes
  name              = "${local.name}-${count.index}"
  flavor_id         = var.flavor
  availability_zone = var.az
}

resource "ivkcs_agent_exec" "start" {
  hosts = ["vm"]
  name  = "start"
  uuid  = var.instance_uuid
  step {
    index   = 1
    type    = "bash"
    content = "echo ${var.title} ${var.disk_type} ${var.disk_size} ${var.backups} ${var.extra_space}"
    options {
      timeout = "5m"
    }
  }
  depends_on = [vkcs_compute_instance.vm]
}

output "password" {
  value     = random_password.admin.result
  sensitive = true
}
"#;

pub const SETTINGS: &str = "preset: base_v3\nretry: no\n";

/// The base package's files (text), without the icon.
pub fn base_texts() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut add = |p: &str, t: &str| {
        m.insert(p.to_owned(), t.to_owned());
    };
    add("version.yaml", VERSION);
    add("service.yaml", SERVICE);
    add("full_description.md", DESCRIPTION);
    add("parameters/flavor.yaml", OPT_FLAVOR);
    add("parameters/az.yaml", OPT_AZ);
    add("parameters/disk_type.yaml", OPT_DISK_TYPE);
    add("parameters/disk_size.yaml", OPT_DISK_SIZE);
    add("parameters/nodes.yaml", OPT_NODES);
    add("parameters/title.yaml", OPT_TITLE);
    add("parameters/backups.yaml", OPT_BACKUPS);
    add("parameters/extra_space.yaml", OPT_EXTRA);
    for plan in ["basic", "pro"] {
        let p = if plan == "basic" {
            PLAN_BASIC
        } else {
            PLAN_PRO
        };
        add(&format!("plans/{plan}/plan.yaml"), p);
        add(&format!("plans/{plan}/display.yaml"), DISPLAY);
        add(&format!("plans/{plan}/deployment/deploy.tf"), DEPLOY);
        add(&format!("plans/{plan}/deployment/settings.yaml"), SETTINGS);
    }
    m
}

/// One change to the base package.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Replace the first `find` in `file` with `with` (which may hold the marker).
    Sub(&'static str, &'static str, String),
    /// Write a whole file (text, may hold the marker).
    Put(&'static str, String),
    /// Write a binary file.
    PutBytes(&'static str, Vec<u8>),
    /// Remove a file.
    Remove(&'static str),
}

pub fn sub(file: &'static str, find: &'static str, with: impl Into<String>) -> Edit {
    Edit::Sub(file, find, with.into())
}

pub fn put(file: &'static str, text: impl Into<String>) -> Edit {
    Edit::Put(file, text.into())
}

/// An edited package and where the marker was (file, line, column), if any.
pub struct Built {
    pub files: PackageFiles,
    pub texts: BTreeMap<String, Vec<u8>>,
    pub marker: Option<(String, usize, usize)>,
}

pub fn build(edits: &[Edit]) -> Built {
    let mut texts: BTreeMap<String, Vec<u8>> = base_texts()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    texts.insert("images/icon.png".to_owned(), png(64, 64));
    for e in edits {
        match e {
            Edit::Sub(file, find, with) => {
                let t = String::from_utf8(texts.get(*file).cloned().unwrap_or_default()).unwrap();
                assert!(t.contains(find), "`{find}` not in {file}");
                texts.insert((*file).to_owned(), t.replacen(find, with, 1).into_bytes());
            }
            Edit::Put(file, text) => {
                texts.insert((*file).to_owned(), text.clone().into_bytes());
            }
            Edit::PutBytes(file, bytes) => {
                texts.insert((*file).to_owned(), bytes.clone());
            }
            Edit::Remove(file) => {
                assert!(texts.remove(*file).is_some(), "{file} is not in the base");
            }
        }
    }
    let mut marker = None;
    for (path, bytes) in texts.iter_mut() {
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        if let Some(off) = text.find(MARK) {
            let clean = text.replacen(MARK, "", 1);
            let (l, c) = LineIndex::new(&clean).line_col(&clean, off);
            marker = Some((path.clone(), l, c));
            *bytes = clean.into_bytes();
        }
    }
    let mut files = PackageFiles {
        service_name: "demo".to_owned(),
        ..PackageFiles::default()
    };
    for (p, b) in &texts {
        files.add(p, b.clone());
    }
    Built {
        files,
        texts,
        marker,
    }
}

/// Writes the package's files under `dir/demo/` and returns that folder.
pub fn write_to(texts: &BTreeMap<String, Vec<u8>>, dir: &std::path::Path) -> std::path::PathBuf {
    let root = dir.join("demo");
    for (p, b) in texts {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b).unwrap();
    }
    root
}

/// Validates and returns the contract's JSON object.
pub fn validate_json(files: &PackageFiles) -> serde_json::Value {
    let v = vitrina_package::validate(files);
    serde_json::json!({
        "ok": !v.diagnostics.has_errors(),
        "diagnostics": v.sources.to_json(&v.diagnostics),
    })
}

/// `validate --format json` with provider schemas.
pub fn validate_json_with(
    files: &PackageFiles,
    schemas: &vitrina_package::ProviderSchemas,
) -> serde_json::Value {
    let v = vitrina_package::validate_with(files, Some(schemas));
    serde_json::json!({
        "ok": !v.diagnostics.has_errors(),
        "diagnostics": v.sources.to_json(&v.diagnostics),
    })
}

/// Provider schemas (as data) covering the base package's manifest, written here because this
/// room does not know the providers (the cli's tests use the real ones).
pub fn test_schemas() -> vitrina_package::ProviderSchemas {
    use vitrina_hcl::schema::{AttrSpec, BodySpec, Nesting, ProviderSpec};
    use vitrina_hcl::Type;
    let mut s = vitrina_package::ProviderSchemas::builtin();
    let mut random = ProviderSpec::default();
    random.resources.insert(
        "random_password".into(),
        BodySpec::new()
            .attr("id", AttrSpec::computed(Type::String))
            .attr("length", AttrSpec::required(Type::Number))
            .attr("special", AttrSpec::optional(Type::Bool))
            .attr("result", AttrSpec::computed(Type::String)),
    );
    s.insert("random", random);
    let mut vkcs = ProviderSpec::default();
    vkcs.resources.insert(
        "vkcs_compute_instance".into(),
        BodySpec::new()
            .attr("id", AttrSpec::computed(Type::String))
            .attr("name", AttrSpec::required(Type::String))
            .attr("flavor_id", AttrSpec::optional_computed(Type::String))
            .attr(
                "availability_zone",
                AttrSpec::optional_computed(Type::String),
            )
            .attr("access_ip_v4", AttrSpec::computed(Type::String))
            .block(
                "network",
                Nesting::List,
                BodySpec::new().attr("uuid", AttrSpec::optional(Type::String)),
            ),
    );
    s.insert("vkcs", vkcs);
    let mut ivkcs = ProviderSpec::default();
    ivkcs.resources.insert(
        "ivkcs_agent_exec".into(),
        BodySpec::new()
            .attr("uuid", AttrSpec::required(Type::String))
            .attr("name", AttrSpec::required(Type::String))
            .attr("hosts", AttrSpec::required(Type::list(Type::String)))
            .block_items(
                "step",
                Nesting::List,
                1,
                None,
                BodySpec::new()
                    .attr("index", AttrSpec::required(Type::Number))
                    .attr("type", AttrSpec::required(Type::String))
                    .attr("content", AttrSpec::required(Type::String))
                    .block(
                        "options",
                        Nesting::Single,
                        BodySpec::new().attr("timeout", AttrSpec::optional(Type::String)),
                    ),
            ),
    );
    s.insert("ivkcs", ivkcs);
    s
}
