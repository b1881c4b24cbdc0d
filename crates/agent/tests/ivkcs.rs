//! The `ivkcs` provider through the engine, against the real server and real agents: apply waits
//! for every host, a structured result flows from one step to the next, a failed step fails the
//! resource with its output tail, checks wait for health, and `ivkcs_user_data` installs and
//! starts the agent from the config service.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
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

/// Plans and applies `dir`; `Err` holds the rendered diagnostics.
async fn apply(engine: &Engine, dir: &Path) -> Result<vitrina_engine::State, String> {
    let (config, diags) = Config::load_dir(dir);
    if diags.has_errors() {
        return Err(format!("{diags:?}"));
    }
    let state_path = dir.join("vitrina.tfstate");
    let prior = read_state(&state_path).map_err(|e| e.to_string())?;
    let planned = engine
        .plan(&config, &VarInputs::default(), prior, PlanMode::Normal)
        .await
        .map_err(|d| format!("{d:?}"))?;
    let file = StateFile::lock(&state_path).map_err(|e| e.to_string())?;
    let sync = Arc::new(SyncState::new(planned.prior.clone(), Some(file)));
    let report = engine.apply(&config, &planned, sync).await;
    if !report.is_success() {
        return Err(format!("{:?}", report.diagnostics));
    }
    read_state(&state_path).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_waits_for_every_host_and_a_structured_result_reaches_the_next_step() {
    let h = Harness::start().await;
    let w = h.work_dir();
    let _a = h.agent("node-a").await;
    let _b = h.agent("node-b").await;
    let port: u16 = h
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let dir = tempfile::tempdir().expect("tf dir");
    let result_file = w.join("bootstrap.json");
    std::fs::write(
        dir.path().join("main.tf"),
        format!(
            r#"
locals {{
  uuid  = "{d}"
  hosts = ["node-a", "node-b"]
}}

resource "ivkcs_agent_exec" "bootstrap" {{
  uuid  = local.uuid
  name  = "bootstrap cluster"
  hosts = [local.hosts[0]]
  step {{
    index   = 1
    type    = "python"
    content = <<-EOT
      import json
      json.dump({{"cluster_id": "c-42", "token": "t-secret"}}, open("{result}", "w"))
    EOT
    options {{
      structured_result_file = "{result}"
      attempts               = 1
    }}
  }}
}}

data "ivkcs_agent_script_result" "bootstrap" {{
  uuid       = local.uuid
  host       = ivkcs_agent_exec.bootstrap.hosts[0]
  group      = ivkcs_agent_exec.bootstrap.name
  index      = 1
  depends_on = [ivkcs_agent_exec.bootstrap]
}}

resource "ivkcs_agent_exec" "join" {{
  uuid  = local.uuid
  name  = "join"
  hosts = local.hosts
  step {{
    index   = 1
    type    = "bash"
    content = "echo ${{data.ivkcs_agent_script_result.bootstrap.structured_result["cluster_id"]}} > {w}/joined-$VITRINA_HOSTNAME"
  }}
  timeouts {{
    create = "2m"
  }}
}}

resource "ivkcs_agent_check" "health" {{
  uuid  = local.uuid
  hosts = local.hosts
  port_health {{
    host   = "127.0.0.1"
    port   = {port}
    period = "1s"
  }}
  depends_on = [ivkcs_agent_exec.join]
}}

output "cluster_id" {{
  value = data.ivkcs_agent_script_result.bootstrap.structured_result["cluster_id"]
}}
"#,
            d = h.d,
            result = result_file.display(),
            w = w.display(),
        ),
    )
    .expect("main.tf");
    let engine = engine(&h);
    let started = Instant::now();
    let state = apply(&engine, dir.path()).await.expect("apply");
    eprintln!("apply with 2 agents: {:?}", started.elapsed());
    for host in ["node-a", "node-b"] {
        let text = std::fs::read_to_string(w.join(format!("joined-{host}"))).expect("joined file");
        assert_eq!(text.trim(), "c-42", "{host}");
    }
    assert_eq!(state.outputs["cluster_id"].value, serde_json::json!("c-42"));
    let checks = h
        .engine
        .check_results(&h.d, &{
            let mut id = String::new();
            for (addr, rs) in &state.resources {
                if addr.to_string() == "ivkcs_agent_check.health" {
                    for inst in rs.instances.values() {
                        if let Some(o) = &inst.current {
                            id = o
                                .attributes
                                .get("id")
                                .as_str()
                                .unwrap_or_default()
                                .to_owned();
                        }
                    }
                }
            }
            id
        })
        .await
        .expect("check results");
    assert!(checks.hosts.iter().all(|h| h.healthy), "{checks:#?}");
    // A second apply changes nothing and runs nothing again.
    let before = std::fs::metadata(w.join("joined-node-a"))
        .expect("meta")
        .modified()
        .expect("mtime");
    apply(&engine, dir.path()).await.expect("second apply");
    let after = std::fs::metadata(w.join("joined-node-a"))
        .expect("meta")
        .modified()
        .expect("mtime");
    assert_eq!(before, after);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_fails_the_resource_with_its_output_tail() {
    let h = Harness::start().await;
    let _a = h.agent("n1").await;
    let dir = tempfile::tempdir().expect("tf dir");
    std::fs::write(
        dir.path().join("main.tf"),
        format!(
            r#"
resource "ivkcs_agent_exec" "broken" {{
  uuid  = "{d}"
  name  = "broken"
  hosts = ["n1"]
  step {{
    index   = 1
    type    = "bash"
    content = "echo working-on-it; echo the-disk-is-full >&2; exit 7"
    options {{
      attempts = 1
    }}
  }}
}}
"#,
            d = h.d
        ),
    )
    .expect("main.tf");
    let err = apply(&engine(&h), dir.path())
        .await
        .expect_err("the step fails");
    assert!(err.contains("the-disk-is-full"), "{err}");
    assert!(err.contains("working-on-it"), "{err}");
    assert!(err.contains("exit code 7"), "{err}");
    assert!(err.contains("`n1`"), "{err}");
    h.stop().await;
}

/// The `text/x-shellscript-per-boot` part of a cloud-config MIME document, decoded.
fn per_boot_part(mime: &str) -> String {
    let boundary = mime
        .split("boundary=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("boundary");
    for part in mime.split(&format!("--{boundary}")) {
        if part.contains("Content-Type: text/x-shellscript-per-boot") {
            let body: String = part.split("\n\n").nth(1).expect("body").lines().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(body.trim())
                .expect("base64");
            return String::from_utf8(bytes).expect("utf-8");
        }
    }
    panic!("no per-boot part in {mime}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_data_installs_and_starts_the_agent_and_keys_pass_ssh_keygen() {
    // The server hands out the agent binary built with these tests.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = vitrina_server::ServerConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        dir.path().join("server"),
    );
    cfg.heartbeat = Duration::from_millis(500);
    cfg.agent_binary = Some(env!("CARGO_BIN_EXE_vitrina-agent").into());
    let server = vitrina_server::Server::start(cfg).await.expect("server");
    let engine_client =
        vitrina_agent_api::EngineClient::new(&server.url, server.engine_token.clone())
            .expect("client");
    let d = vitrina_common::DeploymentId::new_v4();
    let tf = dir.path().join("tf");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(
        tf.join("main.tf"),
        format!(
            r##"
resource "ivkcs_ssh_keypair" "kp" {{}}

resource "ivkcs_user_data" "init" {{
  uuid                = "{d}"
  hosts               = ["vm1"]
  target_os           = "debian114"
  ssh_authorized_keys = [ivkcs_ssh_keypair.kp.public_key]
  packages {{
    name    = "curl"
    version = "7.88.1-10"
  }}
  user_script {{
    name         = "20-second"
    content_type = "text/x-shellscript-per-instance"
    content      = "#!/bin/sh\necho two"
  }}
}}

output "user_data" {{
  value     = ivkcs_user_data.init.user_data[0]
  sensitive = true
}}

output "private_key" {{
  value     = ivkcs_ssh_keypair.kp.private_key
  sensitive = true
}}

output "public_key" {{
  value = ivkcs_ssh_keypair.kp.public_key
}}
"##
        ),
    )
    .expect("main.tf");
    let mut registry = ProviderRegistry::with_builtins();
    registry.register(
        "ivkcs",
        Arc::new(IvkcsProvider::with_service(
            server.url.clone(),
            server.engine_token.clone(),
        )),
    );
    let state = apply(&Engine::new(registry), &tf).await.expect("apply");
    let user_data = state.outputs["user_data"]
        .value
        .as_str()
        .expect("user_data")
        .to_owned();
    assert!(user_data.contains("text/cloud-config"));
    assert!(
        user_data.contains("Content-Type: text/x-shellscript\n")
            || user_data.contains("Content-Type: text/x-shellscript;")
    );

    // The key pair: `ssh-keygen -y` derives the public key from the private one.
    let key = dir.path().join("id_rsa");
    vitrina_common::fs::write_atomic(
        &key,
        state.outputs["private_key"]
            .value
            .as_str()
            .expect("key")
            .as_bytes(),
        Some(0o600),
    )
    .expect("key file");
    let derived = std::process::Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&key)
        .output()
        .expect("ssh-keygen runs (apt-get install openssh-client)");
    assert!(
        derived.status.success(),
        "{}",
        String::from_utf8_lossy(&derived.stderr)
    );
    let public = state.outputs["public_key"]
        .value
        .as_str()
        .expect("public key");
    assert_eq!(
        String::from_utf8_lossy(&derived.stdout).trim(),
        public.trim()
    );

    // Run the install part as a process VM's boot would, in its own root.
    let root = dir.path().join("vm-root");
    std::fs::create_dir_all(&root).expect("root");
    let script = per_boot_part(&user_data);
    // In its own process group, as localcloud boots a VM; the group is the VM.
    use std::os::unix::process::CommandExt as _;
    let boot = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("VITRINA_ROOT", &root)
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bash runs");
    let vm_group = boot.id();
    let out = boot.wait_with_output().expect("boot script ends");
    assert!(
        out.status.success(),
        "install failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let registered = loop {
        match engine_client.host(&d, &"vm1".parse().expect("host")).await {
            Ok(v) if v.registered => break true,
            _ if Instant::now() > deadline => break false,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    // Stop the "VM": its process group holds the supervisor and the agent.
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{vm_group}")])
        .status();
    assert!(
        registered,
        "the agent never registered; log:\n{}",
        std::fs::read_to_string(root.join("var/lib/vitrina-agent/agent.log")).unwrap_or_default()
    );
    let token_mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(root.join("etc/vitrina-agent/token"))
            .expect("token")
            .permissions()
            .mode()
    };
    assert_eq!(
        token_mode & 0o077,
        0,
        "the token file is readable by others"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_the_environment_reaches_no_log_no_error_and_no_plain_column() {
    let h = Harness::start().await;
    let agent = h.agent("n1").await;
    let marker = "hunter2-S3CRET-4711";
    let dir = tempfile::tempdir().expect("tf dir");
    std::fs::write(
        dir.path().join("main.tf"),
        format!(
            r#"
variable "password" {{
  type      = string
  default   = "{marker}"
  sensitive = true
}}

resource "ivkcs_agent_exec" "leaky" {{
  uuid  = "{d}"
  name  = "leaky"
  hosts = ["n1"]
  step {{
    index   = 1
    type    = "bash"
    content = "echo \"password is $PASSWORD\"; echo \"$PASSWORD\" >&2; exit 4"
    options {{
      environment_variables = ["PASSWORD=${{var.password}}"]
      attempts              = 1
    }}
  }}
}}
"#,
            d = h.d
        ),
    )
    .expect("main.tf");
    let err = apply(&engine(&h), dir.path())
        .await
        .expect_err("the step fails");
    assert!(err.contains("password is <redacted>"), "{err}");
    assert!(!err.contains(marker), "the error shows the secret: {err}");
    assert!(
        !agent.log_text().contains(marker),
        "the agent log shows the secret"
    );
    let server_dir = h.dir.path().join("server");
    let mut h = h;
    if let Some(server) = h.server.take() {
        server.stop().await;
    }
    for entry in std::fs::read_dir(&server_dir).expect("server dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read");
            assert!(
                !String::from_utf8_lossy(&bytes).contains(marker),
                "{} holds the secret in plain text",
                path.display()
            );
        }
    }
}

/// `address → action` of every change a plan of `dir` proposes.
async fn plan_actions(engine: &Engine, dir: &Path) -> Vec<(String, String)> {
    let (config, diags) = Config::load_dir(dir);
    assert!(!diags.has_errors(), "{diags:?}");
    let prior = read_state(&dir.join("vitrina.tfstate")).expect("state");
    let planned = engine
        .plan(&config, &VarInputs::default(), prior, PlanMode::Normal)
        .await
        .unwrap_or_else(|d| panic!("plan: {d:?}"));
    planned
        .plan
        .changes
        .iter()
        .filter(|c| {
            !matches!(
                c.action,
                vitrina_engine::Action::NoOp | vitrina_engine::Action::Read
            )
        })
        .map(|c| (c.addr.to_string(), c.action.as_str().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_agent_fails_only_its_host_and_the_next_plan_replaces_only_it() {
    let h = Harness::start_with(Duration::from_secs(4)).await;
    let mut a = h.agent("node-a").await;
    let _b = h.agent("node-b").await;
    for host_name in ["node-a", "node-b"] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !h
            .engine
            .host(&h.d, &host(host_name))
            .await
            .map(|v| v.registered)
            .unwrap_or(false)
        {
            assert!(Instant::now() < deadline, "{host_name} did not register");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let dir = tempfile::tempdir().expect("tf dir");
    // The seed's chain: ivkcs_agent_status → null_resource → replace_triggered_by.
    std::fs::write(
        dir.path().join("main.tf"),
        format!(
            r#"
locals {{
  hosts = ["node-a", "node-b"]
}}

resource "ivkcs_agent_status" "status_host" {{
  count = length(local.hosts)
  uuid  = "{d}"
  host  = local.hosts[count.index]
}}

resource "null_resource" "replacement_trigger" {{
  count = length(local.hosts)
  triggers = {{
    status = ivkcs_agent_status.status_host[count.index].id
  }}
}}

resource "null_resource" "vm" {{
  count = length(local.hosts)
  lifecycle {{
    replace_triggered_by = [null_resource.replacement_trigger[count.index]]
  }}
}}
"#,
            d = h.d
        ),
    )
    .expect("main.tf");
    let engine = engine(&h);
    apply(&engine, dir.path()).await.expect("first apply");
    assert!(
        plan_actions(&engine, dir.path()).await.is_empty(),
        "a healthy deployment plans nothing"
    );

    // Only node-a's agent dies; node-b keeps beating.
    a.kill();
    let deadline = Instant::now() + Duration::from_secs(60);
    let reason = loop {
        let va = h.engine.host(&h.d, &host("node-a")).await.expect("node-a");
        let vb = h.engine.host(&h.d, &host("node-b")).await.expect("node-b");
        assert!(vb.failed.is_none(), "node-b was marked failed: {vb:?}");
        if let Some(reason) = va.failed {
            break reason;
        }
        assert!(Instant::now() < deadline, "node-a was never marked failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reason.contains("heartbeat"), "{reason}");
    let actions = plan_actions(&engine, dir.path()).await;
    let replaced: Vec<&str> = actions
        .iter()
        .filter(|(_, action)| action == "replace")
        .map(|(addr, _)| addr.as_str())
        .collect();
    assert!(replaced.contains(&"null_resource.vm[0]"), "{actions:?}");
    assert!(
        !replaced.iter().any(|a| a.ends_with("[1]")),
        "node-b must stay: {actions:?}"
    );
    apply(&engine, dir.path()).await.expect("replacing apply");

    // The replacement host's agent comes up: no further replacement. A new machine boots with
    // an empty /run, so its agent starts clean (not as a restart after a death).
    let base = a.state.parent().expect("agent folder").to_owned();
    let _ = std::fs::remove_dir_all(base.join("run"));
    let _a2 = h.spawn_agent(&base);
    let deadline = Instant::now() + Duration::from_secs(60);
    while h
        .engine
        .host(&h.d, &host("node-a"))
        .await
        .expect("node-a")
        .failed
        .is_some()
    {
        assert!(Instant::now() < deadline, "node-a never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let actions = plan_actions(&engine, dir.path()).await;
    assert!(
        !actions.iter().any(|(_, action)| action == "replace"),
        "a recovered host is not replaced again: {actions:?}"
    );
    h.stop().await;
}
