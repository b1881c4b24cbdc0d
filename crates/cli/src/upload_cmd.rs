//! `vitrina package upload PATH --server URL --service-token T`: packs a folder if needed (after
//! validating it here), then POSTs the zip to the product API as the multipart field `upload`.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::ExitStatus;

/// The product API's upload path below the server URL.
const UPLOAD_PATH: &str = "/marketplace/api/infra-api/api/v1-public/product";

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The package folder or its zip
    pub path: PathBuf,
    /// The server's URL (`http://127.0.0.1:8080`)
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The vendor's service token
    #[arg(
        long,
        value_name = "T",
        env = "VITRINA_SERVICE_TOKEN",
        hide_env_values = true
    )]
    pub service_token: String,
}

pub fn run(a: &UploadArgs) -> ExitStatus {
    let zip = match zip_of(&a.path) {
        Ok(z) => z,
        Err(status) => return status,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::exit::print_error(&e);
            return ExitStatus::Usage;
        }
    };
    rt.block_on(send(a, zip))
}

/// The zip's bytes: read as is, or the folder validated and packed into a temporary file.
fn zip_of(path: &Path) -> Result<Vec<u8>, ExitStatus> {
    if !path.is_dir() {
        return fs_err::read(path).map_err(|e| {
            crate::exit::print_error(&e);
            ExitStatus::Usage
        });
    }
    let files = vitrina_package::read_package(path).map_err(|e| {
        crate::exit::print_error(&e);
        ExitStatus::Usage
    })?;
    let v = vitrina_package::validate_with(&files, Some(&vitrina_providers::schemas()));
    if v.diagnostics.has_errors() {
        eprint!("{}", v.sources.render_text(&v.diagnostics, ""));
        eprintln!("{}: not uploaded (the package has errors)", path.display());
        return Err(ExitStatus::Failure);
    }
    let dir = tempfile::tempdir().map_err(|e| {
        crate::exit::print_error(&e);
        ExitStatus::Usage
    })?;
    let out = dir.path().join(format!("{}.zip", files.service_name));
    match vitrina_package::pack::pack(path, &files, &out) {
        Ok(_) => {}
        Err(vitrina_package::pack::PackError::TooLarge { size }) => {
            eprintln!(
                "{}: error[package/too-large]: the zip would have {size} bytes, more than the 30 MB upload limit",
                path.display()
            );
            return Err(ExitStatus::Failure);
        }
        Err(e) => {
            crate::exit::print_error(&e);
            return Err(ExitStatus::Usage);
        }
    }
    fs_err::read(&out).map_err(|e| {
        crate::exit::print_error(&e);
        ExitStatus::Usage
    })
}

/// A `multipart/form-data` body with the one file field `upload`.
fn multipart(zip: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("vitrina-{}", uuid_like());
    let mut body = Vec::with_capacity(zip.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"package.zip\"\r\nContent-Type: application/zip\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(zip);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A boundary that does not occur in the zip by chance (time and process id, hex).
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}{:x}", std::process::id())
}

async fn send(a: &UploadArgs, zip: Vec<u8>) -> ExitStatus {
    let url = format!("{}{UPLOAD_PATH}", a.server.trim_end_matches('/'));
    let (content_type, body) = multipart(&zip);
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(300))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            crate::exit::print_error(&e);
            return ExitStatus::Usage;
        }
    };
    let resp = match client
        .post(&url)
        .header("x-service-token", &a.service_token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot reach `{url}`: {e}");
            return ExitStatus::Usage;
        }
    };
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.as_u16() == 204 {
        eprintln!(
            "{}: uploaded into the vendor's test namespace",
            a.path.display()
        );
        return ExitStatus::Success;
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if let Some(diags) = v.get("diagnostics").and_then(|d| d.as_array()) {
        for d in diags {
            let s = |k: &str| d.get(k).and_then(|x| x.as_str()).unwrap_or_default();
            let n = |k: &str| d.get(k).and_then(|x| x.as_u64()).unwrap_or(1);
            eprintln!(
                "{}:{}:{}: {}[{}]: {}",
                s("file"),
                n("line"),
                n("column"),
                s("severity"),
                s("code"),
                s("message")
            );
            if !s("help").is_empty() {
                eprintln!("  help: {}", s("help"));
            }
        }
    } else if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        eprintln!("error: {e}");
    } else {
        eprintln!("error: the server answered {status}");
    }
    eprintln!(
        "{}: not uploaded (HTTP {})",
        a.path.display(),
        status.as_u16()
    );
    ExitStatus::Failure
}
