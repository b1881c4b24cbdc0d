//! `ivkcs_cert` through the engine against a real `vitrina-server` and a real agent: the
//! certificate is issued by the config service's local CA, written on the host in certbot's
//! layout, verifies against that CA with `openssl verify`, its key matches it and stays sealed in
//! the store, and the renewal hook runs once (not again on an apply with nothing changed).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::*;
use vitrina_engine::config::Config;
use vitrina_engine::context::{Engine, VarInputs};
use vitrina_engine::plan::PlanMode;
use vitrina_engine::state::file::{read_state, StateFile};
use vitrina_engine::state::sync::SyncState;
use vitrina_engine::ProviderRegistry;
use vitrina_providers::ivkcs::IvkcsProvider;

fn engine(h: &Harness) -> Engine {
    let mut registry = ProviderRegistry::with_builtins();
    registry.register(
        "ivkcs",
        Arc::new(IvkcsProvider::with_service(
            h.url.clone(),
            h.server.as_ref().expect("server").engine_token.clone(),
        )),
    );
    Engine::new(registry)
}

async fn run(engine: &Engine, dir: &Path, mode: PlanMode) -> serde_json::Value {
    let (config, diags) = Config::load_dir(dir);
    assert!(!diags.has_errors(), "{diags:?}");
    let state_path = dir.join("vitrina.tfstate");
    let prior = read_state(&state_path).expect("state");
    let planned = engine
        .plan(&config, &VarInputs::default(), prior, mode)
        .await
        .unwrap_or_else(|d| panic!("plan: {d:?}"));
    let file = StateFile::lock(&state_path).expect("lock");
    let sync = Arc::new(SyncState::new(planned.prior.clone(), Some(file)));
    let report = engine.apply(&config, &planned, sync).await;
    assert!(report.is_success(), "{:?}", report.diagnostics);
    serde_json::from_slice(&std::fs::read(&state_path).expect("state file")).expect("state json")
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs (install it: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir`, as bytes.
fn all_bytes(dir: &Path, out: &mut Vec<u8>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            all_bytes(&p, out);
        } else if let Ok(b) = std::fs::read(&p) {
            out.extend_from_slice(&b);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_the_local_ca_is_written_on_the_host_and_verifies() {
    let h = Harness::start().await;
    let _agent = h.agent("web-1").await;
    let work = h.work_dir();
    let ssl = work.join("ssl/live/shop");
    let hook = work.join("hook.sh");
    let hook_log = work.join("hook.log");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$RENEWED_LINEAGE $RENEWED_DOMAINS\" >> '{}'\n",
            hook_log.display()
        ),
    )
    .expect("hook");
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let tf = work.join("tf");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(
        tf.join("main.tf"),
        format!(
            r#"
resource "ivkcs_cert" "shop" {{
  uuid              = "{d}"
  domain            = "Shop.XAAS.msk.vkcs.cloud"
  path_cert         = "{ssl}"
  renewal_hook_path = "{hook}"
  timeouts {{
    create = "2m"
  }}
}}
"#,
            d = h.d,
            ssl = ssl.display(),
            hook = hook.display()
        ),
    )
    .expect("main.tf");
    let engine = engine(&h);
    let state = run(&engine, &tf, PlanMode::Normal).await;
    let attrs = state["resources"][0]["instances"][0]["attributes"].clone();

    // certbot's layout, the key private.
    let cert = std::fs::read_to_string(ssl.join("cert.pem")).expect("cert.pem");
    let chain = std::fs::read_to_string(ssl.join("chain.pem")).expect("chain.pem");
    let full = std::fs::read_to_string(ssl.join("fullchain.pem")).expect("fullchain.pem");
    assert!(full.starts_with(cert.trim_end()) && full.contains(chain.trim_end()));
    let key_mode = std::fs::metadata(ssl.join("privkey.pem"))
        .expect("privkey.pem")
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    assert_eq!(
        attrs["cert"].as_str().map(str::trim_end),
        Some(cert.trim_end())
    );

    // Issued by the server's CA, for the domain, and verified by openssl against that CA.
    let ca = h.engine.ca().await.expect("the CA");
    assert_eq!(ca.cert.trim_end(), chain.trim_end());
    let verified = openssl(&[
        "verify",
        "-CAfile",
        ssl.join("chain.pem").to_str().expect("utf-8"),
        ssl.join("cert.pem").to_str().expect("utf-8"),
    ]);
    assert!(verified.trim_end().ends_with(": OK"), "{verified}");
    let text = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        ssl.join("cert.pem").to_str().expect("utf-8"),
    ]);
    assert!(text.contains("DNS:shop.xaas.msk.vkcs.cloud"), "{text}");
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    // Another CA does not verify it.
    let other = work.join("other-ca");
    std::fs::create_dir_all(&other).expect("dir");
    let other_ca = other.join("ca.pem");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=vitrina local CA/O=vitrina",
        "-days",
        "1",
        "-keyout",
        other.join("ca.key").to_str().expect("utf-8"),
        "-out",
        other_ca.to_str().expect("utf-8"),
    ]);
    let out = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(&other_ca)
        .arg(ssl.join("cert.pem"))
        .output()
        .expect("openssl");
    assert!(
        !out.status.success(),
        "a foreign CA verified the certificate"
    );
    // The key is the certificate's.
    let cert_pub = openssl(&[
        "x509",
        "-noout",
        "-pubkey",
        "-in",
        ssl.join("cert.pem").to_str().expect("utf-8"),
    ]);
    let key_pub = openssl(&[
        "pkey",
        "-pubout",
        "-in",
        ssl.join("privkey.pem").to_str().expect("utf-8"),
    ]);
    assert_eq!(cert_pub, key_pub);

    // The hook ran once, with certbot's variables.
    wait_for("the renewal hook", || hook_log.is_file()).await;
    assert_eq!(
        lines(&hook_log),
        vec![format!("{} shop.xaas.msk.vkcs.cloud", ssl.display())]
    );

    // A second apply changes nothing: the same certificate, no second run of the hook.
    let again = run(&engine, &tf, PlanMode::Normal).await;
    assert_eq!(
        again["resources"][0]["instances"][0]["attributes"]["serial"],
        attrs["serial"]
    );
    assert_eq!(lines(&hook_log).len(), 1);

    // Neither private key is in the server's files in plain text (the store seals them).
    let key_pem = std::fs::read_to_string(ssl.join("privkey.pem")).expect("key");
    let key_line = key_pem
        .lines()
        .find(|l| l.len() > 40 && !l.starts_with("-----"))
        .expect("a base64 line of the key")
        .to_owned();
    let mut server_bytes = Vec::new();
    all_bytes(&h.dir.path().join("server"), &mut server_bytes);
    let server_text = String::from_utf8_lossy(&server_bytes);
    assert!(
        !server_text.contains(&key_line),
        "the key is stored in plain text"
    );
    assert!(
        !server_text.contains("PRIVATE KEY"),
        "a private key is stored in plain text"
    );

    // Destroy forgets it; a new apply issues another one.
    run(&engine, &tf, PlanMode::Destroy).await;
    let state = run(&engine, &tf, PlanMode::Normal).await;
    assert_ne!(
        state["resources"][0]["instances"][0]["attributes"]["serial"],
        attrs["serial"]
    );
    h.stop().await;
}
