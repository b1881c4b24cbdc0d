# kv_cluster: 3, 5 or 7 nodes of a tiny replicated key-value store, one data volume per node.
# Node 0 bootstraps the cluster (a structured result with the cluster id and the access token);
# every node then reads that result, writes its configuration, starts, and waits for its peers.

# -------------------- special variables --------------------
variable "instance_uuid" {
  type = string
}

# -------------------- plan options --------------------
variable "nodes" {
  type = number
}

variable "flavor" {
  type = string
}

variable "az" {
  type = string
}

variable "subnet" {
  type = string
}

variable "data_type" {
  type = string
}

variable "data_size" {
  type = number
}

variable "public_reads" {
  type = bool
}

# -------------------- local variables --------------------
# Name of the image the boot volumes are made from: localcloud's base image by default; on a
# real cloud, the service's own image.
variable "image_name" {
  type    = string
  default = "vitrina-process-base"
}

variable "boot_volume_type" {
  type    = string
  default = "ceph-ssd"
}

variable "boot_size" {
  type    = number
  default = 10
}

variable "kv_port" {
  type    = number
  default = 7000
}

locals {
  short_name = substr(var.instance_uuid, 0, 8)
  hosts      = [for i in range(var.nodes) : format("%s-kv-%d", local.short_name, i)]
  # Files of this deployment on each node; a node's data lives in base_dir/<node name>. Scripts
  # prefix it with $VITRINA_ROOT, which localcloud's process VMs set to the VM's own `/`.
  base_dir = "/var/lib/kv_cluster/${local.short_name}"
  ports    = [22, var.kv_port]
}

# -------------------- data --------------------
data "vkcs_networking_subnet" "subnet" {
  subnet_id = var.subnet
}

data "vkcs_images_image" "base" {
  name = var.image_name
}

# -------------------- security group --------------------
resource "vkcs_networking_secgroup" "kv" {
  name        = "${local.short_name}-kv"
  description = "kv_cluster: ssh and the key-value port"
  sdn         = data.vkcs_networking_subnet.subnet.sdn
}

resource "vkcs_networking_secgroup_rule" "ingress" {
  count             = length(local.ports)
  direction         = "ingress"
  protocol          = "tcp"
  port_range_min    = local.ports[count.index]
  port_range_max    = local.ports[count.index]
  remote_ip_prefix  = "0.0.0.0/0"
  security_group_id = vkcs_networking_secgroup.kv.id
  description       = "kv_cluster tcp ${local.ports[count.index]}"
}

# -------------------- network --------------------
resource "vkcs_networking_port" "node" {
  count              = var.nodes
  name               = local.hosts[count.index]
  network_id         = data.vkcs_networking_subnet.subnet.network_id
  sdn                = data.vkcs_networking_subnet.subnet.sdn
  security_group_ids = [vkcs_networking_secgroup.kv.id]
  fixed_ip {
    subnet_id = var.subnet
  }
}

# -------------------- volumes --------------------
resource "vkcs_blockstorage_volume" "boot" {
  count             = var.nodes
  name              = "${local.hosts[count.index]}-boot"
  metadata          = { "sid" : "xaas", "product" : "kv_cluster" }
  image_id          = data.vkcs_images_image.base.id
  volume_type       = var.boot_volume_type
  size              = var.boot_size
  availability_zone = var.az
}

resource "vkcs_blockstorage_volume" "data" {
  count             = var.nodes
  name              = "${local.hosts[count.index]}-data"
  metadata          = { "sid" : "xaas", "product" : "kv_cluster" }
  volume_type       = var.data_type
  size              = var.data_size
  availability_zone = var.az
}

# -------------------- vms --------------------
resource "ivkcs_ssh_keypair" "keypair" {}

resource "ivkcs_user_data" "init" {
  uuid      = var.instance_uuid
  hosts     = local.hosts
  target_os = "debian114"

  ssh_authorized_keys = [
    ivkcs_ssh_keypair.keypair.public_key,
  ]

  # After a reboot, start the node again once the agent steps have installed it.
  user_script {
    name         = "10-kv-cluster"
    content_type = "text/x-shellscript-per-boot"
    content      = <<-EOT
      #!/bin/sh
      if [ -x "$${VITRINA_ROOT:-}${local.base_dir}/run.sh" ]; then
        exec "$${VITRINA_ROOT:-}${local.base_dir}/run.sh"
      fi
      exit 0
    EOT
  }
}

resource "vkcs_compute_instance" "node" {
  count             = var.nodes
  name              = local.hosts[count.index]
  flavor_id         = var.flavor
  availability_zone = var.az
  security_groups   = [vkcs_networking_secgroup.kv.name]
  metadata          = { "sid" : "xaas", "product" : "kv_cluster" }

  block_device {
    source_type      = "volume"
    destination_type = "volume"
    boot_index       = 0
    uuid             = vkcs_blockstorage_volume.boot[count.index].id
  }

  network {
    port = vkcs_networking_port.node[count.index].id
  }

  user_data           = ivkcs_user_data.init.user_data[count.index]
  stop_before_destroy = true

  timeouts {
    create = "10m"
  }
}

resource "vkcs_compute_volume_attach" "data" {
  count       = var.nodes
  instance_id = vkcs_compute_instance.node[count.index].id
  volume_id   = vkcs_blockstorage_volume.data[count.index].id
}

# -------------------- step 1: bootstrap on node 0 --------------------
resource "ivkcs_agent_exec" "bootstrap" {
  hosts = [local.hosts[0]]
  name  = "bootstrap_kv"
  uuid  = var.instance_uuid

  step {
    index   = 1
    type    = "python"
    content = <<-EOT
#!/usr/bin/env python3
"""Creates the cluster identity once and publishes it as this step's structured result."""
import json
import os
import secrets
import uuid

root = os.environ.get("VITRINA_ROOT", "")
state_dir = root + "${local.base_dir}"
state_path = os.path.join(state_dir, "bootstrap.json")
os.makedirs(state_dir, exist_ok=True)
try:
    with open(state_path, encoding="utf-8") as f:
        state = json.load(f)
except FileNotFoundError:
    state = {"cluster_id": str(uuid.uuid4()), "token": secrets.token_hex(24)}
    fd = os.open(state_path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(state_path + ".tmp", state_path)

result = dict(state, members=str(${var.nodes}))
# The agent reads the result file at the path given; a process VM's agent may read it below
# its root instead: write both.
for path in sorted({"${local.bootstrap_result}", root + "${local.bootstrap_result}"}):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(result, f)
print("cluster", state["cluster_id"], "with", result["members"], "members")
EOT
    options {
      timeout                = "2m"
      attempts               = 3
      structured_result_file = local.bootstrap_result
    }
  }

  depends_on = [
    vkcs_compute_instance.node,
    vkcs_compute_volume_attach.data,
  ]
}

locals {
  bootstrap_result = "/tmp/kv_cluster_${local.short_name}_bootstrap.json"
}

data "ivkcs_agent_script_result" "bootstrap" {
  uuid  = var.instance_uuid
  host  = local.hosts[0]
  group = ivkcs_agent_exec.bootstrap.name
  index = 1

  depends_on = [
    ivkcs_agent_exec.bootstrap,
  ]
}

# -------------------- step 2: configure and start every node --------------------
locals {
  cluster = {
    cluster_id   = data.ivkcs_agent_script_result.bootstrap.structured_result["cluster_id"]
    token        = data.ivkcs_agent_script_result.bootstrap.structured_result["token"]
    port         = var.kv_port
    public_reads = var.public_reads
    nodes = [
      for i, host in local.hosts : {
        name    = host
        address = vkcs_compute_instance.node[i].access_ip_v4
        disk    = "/dev/disk/by-id/virtio-${substr(vkcs_blockstorage_volume.data[i].id, 0, 20)}"
      }
    ]
  }

  start = <<-EOT
#!/bin/bash
# Installs the node's files, mounts its data disk, and starts it.
set -eu
BASE="$${VITRINA_ROOT:-}"'${local.base_dir}'
mkdir -p "$BASE"

# Several nodes may share one file system (the localcloud process back-end): write atomically.
install_file() {
  local target="$1" mode="$2" tmp
  tmp="$(mktemp "$target.XXXXXX")"
  cat > "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$target"
}

install_file "$BASE/cluster.json" 600 <<'JSON'
${jsonencode(local.cluster)}
JSON

install_file "$BASE/kv_server.py" 644 <<'PY'
${local.kv_server}
PY

install_file "$BASE/run.sh" 755 <<'SH'
#!/bin/bash
# Starts this machine's node (again): mounts its data disk when present, then the server.
set -eu
BASE="$${VITRINA_ROOT:-}"'${local.base_dir}'
NODE="$(python3 "$BASE/kv_server.py" whoami "$BASE/cluster.json")"
DIR="$BASE/$NODE"
DISK="$(python3 "$BASE/kv_server.py" disk "$BASE/cluster.json" "$NODE")"
mkdir -p "$DIR/data"
if [ -b "$DISK" ]; then
  if ! blkid "$DISK" >/dev/null 2>&1; then
    mkfs.ext4 -q -L kv_data "$DISK"
  fi
  if ! mountpoint -q "$DIR/data"; then
    mount "$DISK" "$DIR/data"
  fi
  if ! grep -q "^$DISK " /etc/fstab; then
    echo "$DISK $DIR/data ext4 defaults,nofail 0 2" >> /etc/fstab
  fi
fi
if [ -f "$DIR/server.pid" ] && kill -0 "$(cat "$DIR/server.pid")" 2>/dev/null; then
  kill "$(cat "$DIR/server.pid")" || true
  sleep 1
fi
nohup setsid python3 "$BASE/kv_server.py" serve "$BASE/cluster.json" "$NODE" "$DIR/data" \
  >>"$DIR/server.log" 2>&1 </dev/null &
echo $! > "$DIR/server.pid"
SH

"$BASE/run.sh"
EOT

  kv_server = <<-EOT
"""kv_cluster node: a tiny replicated key-value store over HTTP (python3 standard library only).

usage: kv_server.py whoami CLUSTER_JSON            print this machine's node name
       kv_server.py disk CLUSTER_JSON NODE          print the node's data disk device path
       kv_server.py serve CLUSTER_JSON NODE DATA_DIR
       kv_server.py wait CLUSTER_JSON [SECONDS]     wait until every node answers as a member
"""
import hmac
import http.server
import json
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

MAX_VALUE = 1024 * 1024


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def node(cluster, name):
    for n in cluster["nodes"]:
        if n["name"] == name:
            return n
    sys.exit("no node named %r in the cluster" % name)


def whoami(cluster):
    names = [n["name"] for n in cluster["nodes"]]
    # localcloud's process VMs say who they are; a real VM's hostname is its instance name.
    host = os.environ.get("VITRINA_HOSTNAME") or socket.gethostname().split(".")[0]
    if host in names:
        return host
    # Otherwise: the one node address this machine can bind.
    mine = []
    for n in cluster["nodes"]:
        try:
            with socket.socket() as s:
                s.bind((n["address"], 0))
        except OSError:
            continue
        mine.append(n["name"])
    if len(mine) == 1:
        return mine[0]
    sys.exit("cannot tell which node this is: hostname %r, bindable node addresses %r" % (host, mine))


class Store:
    def __init__(self, directory):
        self.path = os.path.join(directory, "data.json")
        self.lock = threading.Lock()
        try:
            self.items = load(self.path)
        except FileNotFoundError:
            self.items = {}

    def get(self, key):
        with self.lock:
            return self.items.get(key)

    def count(self):
        with self.lock:
            return len(self.items)

    def put(self, key, value):
        with self.lock:
            self.items[key] = value
            self.flush()

    def delete(self, key):
        with self.lock:
            existed = self.items.pop(key, None) is not None
            self.flush()
            return existed

    def flush(self):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.items, f)
        os.replace(tmp, self.path)


def handler(cluster, me, store):
    token = "Bearer " + cluster["token"]
    peers = [n for n in cluster["nodes"] if n["name"] != me["name"]]

    class Handler(http.server.BaseHTTPRequestHandler):
        def authorized(self):
            return hmac.compare_digest(self.headers.get("Authorization", ""), token)

        def key(self):
            if self.path.startswith("/kv/") and len(self.path) > 4:
                return self.path[4:]
            return None

        def do_GET(self):
            if self.path == "/health":
                status = {"node": me["name"], "cluster_id": cluster["cluster_id"], "keys": store.count()}
                return self.reply(200, status)
            key = self.key()
            if key is None:
                return self.reply(404, {"error": "not found"})
            if not cluster["public_reads"] and not self.authorized():
                return self.reply(401, {"error": "missing or wrong access token"})
            value = store.get(key)
            if value is None:
                return self.reply(404, {"error": "no such key"})
            self.send(200, "text/plain; charset=utf-8", value.encode("utf-8"))

        def do_PUT(self):
            key = self.key()
            if key is None:
                return self.reply(404, {"error": "not found"})
            if not self.authorized():
                return self.reply(401, {"error": "missing or wrong access token"})
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                return self.reply(400, {"error": "bad Content-Length"})
            if length < 0 or length > MAX_VALUE:
                return self.reply(413, {"error": "a value is at most 1 MiB"})
            value = self.rfile.read(length).decode("utf-8", "replace")
            store.put(key, value)
            if not self.headers.get("X-KV-Replica"):
                self.replicate("PUT", key, value.encode("utf-8"))
            self.send(204, "text/plain", b"")

        def do_DELETE(self):
            key = self.key()
            if key is None:
                return self.reply(404, {"error": "not found"})
            if not self.authorized():
                return self.reply(401, {"error": "missing or wrong access token"})
            existed = store.delete(key)
            if not self.headers.get("X-KV-Replica"):
                self.replicate("DELETE", key, None)
            self.send(204 if existed else 404, "text/plain", b"")

        def replicate(self, method, key, body):
            for peer in peers:
                url = "http://%s:%d/kv/%s" % (peer["address"], cluster["port"], key)
                request = urllib.request.Request(url, data=body, method=method)
                request.add_header("Authorization", token)
                request.add_header("X-KV-Replica", "1")
                try:
                    urllib.request.urlopen(request, timeout=3).close()
                except urllib.error.HTTPError as err:
                    if err.code != 404:
                        self.log_message("replication to %s failed: %s", peer["name"], err)
                except OSError as err:
                    self.log_message("replication to %s failed: %s", peer["name"], err)

        def reply(self, code, obj):
            self.send(code, "application/json", json.dumps(obj).encode("utf-8"))

        def send(self, code, content_type, body):
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def wait(cluster, seconds):
    deadline = time.time() + seconds
    pending = list(cluster["nodes"])
    while pending and time.time() < deadline:
        still = []
        for n in pending:
            url = "http://%s:%d/health" % (n["address"], cluster["port"])
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    status = json.load(answer)
                if status.get("cluster_id") != cluster["cluster_id"]:
                    still.append(n)
            except (OSError, ValueError):
                still.append(n)
        pending = still
        if pending:
            time.sleep(2)
    if pending:
        sys.exit("nodes not answering as members: %s" % ", ".join(n["name"] for n in pending))
    print("all %d nodes answer in cluster %s" % (len(cluster["nodes"]), cluster["cluster_id"]))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    command, cluster = sys.argv[1], load(sys.argv[2])
    if command == "whoami":
        print(whoami(cluster))
    elif command == "disk" and len(sys.argv) == 4:
        print(node(cluster, sys.argv[3])["disk"])
    elif command == "serve" and len(sys.argv) == 5:
        me = node(cluster, sys.argv[3])
        store = Store(sys.argv[4])
        server = http.server.ThreadingHTTPServer((me["address"], cluster["port"]), handler(cluster, me, store))
        server.serve_forever()
    elif command == "wait":
        wait(cluster, int(sys.argv[3]) if len(sys.argv) > 3 else 180)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
EOT
}

resource "ivkcs_agent_exec" "start" {
  hosts = local.hosts
  name  = "start_kv"
  uuid  = var.instance_uuid

  step {
    index   = 1
    type    = "bash"
    content = local.start
    options {
      timeout       = "5m"
      attempts      = 3
      attempt_pause = "10s"
    }
  }

  # Every node waits until all of its peers answer with the same cluster id.
  step {
    index   = 2
    type    = "bash"
    content = <<-EOT
      #!/bin/bash
      set -eu
      BASE="$${VITRINA_ROOT:-}"'${local.base_dir}'
      exec python3 "$BASE/kv_server.py" wait "$BASE/cluster.json" 240
    EOT
    options {
      timeout  = "5m"
      attempts = 2
    }
  }

  timeouts {
    create = "15m"
  }

  depends_on = [
    data.ivkcs_agent_script_result.bootstrap,
  ]
}

# -------------------- health checks --------------------
resource "ivkcs_agent_check" "health" {
  count = var.nodes
  hosts = [local.hosts[count.index]]
  uuid  = var.instance_uuid

  port_health {
    host   = vkcs_compute_instance.node[count.index].access_ip_v4
    port   = var.kv_port
    period = "30s"
  }

  timeouts {
    create = "5m"
  }

  depends_on = [
    ivkcs_agent_exec.start,
  ]
}

# -------------------- outputs --------------------
output "addresses" {
  description = "IP addresses of the nodes, node 0 first"
  value       = vkcs_compute_instance.node[*].access_ip_v4
}

output "endpoints" {
  description = "HTTP endpoints of the nodes"
  value       = [for address in vkcs_compute_instance.node[*].access_ip_v4 : "http://${address}:${var.kv_port}"]
}

output "cluster_id" {
  description = "The cluster's identifier"
  value       = data.ivkcs_agent_script_result.bootstrap.structured_result["cluster_id"]
}

output "auth_token" {
  description = "Bearer token for writes (and reads unless public_reads)"
  value       = data.ivkcs_agent_script_result.bootstrap.structured_result["token"]
  sensitive   = true
}

output "ssh_private_key" {
  description = "Private SSH key of the nodes' default user"
  value       = ivkcs_ssh_keypair.keypair.private_key
  sensitive   = true
}
