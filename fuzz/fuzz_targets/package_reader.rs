//! Fuzzes the service-package reader and validator with untrusted bytes: a whole zip archive,
//! a single YAML document, or one file of a valid package replaced by the input.
//!
//! The first input byte picks the mode; the rest is the payload. Any panic (even one the
//! validator's own panic boundary would turn into a diagnostic) aborts the run: libfuzzer-sys
//! installs an aborting panic hook.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vitrina_package::PackageFiles;

/// A valid package (`examples/packages/hello_web`, plan `free`) whose files the input replaces.
const BASE: &[(&str, &[u8])] = &[
    ("version.yaml", include_bytes!("../../examples/packages/hello_web/version.yaml")),
    ("service.yaml", include_bytes!("../../examples/packages/hello_web/service.yaml")),
    (
        "full_description.md",
        include_bytes!("../../examples/packages/hello_web/full_description.md"),
    ),
    ("images/icon.png", include_bytes!("../../examples/packages/hello_web/images/icon.png")),
    (
        "parameters/flavor.yaml",
        include_bytes!("../../examples/packages/hello_web/parameters/flavor.yaml"),
    ),
    ("parameters/az.yaml", include_bytes!("../../examples/packages/hello_web/parameters/az.yaml")),
    (
        "parameters/subnet.yaml",
        include_bytes!("../../examples/packages/hello_web/parameters/subnet.yaml"),
    ),
    (
        "parameters/data_type.yaml",
        include_bytes!("../../examples/packages/hello_web/parameters/data_type.yaml"),
    ),
    (
        "parameters/data_size.yaml",
        include_bytes!("../../examples/packages/hello_web/parameters/data_size.yaml"),
    ),
    (
        "parameters/page_title.yaml",
        include_bytes!("../../examples/packages/hello_web/parameters/page_title.yaml"),
    ),
    (
        "parameters/log_retention_days.yaml",
        include_bytes!("../../examples/packages/hello_web/parameters/log_retention_days.yaml"),
    ),
    (
        "plans/free/plan.yaml",
        include_bytes!("../../examples/packages/hello_web/plans/free/plan.yaml"),
    ),
    (
        "plans/free/display.yaml",
        include_bytes!("../../examples/packages/hello_web/plans/free/display.yaml"),
    ),
    (
        "plans/free/deployment/settings.yaml",
        include_bytes!("../../examples/packages/hello_web/plans/free/deployment/settings.yaml"),
    ),
    (
        "plans/free/deployment/deploy.tf",
        include_bytes!("../../examples/packages/hello_web/plans/free/deployment/deploy.tf"),
    ),
];

fn base_package() -> PackageFiles {
    let mut files = PackageFiles {
        service_name: "hello_web".to_owned(),
        ..PackageFiles::default()
    };
    for (path, bytes) in BASE {
        files.add(path, bytes.to_vec());
    }
    files
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        // A whole archive, as `vitrina package validate x.zip` or an upload would read it.
        0 => {
            if let Ok(files) = vitrina_package::read_zip_bytes(payload, "fuzz") {
                let _ = vitrina_package::validate(&files);
            }
        }
        // One YAML document.
        1 => {
            if let Ok(text) = std::str::from_utf8(payload) {
                let _ = vitrina_package::yaml::parse(text);
            }
        }
        // One file of a valid package replaced by the rest of the input.
        _ => {
            let Some((&which, content)) = payload.split_first() else {
                return;
            };
            let mut files = base_package();
            // The `.md`, icon and `.tf` entries stay in rotation too: the validator reads them.
            let (path, _) = BASE[usize::from(which) % BASE.len()];
            files.add(path, content.to_vec());
            let _ = vitrina_package::validate(&files);
        }
    }
});
