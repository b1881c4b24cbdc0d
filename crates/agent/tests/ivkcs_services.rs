//! `ivkcs_s3` and `ivkcs_dns` through the engine against `vitrina serve`'s built-in cloud: the
//! bucket's `access`/`secret` put and get an object with a real S3 client (boto3, SigV4 over
//! HTTP on loopback), another bucket's key cannot read it, and the A record answers real DNS
//! queries (`dig` over UDP on loopback); an update moves the record and destroy removes both.
//! Data `ivkcs_monitoring_user` opens the metrics intake, which keeps the latest points.

mod common;

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

/// The attributes of the first instance of `address` in a state file.
fn attrs(state: &serde_json::Value, ty: &str, name: &str) -> serde_json::Value {
    state["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["type"] == ty && r["name"] == name)
        .map(|r| r["instances"][0]["attributes"].clone())
        .unwrap_or_else(|| panic!("no {ty}.{name} in {state:#}"))
}

const BOTO: &str = r#"
import sys, boto3, botocore
endpoint, bucket, access, secret, other_bucket, other_access, other_secret = sys.argv[1:8]
cfg = botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access,
                  aws_secret_access_key=secret, region_name="us-east-1", config=cfg)
s3.put_object(Bucket=bucket, Key="dir/hello.txt", Body=b"hello from vitrina\n")
s3.put_object(Bucket=bucket, Key="top.bin", Body=bytes(range(256)) * 4096)
got = s3.get_object(Bucket=bucket, Key="dir/hello.txt")["Body"].read()
assert got == b"hello from vitrina\n", got
big = s3.get_object(Bucket=bucket, Key="top.bin")["Body"].read()
assert big == bytes(range(256)) * 4096, len(big)
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
assert keys == ["dir/hello.txt", "top.bin"], keys
listing = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
assert [p["Prefix"] for p in listing["CommonPrefixes"]] == ["dir/"], listing
assert [o["Key"] for o in listing["Contents"]] == ["top.bin"], listing
head = s3.head_object(Bucket=bucket, Key="dir/hello.txt")
assert head["ContentLength"] == 19, head
def code(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    return "no error"
# Another bucket's key opens only its own bucket.
other = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=other_access,
                     aws_secret_access_key=other_secret, region_name="us-east-1", config=cfg)
assert code(lambda: other.get_object(Bucket=bucket, Key="dir/hello.txt")) == "AccessDenied"
other.put_object(Bucket=other_bucket, Key="mine", Body=b"x")
# A wrong secret is refused.
wrong = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access,
                     aws_secret_access_key=secret + "x", region_name="us-east-1", config=cfg)
assert code(lambda: wrong.get_object(Bucket=bucket, Key="dir/hello.txt")) == "SignatureDoesNotMatch"
assert code(lambda: s3.get_object(Bucket=bucket, Key="missing")) == "NoSuchKey"
s3.delete_object(Bucket=bucket, Key="top.bin")
assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["dir/hello.txt"]
print("ok")
"#;

/// A Python with boto3: the peers' venv (`scripts/test.sh` installs it there), else `python3`.
fn python() -> String {
    let mut candidates = Vec::new();
    if let Ok(venv) = std::env::var("VITRINA_PEERS_VENV") {
        candidates.push(format!("{venv}/bin/python"));
    }
    candidates.push("python3".into());
    candidates
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import boto3"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        })
        .expect("this test needs boto3: `python3 -m pip install boto3` (scripts/test.sh installs it into the peers' venv)")
}

fn dig(server: &str, name: &str) -> String {
    let (ip, port) = server.rsplit_once(':').expect("IP:PORT");
    let out = Command::new("dig")
        .args([
            &format!("@{ip}"),
            "-p",
            port,
            "+tries=3",
            "+time=5",
            name,
            "A",
        ])
        .output()
        .expect("dig runs (apt-get install bind9-dnsutils)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_keys_work_with_boto3_and_dns_names_resolve_with_dig() {
    let py = python();
    let h = Harness::start_cloud().await;
    let dir = tempfile::tempdir().expect("tf dir");
    let tf = |ip: &str| {
        format!(
            r#"
locals {{
  uuid = "{d}"
}}

resource "ivkcs_s3" "data" {{
  name = "data-${{local.uuid}}"
}}

resource "ivkcs_s3" "other" {{
  name = "other-${{local.uuid}}"
}}

resource "ivkcs_dns" "node" {{
  name   = "node1.kafka-${{substr(local.uuid, 0, 8)}}"
  domain = "xaas.msk.vkcs.cloud"
  ip     = "{ip}"
}}

data "ivkcs_monitoring_user" "mon" {{}}
"#,
            d = h.d
        )
    };
    std::fs::write(dir.path().join("main.tf"), tf("10.20.30.40")).expect("main.tf");
    let e = engine(&h);
    let state = run(&e, dir.path(), PlanMode::Normal).await;
    let data = attrs(&state, "ivkcs_s3", "data");
    let other = attrs(&state, "ivkcs_s3", "other");
    let node = attrs(&state, "ivkcs_dns", "node");
    let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    assert_eq!(s(&data, "name"), format!("data-{}", h.d));
    assert!(s(&data, "endpoint").ends_with("/cloud/s3"), "{data}");

    let out = Command::new(&py)
        .args(["-c", BOTO])
        .args([
            s(&data, "endpoint"),
            s(&data, "name"),
            s(&data, "access"),
            s(&data, "secret"),
            s(&other, "name"),
            s(&other, "access"),
            s(&other, "secret"),
        ])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "boto3 against the object store failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // DNS over UDP on loopback.
    let fqdn = s(&node, "fqdn");
    assert!(fqdn.starts_with("node1.kafka-") && fqdn.ends_with(".xaas.msk.vkcs.cloud"));
    let server = node["servers"][0]
        .as_str()
        .expect("a DNS server")
        .to_owned();
    let answer = dig(&server, &fqdn);
    assert!(answer.contains("status: NOERROR"), "{answer}");
    assert!(answer.contains("10.20.30.40"), "{answer}");
    let missing = dig(
        &server,
        &format!("node9.{}", fqdn.split_once('.').expect("dot").1),
    );
    assert!(missing.contains("status: NXDOMAIN"), "{missing}");

    // The metrics intake: what Telegraf's `[[outputs.influxdb]]` sends (gzip line protocol,
    // Basic auth with the monitoring user), the latest point per deployment and host kept.
    let mon = attrs(&state, "ivkcs_monitoring_user", "mon");
    let endpoint = s(&mon, "endpoint");
    assert!(endpoint.ends_with("/metrics/v1/write"), "{mon}");
    let gz = |text: &str| {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).expect("gzip");
        e.finish().expect("gzip")
    };
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>, password: String| {
        http.post(format!("{endpoint}?db=telegraf"))
            .basic_auth(s(&mon, "user_id"), Some(password))
            .header("content-encoding", "gzip")
            .header("user-agent", "Telegraf/1.30")
            .body(body)
            .send()
    };
    let d = h.d;
    let lines = format!(
        "cpu,cpu=cpu-total,host=node-1,uuid={d} usage_idle=97.5,usage_user=1.25 2000000000000000000\n\
         mem,host=node-1,uuid={d} used_percent=41.5 2000000000000000000\n\
         cpu,cpu=cpu-total,host=node-2,uuid={d} usage_idle=50 2000000000000000000\n"
    );
    let r = post(gz(&lines), s(&mon, "password")).await.expect("write");
    assert_eq!(r.status().as_u16(), 204, "{:?}", r.text().await);
    // An older point does not replace a newer one; a newer one does.
    let r = post(
        gz(&format!(
            "cpu,cpu=cpu-total,host=node-1,uuid={d} usage_idle=1 1000000000000000000\n\
             mem,host=node-1,uuid={d} used_percent=42.5 3000000000000000000\n"
        )),
        s(&mon, "password"),
    )
    .await
    .expect("write");
    assert_eq!(r.status().as_u16(), 204);
    let wrong = post(gz("cpu,host=x v=1\n"), "nope".into())
        .await
        .expect("write");
    assert_eq!(wrong.status().as_u16(), 401);
    let points = h.engine.metrics(Some("node-1")).await.expect("metrics");
    let get = |m: &str, f: &str| {
        points
            .iter()
            .find(|p| p.measurement == m && p.field == f)
            .map(|p| (p.value.clone(), p.deployment.clone(), p.host.clone()))
    };
    assert_eq!(
        get("cpu", "usage_idle"),
        Some((serde_json::json!(97.5), d.to_string(), "node-1".into())),
        "{points:#?}"
    );
    assert_eq!(
        get("mem", "used_percent").map(|x| x.0),
        Some(serde_json::json!(42.5))
    );
    assert_eq!(
        points.len(),
        3,
        "node-2's point is another host's: {points:#?}"
    );

    // A new address is an update in place.
    std::fs::write(dir.path().join("main.tf"), tf("10.20.30.41")).expect("main.tf");
    run(&e, dir.path(), PlanMode::Normal).await;
    let answer = dig(&server, &fqdn);
    assert!(answer.contains("10.20.30.41"), "{answer}");

    // Destroy removes the record and the buckets (their keys stop working).
    run(&e, dir.path(), PlanMode::Destroy).await;
    let answer = dig(&server, &fqdn);
    assert!(!answer.contains("10.20.30.41"), "{answer}");
    let check = Command::new(&py)
        .args([
            "-c",
            r#"
import sys, boto3, botocore
endpoint, bucket, access, secret = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access,
                  aws_secret_access_key=secret, region_name="us-east-1",
                  config=botocore.config.Config(s3={"addressing_style": "path"}))
try:
    s3.get_object(Bucket=bucket, Key="dir/hello.txt")
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"])
"#,
        ])
        .args([
            s(&data, "endpoint"),
            s(&data, "name"),
            s(&data, "access"),
            s(&data, "secret"),
        ])
        .output()
        .expect("python runs");
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "InvalidAccessKeyId",
        "{check:?}"
    );
    h.stop().await;
}

/// The provider's deprecations reach the engine's diagnostics: planning `ivkcs_agent_init` and
/// `ivkcs_agent_status` warns (`tf/deprecated`) at each block, naming what to use instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deprecated_ivkcs_resources_warn_at_their_blocks() {
    let h = Harness::start().await;
    let dir = tempfile::tempdir().expect("tf dir");
    std::fs::write(
        dir.path().join("main.tf"),
        format!(
            r#"
resource "ivkcs_agent_init" "old" {{
  uuid  = "{d}"
  hosts = ["n1"]
}}

resource "ivkcs_agent_status" "n1" {{
  uuid = "{d}"
  host = "n1"
}}

resource "ivkcs_user_data" "new" {{
  uuid      = "{d}"
  hosts     = ["n1"]
  target_os = "ubuntu2204"
}}
"#,
            d = h.d
        ),
    )
    .expect("main.tf");
    let (config, diags) = Config::load_dir(dir.path());
    assert!(!diags.has_errors(), "{diags:?}");
    let planned = engine(&h)
        .plan(
            &config,
            &VarInputs::default(),
            vitrina_engine::State::default(),
            PlanMode::Normal,
        )
        .await
        .unwrap_or_else(|d| panic!("plan: {d:?}"));
    let warnings: Vec<_> = planned
        .warnings
        .iter()
        .filter(|w| w.code == "tf/deprecated")
        .collect();
    assert_eq!(warnings.len(), 2, "{:?}", planned.warnings);
    let text = format!("{warnings:?}");
    assert!(text.contains("`ivkcs_agent_init` is deprecated"), "{text}");
    assert!(text.contains("ivkcs_user_data"), "{text}");
    assert!(
        text.contains("`ivkcs_agent_status` is deprecated"),
        "{text}"
    );
    // At the block that uses it (its header line).
    let source = std::fs::read_to_string(dir.path().join("main.tf")).expect("main.tf");
    for w in &warnings {
        let start = source[..w.span.range.start]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let end = source[w.span.range.start..]
            .find('\n')
            .map_or(source.len(), |i| w.span.range.start + i);
        let line = &source[start..end];
        assert!(
            line.starts_with("resource \"ivkcs_agent_init\"")
                || line.starts_with("resource \"ivkcs_agent_status\""),
            "{w:?} points at {line:?}"
        );
    }
    h.stop().await;
}
