//! An `ivkcs_dns` name resolves from inside a VM: `vitrina serve --demo` with localcloud's
//! isolated network serves the records on the machine's ext-net address (port 53), and a VM on a
//! subnet without `dns_nameservers` gets that server as its resolver, as a cloud's DHCP hands out
//! its own. The VM's agent step resolves the name with the C library (`getent hosts`) and Python
//! (`socket.getaddrinfo`) and reports both as its structured result; after the record moves, the
//! VM resolves the new address (`vitrina localcloud exec`).

mod ivkcs_support;
use ivkcs_support::*;

use std::time::{Duration, Instant};

fn manifest(ip_expr: &str) -> String {
    format!(
        r#"
variable "instance_uuid" {{
  type = string
}}

variable "network" {{
  type = string
}}

locals {{
  host = "resolver-${{substr(var.instance_uuid, 0, 8)}}"
}}

data "vkcs_images_image" "base" {{
  name = "vitrina-process-base"
}}

resource "ivkcs_user_data" "init" {{
  uuid      = var.instance_uuid
  hosts     = [local.host]
  target_os = "debian114"
}}

resource "vkcs_compute_instance" "vm" {{
  name              = local.host
  flavor_id         = "Basic-1-2-20"
  image_id          = data.vkcs_images_image.base.id
  availability_zone = "GZ1"
  user_data         = ivkcs_user_data.init.user_data[0]
  network {{
    uuid = var.network
  }}
}}

resource "ivkcs_dns" "db" {{
  name   = "db-${{substr(var.instance_uuid, 0, 8)}}"
  domain = "xaas.msk.vkcs.cloud"
  ip     = {ip_expr}
}}

resource "ivkcs_agent_exec" "resolve" {{
  uuid  = var.instance_uuid
  name  = "resolve"
  hosts = [local.host]
  step {{
    index   = 1
    type    = "bash"
    content = <<-EOT
      #!/bin/bash
      set -eu
      NAME='${{ivkcs_dns.db.name}}.${{ivkcs_dns.db.domain}}'
      for i in $(seq 1 60); do
        if BY_LIBC="$(getent ahostsv4 "$NAME" | awk 'NR == 1 {{ print $1 }}')" && [ -n "$BY_LIBC" ]; then
          break
        fi
        sleep 0.5
      done
      BY_PYTHON="$(python3 -c 'import socket, sys; print(socket.getaddrinfo(sys.argv[1], 80, socket.AF_INET)[0][4][0])' "$NAME")"
      printf '{{"libc": "%s", "python": "%s", "resolv_conf": "%s"}}' "$BY_LIBC" "$BY_PYTHON" \
        "$(awk '/^nameserver/ {{ print $2 }}' /etc/resolv.conf | tr '\n' ' ')" > /tmp/resolved.json
    EOT
    options {{
      structured_result_file = "/tmp/resolved.json"
      attempts               = 1
    }}
  }}
  timeouts {{
    create = "5m"
  }}
  depends_on = [vkcs_compute_instance.vm]
}}

data "ivkcs_agent_script_result" "resolve" {{
  uuid       = var.instance_uuid
  host       = local.host
  group      = ivkcs_agent_exec.resolve.name
  index      = 1
  depends_on = [ivkcs_agent_exec.resolve]
}}

output "host" {{
  value = local.host
}}

output "fqdn" {{
  value = "${{ivkcs_dns.db.name}}.${{ivkcs_dns.db.domain}}"
}}

output "dns_servers" {{
  value = ivkcs_dns.db.servers
}}

output "vm_ip" {{
  value = vkcs_compute_instance.vm.access_ip_v4
}}

output "resolved" {{
  value = data.ivkcs_agent_script_result.resolve.structured_result
}}
"#
    )
}

/// Runs `command` in the VM `host` (`vitrina localcloud exec`) and returns its stdout.
fn exec_in_vm(data: &std::path::Path, host: &str, command: &str) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vitrina"))
        .args(["localcloud", "exec", "--data"])
        .arg(data.join("cloud"))
        .args([host, "--", "sh", "-c", command])
        .output()
        .expect("vitrina localcloud exec");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn an_ivkcs_dns_name_resolves_from_inside_a_vm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (serve, env) = serve_with(&data, "5m", "auto");
    let net = ProjectNet::apply(&env, dir.path(), "dns", "192.168.91.0/24", true);
    let tf = dir.path().join("resolve");
    std::fs::create_dir_all(&tf).expect("tf dir");
    std::fs::write(
        tf.join("main.tf"),
        manifest("vkcs_compute_instance.vm.access_ip_v4"),
    )
    .expect("main.tf");
    let vars = vec![format!("network={}", net.network)];
    tf_must(&env, "apply", &tf, &vars, &[]);
    let outputs = tf_outputs(&env, &tf);
    let vm_ip = outputs["vm_ip"]["value"]
        .as_str()
        .expect("vm_ip")
        .to_owned();
    let fqdn = outputs["fqdn"]["value"].as_str().expect("fqdn").to_owned();
    let host = outputs["host"]["value"].as_str().expect("host").to_owned();
    let resolved = &outputs["resolved"]["value"];
    assert!(vm_ip.starts_with("192.168.91."), "{outputs}");
    // Inside the VM, both the C library and Python found the record's address.
    assert_eq!(
        resolved["libc"].as_str(),
        Some(vm_ip.as_str()),
        "{resolved}"
    );
    assert_eq!(
        resolved["python"].as_str(),
        Some(vm_ip.as_str()),
        "{resolved}"
    );
    // Through the resolver localcloud handed to the VM: the ext-net gateway, not the machine's.
    let for_vms: Vec<String> = outputs["dns_servers"]["value"]
        .as_array()
        .expect("dns_servers")
        .iter()
        .filter_map(|s| s.as_str()?.strip_suffix(":53").map(str::to_owned))
        .collect();
    assert_eq!(for_vms.len(), 1, "{outputs}");
    let resolvers: Vec<&str> = resolved["resolv_conf"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(resolvers, [for_vms[0].as_str()], "{resolved}");

    // The record moves; the VM sees the new address at once (the server answers from its records).
    std::fs::write(tf.join("main.tf"), manifest("\"10.20.30.40\"")).expect("main.tf");
    tf_must(&env, "apply", &tf, &vars, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out) = exec_in_vm(&data, &host, &format!("getent ahostsv4 {fqdn}"));
        if ok
            && out
                .lines()
                .next()
                .is_some_and(|l| l.starts_with("10.20.30.40 "))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the VM never resolved the moved record: {out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // A name the server does not hold does not resolve.
    let (ok, out) = exec_in_vm(&data, &host, &format!("getent ahostsv4 missing-{fqdn}"));
    assert!(!ok && out.trim().is_empty(), "{out}");

    tf_must(&env, "destroy", &tf, &vars, &[]);
    net.destroy(&env);
    drop(serve);
}
