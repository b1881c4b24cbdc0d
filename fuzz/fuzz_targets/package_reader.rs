//! Fuzzes the service-package reader and validator with untrusted bytes: a whole zip archive,
//! a single YAML document, or one file of a valid package replaced by the input.
//!
//! The first input byte picks the mode; the rest is the payload. Any panic (even one the
//! validator's own panic boundary would turn into a diagnostic) aborts the run: libfuzzer-sys
//! installs an aborting panic hook.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vitrina_package::PackageFiles;

/// `(path, bytes)` of a file of `examples/packages/hello_web`.
macro_rules! example_file {
    ($path:literal) => {
        (
            $path,
            include_bytes!(concat!("../../examples/packages/hello_web/", $path)),
        )
    };
}

/// A valid package (`examples/packages/hello_web`, plan `free`) whose files the input replaces.
/// `make-corpus.sh` seeds mode 2 in this order.
const BASE: &[(&str, &[u8])] = &[
    example_file!("version.yaml"),
    example_file!("service.yaml"),
    example_file!("full_description.md"),
    example_file!("images/icon.png"),
    example_file!("parameters/flavor.yaml"),
    example_file!("parameters/az.yaml"),
    example_file!("parameters/subnet.yaml"),
    example_file!("parameters/data_type.yaml"),
    example_file!("parameters/data_size.yaml"),
    example_file!("parameters/page_title.yaml"),
    example_file!("parameters/log_retention_days.yaml"),
    example_file!("plans/free/plan.yaml"),
    example_file!("plans/free/display.yaml"),
    example_file!("plans/free/deployment/settings.yaml"),
    example_file!("plans/free/deployment/deploy.tf"),
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
