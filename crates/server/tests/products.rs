//! The product API against a demo-like server (vendor, consumer project with a built-in cloud
//! project, broker accounts, the example packages published), driven by seed 003's own `curl`
//! commands (§2.6.5 upload, §4 archive) and by reqwest: statuses and body shapes, namespaces,
//! revisions, isolation between vendors, and `--demo`'s files and idempotence.

use std::path::{Path, PathBuf};
use std::process::Command;

use vitrina_server::tenants::Namespace;
use vitrina_server::{Server, ServerConfig};

const PREFIX: &str = "/marketplace/api/infra-api/api/v1-public";
const HELLO_ID: &str = "2cfe21ad-f403-47a7-9c00-74e92d1ee7db";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn start(dir: &Path) -> Server {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), dir);
    cfg.cloud = true;
    // No VMs are started here.
    cfg.cloud_network = vitrina_localcloud::NetworkSetting::Shared;
    Server::start(cfg).await.expect("server starts")
}

fn curl() -> Command {
    assert!(
        Command::new("curl").arg("--version").output().is_ok(),
        "curl is missing: install it (`apt-get install -y curl`)"
    );
    Command::new("curl")
}

/// Runs curl with `args`, returns (status, body).
fn run_curl(args: &[&str]) -> (u16, String) {
    let out = curl()
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// Copies a package folder, setting its service revision, and packs it into `<out>/<name>.zip`.
fn packed(src: &Path, out: &Path, revision: &str, edit: impl Fn(&Path)) -> PathBuf {
    let name = src.file_name().expect("name");
    let dst = out.join("src").join(revision).join(name);
    copy_dir(src, &dst);
    let svc = dst.join("service.yaml");
    let text = std::fs::read_to_string(&svc).expect("service.yaml");
    let text = text.replacen("revision: \"1.0\"", &format!("revision: \"{revision}\""), 1);
    std::fs::write(&svc, text).expect("write service.yaml");
    edit(&dst);
    let files = vitrina_package::read_package(&dst).expect("read");
    let zip = out.join(format!("{}-{revision}.zip", name.to_string_lossy()));
    vitrina_package::pack::pack(&dst, &files, &zip).expect("pack");
    zip
}

fn copy_dir(src: &Path, dst: &Path) {
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

fn creds(data: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(data.join("demo-credentials.json")).expect("creds"),
    )
    .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_curl_examples_namespaces_and_isolation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = start(&data).await;
    let report = vitrina_server::demo::setup(&server, &data, &repo().join("examples/packages"))
        .await
        .expect("demo setup");
    assert_eq!(report.published.len(), 3, "{:?}", report.published);
    let c = creds(&data);
    let token = c["vendor"]["service_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let url = server.url.clone();

    // Every example package is public, at revision 1.0.
    let public = server
        .products
        .catalog(Namespace::Public)
        .await
        .expect("catalog");
    assert_eq!(public.len(), 3);
    assert!(public
        .iter()
        .any(|r| r.service_id == HELLO_ID && r.revision == "1.0"));

    // §2.6.5: `curl -v -X POST …/product -H 'x-service-token: …' -F "upload=@….zip"` → 204.
    let work = dir.path().join("work");
    let zip2 = packed(
        &repo().join("examples/packages/hello_web"),
        &work,
        "2.0",
        |_| {},
    );
    let upload = format!("{url}{PREFIX}/product");
    let tok_header = format!("x-service-token: {token}");
    let form = format!("upload=@{}", zip2.display());
    let (code, body) = run_curl(&["-X", "POST", &upload, "-H", &tok_header, "-F", &form]);
    assert_eq!((code, body.as_str()), (204, ""));
    // Into the test namespace only.
    let test_ns = server
        .products
        .catalog(Namespace::Test)
        .await
        .expect("test");
    assert!(test_ns
        .iter()
        .any(|r| r.service_id == HELLO_ID && r.revision == "2.0"));
    let public = server
        .products
        .catalog(Namespace::Public)
        .await
        .expect("public");
    let hello: Vec<_> = public.iter().filter(|r| r.service_id == HELLO_ID).collect();
    assert_eq!(hello.len(), 1);
    assert_eq!(hello[0].revision, "1.0");

    // The same (id, revision) again: 409.
    let (code, body) = run_curl(&["-X", "POST", &upload, "-H", &tok_header, "-F", &form]);
    assert_eq!(code, 409, "{body}");
    assert!(serde_json::from_str::<serde_json::Value>(&body).expect("json")["error"].is_string());
    // No or a wrong token: 401, before the body is looked at.
    let (code, _) = run_curl(&["-X", "POST", &upload, "-F", &form]);
    assert_eq!(code, 401);
    let (code, _) = run_curl(&[
        "-X",
        "POST",
        &upload,
        "-H",
        "x-service-token: vts_wrong",
        "-F",
        &form,
    ]);
    assert_eq!(code, 401);

    // A package with errors: 400 with the diagnostics (file, line, column, code).
    let broken = packed(
        &repo().join("examples/packages/hello_web"),
        &work,
        "3.0",
        |d| {
            let svc = d.join("service.yaml");
            let t = std::fs::read_to_string(&svc).expect("read");
            std::fs::write(&svc, t.replacen(HELLO_ID, "not-a-uuid", 1)).expect("write");
        },
    );
    let bform = format!("upload=@{}", broken.display());
    let (code, body) = run_curl(&["-X", "POST", &upload, "-H", &tok_header, "-F", &bform]);
    assert_eq!(code, 400, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let diags = v["diagnostics"].as_array().expect("diagnostics");
    let d = diags
        .iter()
        .find(|d| d["code"] == "service/id-not-uuid4")
        .unwrap_or_else(|| panic!("no service/id-not-uuid4 in {body}"));
    assert_eq!(
        (d["file"].as_str(), d["line"].as_u64()),
        (Some("service.yaml"), Some(1))
    );
    assert!(d["column"].as_u64().is_some() && d["severity"] == "error");
    // Not a zip, and a form without `upload`: 400 diagnostics too.
    let junk = work.join("junk.zip");
    std::fs::write(&junk, b"not a zip").expect("junk");
    let jform = format!("upload=@{}", junk.display());
    let (code, body) = run_curl(&["-X", "POST", &upload, "-H", &tok_header, "-F", &jform]);
    assert_eq!(code, 400);
    assert!(body.contains("product/bad-upload"), "{body}");
    let oform = format!("file=@{}", zip2.display());
    let (code, body) = run_curl(&["-X", "POST", &upload, "-H", &tok_header, "-F", &oform]);
    assert_eq!(code, 400);
    assert!(body.contains("`upload`"), "{body}");

    // Publish 2.0: it becomes public, 1.0 returns to test; both stay in the test namespace.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{url}{PREFIX}/product/publish"))
        .header("x-service-token", &token)
        .json(&serde_json::json!({"id": HELLO_ID, "revision": "2.0"}))
        .send()
        .await
        .expect("publish");
    assert_eq!(r.status(), 204);
    let public = server
        .products
        .catalog(Namespace::Public)
        .await
        .expect("public");
    let hello: Vec<_> = public.iter().filter(|r| r.service_id == HELLO_ID).collect();
    assert_eq!(hello.len(), 1);
    assert_eq!(hello[0].revision, "2.0");
    let one = server
        .products
        .revision(HELLO_ID, "1.0")
        .await
        .expect("rev")
        .expect("kept");
    assert_eq!(one.state, vitrina_server::products::RevisionState::Test);
    let test_ns = server
        .products
        .catalog(Namespace::Test)
        .await
        .expect("test");
    assert_eq!(
        test_ns.iter().filter(|r| r.service_id == HELLO_ID).count(),
        2
    );
    // The deployment system's view: a plan's manifest of a revision.
    let plans = server
        .products
        .plans(HELLO_ID, "2.0")
        .await
        .expect("plans")
        .expect("some");
    assert!(!plans.is_empty());
    let p = &plans[0];
    assert!(!p.id.is_empty() && !p.manifest.is_empty(), "{p:?}");
    let same = server
        .products
        .plan(HELLO_ID, "2.0", &p.id)
        .await
        .expect("plan");
    assert_eq!(same.as_ref(), Some(p));
    let files = server
        .products
        .package_files(HELLO_ID, "2.0")
        .await
        .expect("files")
        .expect("some");
    assert!(files.has_file("service.yaml"));
    // Unknown revision: 404; unknown fields: 400.
    let r = http
        .post(format!("{url}{PREFIX}/product/publish"))
        .header("x-service-token", &token)
        .json(&serde_json::json!({"id": HELLO_ID, "revision": "9.9"}))
        .send()
        .await
        .expect("publish");
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("{url}{PREFIX}/product/publish"))
        .header("x-service-token", &token)
        .json(&serde_json::json!({"id": HELLO_ID, "revision": "2.0", "extra": 1}))
        .send()
        .await
        .expect("publish");
    assert_eq!(r.status(), 400);

    // Isolation: another vendor can neither upload into this id nor publish or archive it.
    let other = server
        .tenants
        .ensure_vendor("mallory")
        .await
        .expect("vendor");
    let otok = server
        .tenants
        .issue_vendor_token(&other)
        .await
        .expect("token");
    let zip4 = packed(
        &repo().join("examples/packages/hello_web"),
        &work,
        "4.0",
        |_| {},
    );
    let oh = format!("x-service-token: {}", otok.expose());
    let f4 = format!("upload=@{}", zip4.display());
    let (code, body) = run_curl(&["-X", "POST", &upload, "-H", &oh, "-F", &f4]);
    assert_eq!(code, 409, "{body}");
    for (path, body) in [
        (
            "product/publish",
            serde_json::json!({"id": HELLO_ID, "revision": "1.0"}),
        ),
        (
            "product/archive",
            serde_json::json!({"services": [{"id": HELLO_ID, "revision": "2.0"}]}),
        ),
    ] {
        let r = http
            .post(format!("{url}{PREFIX}/{path}"))
            .header("x-service-token", otok.expose())
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 404, "{path} by another vendor");
    }
    let r = http
        .get(format!("{url}{PREFIX}/product"))
        .header("x-service-token", otok.expose())
        .send()
        .await
        .expect("list");
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        v["services"],
        serde_json::json!([]),
        "another vendor's list is empty"
    );
    // Nothing changed.
    let public = server
        .products
        .catalog(Namespace::Public)
        .await
        .expect("public");
    assert!(public
        .iter()
        .any(|r| r.service_id == HELLO_ID && r.revision == "2.0"));

    // §4: `curl -v -X POST …/product/archive -H "Content-Type: application/json" -H
    // "x-service-token: $token" --data "{\"services\":[{\"id\":…,\"revision\":…}]}"` → 204.
    let archive = format!("{url}{PREFIX}/product/archive");
    let data_arg = format!(
        "{{\n  \"services\": [\n    {{\n      \"id\": \"{HELLO_ID}\",\n      \"revision\": \"2.0\"\n    }}\n  ]\n}}"
    );
    let (code, body) = run_curl(&[
        "-X",
        "POST",
        &archive,
        "-H",
        "Content-Type: application/json",
        "-H",
        &tok_header,
        "--data",
        &data_arg,
    ]);
    assert_eq!((code, body.as_str()), (204, ""));
    // Gone from both namespaces; kept (archived) for existing instances.
    let public = server
        .products
        .catalog(Namespace::Public)
        .await
        .expect("public");
    assert!(!public.iter().any(|r| r.service_id == HELLO_ID));
    let test_ns = server
        .products
        .catalog(Namespace::Test)
        .await
        .expect("test");
    assert!(!test_ns
        .iter()
        .any(|r| r.service_id == HELLO_ID && r.revision == "2.0"));
    assert!(test_ns
        .iter()
        .any(|r| r.service_id == HELLO_ID && r.revision == "1.0"));
    let two = server
        .products
        .revision(HELLO_ID, "2.0")
        .await
        .expect("rev")
        .expect("kept");
    assert_eq!(two.state, vitrina_server::products::RevisionState::Archived);
    // An archived revision cannot be published again.
    let r = http
        .post(format!("{url}{PREFIX}/product/publish"))
        .header("x-service-token", &token)
        .json(&serde_json::json!({"id": HELLO_ID, "revision": "2.0"}))
        .send()
        .await
        .expect("publish");
    assert_eq!(r.status(), 404);
    // Archiving a revision that does not exist: 404, and nothing of the list is archived.
    let missing = format!(
        "{{\"services\":[{{\"id\":\"{HELLO_ID}\",\"revision\":\"1.0\"}},{{\"id\":\"b27ee400-b045-43eb-8a7d-db48c280ba16\",\"revision\":\"v.1.1\"}}]}}"
    );
    let (code, _) = run_curl(&[
        "-X",
        "POST",
        &archive,
        "-H",
        "Content-Type: application/json",
        "-H",
        &tok_header,
        "--data",
        &missing,
    ]);
    assert_eq!(code, 404);
    let one = server
        .products
        .revision(HELLO_ID, "1.0")
        .await
        .expect("rev")
        .expect("kept");
    assert_eq!(one.state, vitrina_server::products::RevisionState::Test);
    let (code, _) = run_curl(&[
        "-X",
        "POST",
        &archive,
        "-H",
        "Content-Type: application/json",
        "--data",
        &missing,
    ]);
    assert_eq!(code, 401);

    // The vendor's own list shows every revision with its state.
    let r = http
        .get(format!("{url}{PREFIX}/product"))
        .header("x-service-token", &token)
        .send()
        .await
        .expect("list");
    let v: serde_json::Value = r.json().await.expect("json");
    let states: Vec<(String, String)> = v["services"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|s| s["id"] == HELLO_ID)
        .map(|s| {
            (
                s["revision"].as_str().unwrap_or_default().to_owned(),
                s["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("1.0".to_owned(), "test".to_owned()),
            ("2.0".to_owned(), "archived".to_owned())
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_is_idempotent_and_writes_the_contract_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = start(&data).await;
    let packages = repo().join("examples/packages");
    vitrina_server::demo::setup(&server, &data, &packages)
        .await
        .expect("demo setup");
    let first = creds(&data);
    // The contract's shape.
    for ptr in [
        "/url",
        "/vendor/name",
        "/vendor/service_token",
        "/project/id",
        "/project/name",
        "/project/email",
        "/project/auth_token",
        "/broker/public/username",
        "/broker/public/password",
        "/broker/test/username",
        "/broker/test/password",
        "/cloud/auth_url",
        "/cloud/region",
        "/cloud/username",
        "/cloud/password",
        "/cloud/project_id",
        "/cloud/user_domain_name",
        "/cloud/project_domain_name",
        "/clouds_yaml",
        "/cloud_name",
    ] {
        assert!(
            first
                .pointer(ptr)
                .and_then(|v| v.as_str())
                .is_some_and(|s| !s.is_empty()),
            "{ptr} in {first}"
        );
    }
    assert_eq!(first["url"], server.url.as_str());
    assert_eq!(first["vendor"]["name"], "demo-vendor");
    assert_eq!(first["project"]["name"], "demo");
    assert_eq!(first["project"]["email"], "demo@example.com");
    assert_eq!(first["cloud_name"], "vitrina-demo");
    assert_eq!(
        first["cloud"]["auth_url"],
        format!("{}/cloud/identity/v3", server.url)
    );
    let yaml = std::fs::read_to_string(data.join("clouds.yaml")).expect("clouds.yaml");
    assert!(
        yaml.contains("vitrina-demo")
            && yaml.contains(first["cloud"]["project_id"].as_str().expect("id"))
    );
    let env = std::fs::read_to_string(data.join("demo.env")).expect("demo.env");
    for var in [
        "OS_CLIENT_CONFIG_FILE",
        "OS_CLOUD",
        "VITRINA_CONFIG_SERVICE",
        "VITRINA_CONFIG_TOKEN",
    ] {
        assert!(env.contains(&format!("export {var}=")), "{var}");
    }
    // The tokens work: the project token and a Keystone token of its cloud project.
    let t = &server.tenants;
    let p = t
        .project_by_token(first["project"]["auth_token"].as_str().expect("t"))
        .await
        .expect("project");
    assert_eq!(p.id(), first["project"]["id"].as_str().expect("id"));
    let b = t
        .broker_login(
            "demo-test",
            first["broker"]["test"]["password"].as_str().expect("pw"),
        )
        .await
        .expect("broker");
    assert_eq!(b.namespace(), Namespace::Test);

    // Again on the same server, then after a restart on the same data: same credentials, no
    // duplicate revisions.
    vitrina_server::demo::setup(&server, &data, &packages)
        .await
        .expect("again");
    let second = creds(&data);
    assert_eq!(first, second);
    server.stop().await;
    let server = start(&data).await;
    vitrina_server::demo::setup(&server, &data, &packages)
        .await
        .expect("after restart");
    let third = creds(&data);
    for ptr in [
        "/vendor/service_token",
        "/project/auth_token",
        "/project/id",
        "/broker/public/password",
        "/cloud/password",
        "/cloud/project_id",
    ] {
        assert_eq!(first.pointer(ptr), third.pointer(ptr), "{ptr}");
    }
    let test_ns = server
        .products
        .catalog(Namespace::Test)
        .await
        .expect("test");
    assert_eq!(test_ns.len(), 3);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["demo-credentials.json", "clouds.yaml", "demo.env"] {
            let mode = std::fs::metadata(data.join(f))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
    server.stop().await;
}
