//! `vitrina serve --demo` as a process: `/healthz`, localcloud under `/cloud/…`, and the demo
//! files of the contract (clouds.yaml, demo.env, demo-credentials.json).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn serve_demo_writes_the_files_and_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "--health-timeout",
            "90s",
            "--data",
        ])
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("vitrina serve starts");
    let creds_path = data.join("demo-credentials.json");
    let deadline = Instant::now() + Duration::from_secs(120);
    let creds: serde_json::Value = loop {
        if let Ok(text) = std::fs::read_to_string(&creds_path) {
            if let Ok(v) = serde_json::from_str(&text) {
                break v;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("vitrina serve exited early: {status}");
        }
        assert!(Instant::now() < deadline, "no demo-credentials.json");
        std::thread::sleep(Duration::from_millis(100));
    };
    let url = creds["url"].as_str().expect("url").to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // 503 `starting` until the demo is set up (the files are written just before).
        let deadline = Instant::now() + Duration::from_secs(60);
        let health: serde_json::Value = loop {
            let r = reqwest::get(format!("{url}/healthz"))
                .await
                .expect("healthz");
            if r.status() == 200 {
                break r.json().await.expect("json");
            }
            assert!(Instant::now() < deadline, "/healthz never became 200");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(health, serde_json::json!({"status": "ok"}));
        // The example packages are published: the demo vendor sees them.
        let list: serde_json::Value = reqwest::Client::new()
            .get(format!(
                "{url}/marketplace/api/infra-api/api/v1-public/product"
            ))
            .header(
                "x-service-token",
                creds["vendor"]["service_token"].as_str().expect("token"),
            )
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        let public = list["services"]
            .as_array()
            .expect("services")
            .iter()
            .filter(|s| s["state"] == "public")
            .count();
        assert_eq!(public, 3, "{list}");
        let identity = reqwest::get(format!("{url}/cloud/identity/v3"))
            .await
            .expect("identity");
        assert!(identity.status().is_success(), "{}", identity.status());
    });
    assert_eq!(
        creds["cloud"]["auth_url"].as_str(),
        Some(format!("{url}/cloud/identity/v3").as_str())
    );
    let env = std::fs::read_to_string(data.join("demo.env")).expect("demo.env");
    for name in [
        "OS_CLIENT_CONFIG_FILE",
        "OS_CLOUD",
        "VITRINA_CONFIG_SERVICE",
        "VITRINA_CONFIG_TOKEN",
    ] {
        assert!(
            env.contains(&format!("export {name}=")),
            "{name} missing:\n{env}"
        );
    }
    let yaml = std::fs::read_to_string(data.join("clouds.yaml")).expect("clouds.yaml");
    assert!(yaml.contains("vitrina-demo:"), "{yaml}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [
            "demo.env",
            "clouds.yaml",
            "demo-credentials.json",
            "config-token",
            "secret.key",
        ] {
            let mode = std::fs::metadata(data.join(f))
                .expect(f)
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{f} is readable by others");
        }
    }
    // `vitrina package upload`: a folder is packed and uploaded (exit 0); the same revision
    // again is refused (exit 1); a wrong token too.
    let token = creds["vendor"]["service_token"].as_str().expect("token");
    let pkg = dir.path().join("hello_web");
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/packages/hello_web"),
        &pkg,
    );
    let svc = pkg.join("service.yaml");
    let text = std::fs::read_to_string(&svc).expect("service.yaml");
    std::fs::write(
        &svc,
        text.replacen("revision: \"1.0\"", "revision: \"1.1\"", 1),
    )
    .expect("write");
    let upload = |tok: &str| {
        Command::new(env!("CARGO_BIN_EXE_vitrina"))
            .args(["package", "upload"])
            .arg(&pkg)
            .args(["--server", &url, "--service-token", tok])
            .output()
            .expect("vitrina package upload runs")
    };
    let out = upload(token);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = upload(token);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("409"));
    let out = upload("vts_wrong");
    assert_eq!(out.status.code(), Some(1));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success(), "vitrina serve exit status {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("vitrina serve did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn copy_dir(src: &std::path::Path, dst: &std::path::Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read_dir").flatten() {
        let p = e.path();
        let to = dst.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &to);
        } else {
            std::fs::copy(&p, &to).expect("copy");
        }
    }
}
