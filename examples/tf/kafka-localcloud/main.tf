# The seed's Kafka manifest (003, appendix C) adapted to localcloud: the same resources and agent
# steps — network, subnet, security group and rules, one data volume per node, the agent through
# `ivkcs_agent_init`, the `ivkcs_agent_status` → `null_resource` → `replace_triggered_by`
# auto-recovery chain, VMs booted from an image onto a volume, the "init ssl" step on node 0 whose
# structured result reaches the "sync kafka" step on every node, port health checks and the node
# addresses as output. What differs, so that it runs without the internet:
#   - the steps are bash scripts instead of ansible playbooks: "init ssl" makes the cluster's CA
#     with openssl; "sync kafka" unpacks it from the first step's result, writes the cluster's
#     host list, and starts a stand-in broker (python3) that answers on the Kafka and ZooKeeper
#     ports at the node's own address with what it knows;
#   - the image is found by name, and the subnet's CIDR and both ports are variables (on
#     localcloud's shared network a test picks a loopback range and free ports);
#   - the port checks probe the node's own address (one check per node) instead of 127.0.0.1,
#     since every node listens on the same port at its own address;
#   - steps' `options` are blocks, and `cwd` is /tmp (there are no playbooks).
#
#   . vitrina-data/demo.env && vitrina tf apply examples/tf/kafka-localcloud --auto-approve
#
# crates/cli/tests/tf_ivkcs.rs (`kafka_from_the_seed_deploys_on_localcloud`) applies it.

# -----variables-----
variable "instance_uuid" {
  type = string
}

variable "sub_network" {
  type    = string
  default = "kafka-net"
}

variable "subnet_cidr" {
  type    = string
  default = "192.168.199.0/24"
}

variable "image_name" {
  type        = string
  default     = "vitrina-process-base"
  description = "kafka image"
}

variable "availability_zone" {
  type    = string
  default = "GZ1"
}

variable "coefficient_kafka" {
  type        = number
  default     = 1
  description = "2*n + 1"
}

variable "kafka_port" {
  type    = number
  default = 9092
}

variable "zookeeper_port" {
  type    = number
  default = 2182
}

variable "volume_type" {
  type        = string
  default     = "ceph-ssd"
  description = "one of: high-iops, ceph-ssd, ceph-hdd"
}

variable "volume_size" {
  type    = number
  default = 4
}

variable "flavor_vcpus" {
  type    = number
  default = 2
}

variable "flavor_ram" {
  type    = number
  default = 2048
}

variable "ssl_ca_password" {
  type        = string
  default     = "SSL_CA_PASSWORD"
  sensitive   = true
  description = "password of the cluster's self-signed root certificate"
}

variable "kafka_max_topics" {
  type    = number
  default = 15
}

variable "kafka_broker_keystore_storepass" {
  type      = string
  default   = "KAFKA_BROKER_KEYSTORE_STOREPASS"
  sensitive = true
}

locals {
  count_vm   = 2 * var.coefficient_kafka + 1
  short_name = substr(var.instance_uuid, 0, 8)
  hosts_name = [for i in range(local.count_vm) : "${local.short_name}-kafka-${i + 1}"]
  ports      = [22, var.zookeeper_port, 2888, 3888, var.kafka_port, 9093, 9091]
  # Files of this deployment on a node ($VITRINA_ROOT is a process VM's own `/`).
  base_dir    = "/var/lib/kafka-demo/${local.short_name}"
  cert_result = "/tmp/kafka_${local.short_name}_cert_result.json"
}

# -----network-----
resource "vkcs_networking_network" "subnet" {
  name = var.sub_network
}

resource "vkcs_networking_subnet" "compute" {
  name       = "kafka_subnet_1"
  network_id = vkcs_networking_network.subnet.id
  cidr       = var.subnet_cidr
}

# -----security group-----
resource "vkcs_networking_secgroup" "secgroup" {
  name        = "${var.instance_uuid}-security_group_for_kafka"
  description = "kafka security group"
  depends_on = [
    ivkcs_agent_init.init,
  ]
}

resource "vkcs_networking_secgroup_rule" "rules" {
  count             = length(local.ports)
  direction         = "ingress"
  port_range_max    = element(local.ports, count.index)
  port_range_min    = element(local.ports, count.index)
  protocol          = "tcp"
  security_group_id = vkcs_networking_secgroup.secgroup.id
  description       = "secgroup_rule_${count.index + 1}"
}

# -----volume-----
resource "vkcs_blockstorage_volume" "kafka_data" {
  count             = local.count_vm
  name              = "${var.instance_uuid}-kafka-${count.index + 1}-storage"
  size              = var.volume_size
  availability_zone = var.availability_zone
  volume_type       = var.volume_type
}

# -----conf system-init-----
resource "ivkcs_agent_init" "init" {
  uuid  = var.instance_uuid
  hosts = local.hosts_name
}

locals {
  ansible = { "hosts" = [for i in range(local.count_vm) : {
    hostname : "${element(local.hosts_name, i)}.novalocal",
    ip : vkcs_compute_instance.compute[i].access_ip_v4,
    id : i + 1
  }] }
}

resource "ivkcs_agent_status" "status_host" {
  count = length(local.hosts_name)
  host  = local.hosts_name[count.index]
  uuid  = ivkcs_agent_init.init.uuid
  depends_on = [
    ivkcs_agent_init.init,
  ]
}

resource "null_resource" "replacement_trigger" {
  count = length(local.hosts_name)
  triggers = {
    status = ivkcs_agent_status.status_host[count.index].id
  }
}

# -----image-----
data "vkcs_compute_flavor" "compute" {
  vcpus = var.flavor_vcpus
  ram   = var.flavor_ram
}

data "vkcs_images_image" "kafka" {
  name = var.image_name
}

resource "vkcs_compute_instance" "compute" {
  count             = local.count_vm
  name              = element(local.hosts_name, count.index)
  flavor_id         = data.vkcs_compute_flavor.compute.id
  security_groups   = [vkcs_networking_secgroup.secgroup.name]
  availability_zone = var.availability_zone
  block_device {
    uuid                  = data.vkcs_images_image.kafka.id
    source_type           = "image"
    destination_type      = "volume"
    volume_type           = "ceph-ssd"
    volume_size           = 10
    boot_index            = 0
    delete_on_termination = true
  }
  user_data = ivkcs_agent_init.init.agent[element(local.hosts_name, count.index)]
  network {
    uuid = vkcs_networking_network.subnet.id
  }
  depends_on = [
    vkcs_networking_network.subnet,
    vkcs_networking_subnet.compute,
    vkcs_blockstorage_volume.kafka_data,
    ivkcs_agent_init.init,
    vkcs_networking_secgroup_rule.rules,
  ]
  stop_before_destroy = true
  timeouts {
    create = "10m"
  }
  lifecycle {
    replace_triggered_by = [
      null_resource.replacement_trigger[count.index]
    ]
  }
}

resource "vkcs_compute_volume_attach" "attached" {
  count       = local.count_vm
  instance_id = element(vkcs_compute_instance.compute[*].id, count.index)
  volume_id   = element(vkcs_blockstorage_volume.kafka_data[*].id, count.index)
  depends_on = [
    vkcs_compute_instance.compute,
  ]
}

# -----conf system-run-----
# Makes the cluster's CA on node 0 (once) and publishes it as the step's structured result.
resource "ivkcs_agent_exec" "initssl" {
  hosts = [local.hosts_name[0]]
  name  = "init ssl"
  uuid  = var.instance_uuid
  step {
    index   = 1
    type    = "bash"
    content = <<-EOT
#!/bin/bash
set -eu
ROOT="$${VITRINA_ROOT:-}"
DIR="$ROOT${local.base_dir}/ssl"
mkdir -p "$DIR"
export SSL_CA_PASSWORD='${var.ssl_ca_password}'
if [ ! -s "$DIR/ca.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -sha256 -days 3650 -subj "/CN=kafka-${local.short_name} CA" \
    -keyout "$DIR/ca.key" -passout env:SSL_CA_PASSWORD -out "$DIR/ca.pem" 2>/dev/null
  chmod 600 "$DIR/ca.key"
fi
ARCHIVE="$(tar -C "$DIR" -czf - ca.pem | base64 -w0)"
FINGERPRINT="$(openssl x509 -in "$DIR/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2)"
# The agent reads the result at the path given; a process VM's agent may read it below its
# root: write both.
for f in "${local.cert_result}" "$ROOT${local.cert_result}"; do
  mkdir -p "$(dirname "$f")"
  printf '{"cert_archive": "%s", "ca_sha256": "%s"}' "$ARCHIVE" "$FINGERPRINT" > "$f"
done
echo "CA $FINGERPRINT"
EOT
    options {
      timeout                = "5m"
      structured_result_file = local.cert_result
      cwd                    = "/tmp"
      attempts               = 1
      once                   = true
    }
  }
  depends_on = [
    vkcs_compute_instance.compute,
    ivkcs_agent_init.init,
  ]
}

data "ivkcs_agent_script_result" "ssl" {
  uuid       = var.instance_uuid
  host       = ivkcs_agent_exec.initssl.hosts[0]
  group      = ivkcs_agent_exec.initssl.name
  index      = 1
  depends_on = [ivkcs_agent_exec.initssl]
}

# Every node: the CA from node 0's result, the cluster's host list, and the broker started.
resource "ivkcs_agent_exec" "sync" {
  hosts = local.hosts_name
  name  = "sync kafka"
  uuid  = var.instance_uuid
  step {
    index   = 1
    type    = "bash"
    content = <<-EOT
#!/bin/bash
set -eu
ROOT="$${VITRINA_ROOT:-}"
BASE="$ROOT${local.base_dir}"
ME="$${VITRINA_HOSTNAME:-$(hostname -s)}"
DIR="$BASE/$ME"
mkdir -p "$DIR"
cat > "$DIR/hosts.json" <<'JSON'
${jsonencode(local.ansible)}
JSON
cat > "$DIR/ssl.json" <<'JSON'
${jsonencode(data.ivkcs_agent_script_result.ssl.structured_result)}
JSON
python3 - "$DIR" <<'PY'
import base64, io, json, sys, tarfile
d = sys.argv[1]
ssl = json.load(open(d + "/ssl.json"))
with tarfile.open(fileobj=io.BytesIO(base64.b64decode(ssl["cert_archive"]))) as t:
    open(d + "/ca.pem", "wb").write(t.extractfile("ca.pem").read())
PY
FINGERPRINT="$(openssl x509 -in "$DIR/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2)"
[ "$FINGERPRINT" = '${data.ivkcs_agent_script_result.ssl.structured_result["ca_sha256"]}' ]
cat > "$DIR/broker.conf" <<CONF
broker.id=$(python3 -c 'import json,sys; print([h["id"] for h in json.load(open(sys.argv[1]))["hosts"] if h["hostname"].split(".")[0] == sys.argv[2]][0])' "$DIR/hosts.json" "$ME")
max.expected.topics=${var.kafka_max_topics}
ssl.ca.sha256=$FINGERPRINT
listeners=${var.kafka_port}
zookeeper=${var.zookeeper_port}
CONF
cat > "$DIR/broker.py" <<'PY'
"""A stand-in broker: answers one JSON line on the Kafka and the ZooKeeper port of this node."""
import json, socketserver, sys, threading
d, me = sys.argv[1], sys.argv[2]
hosts = json.load(open(d + "/hosts.json"))["hosts"]
conf = dict(l.strip().split("=", 1) for l in open(d + "/broker.conf") if "=" in l)
mine = [h for h in hosts if h["hostname"].split(".")[0] == me][0]
info = {"node": me, "id": mine["id"], "ca_sha256": conf["ssl.ca.sha256"],
        "brokers": [h["ip"] for h in hosts]}
class Answer(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall((json.dumps(dict(info, port=self.server.server_address[1])) + "\n").encode())
socketserver.ThreadingTCPServer.allow_reuse_address = True
servers = [socketserver.ThreadingTCPServer((mine["ip"], int(conf[k])), Answer) for k in ("listeners", "zookeeper")]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
PY
if [ -f "$DIR/server.pid" ] && kill -0 "$(cat "$DIR/server.pid")" 2>/dev/null; then
  kill "$(cat "$DIR/server.pid")" || true
  sleep 1
fi
nohup setsid python3 "$DIR/broker.py" "$DIR" "$ME" >>"$DIR/broker.log" 2>&1 </dev/null &
echo $! > "$DIR/server.pid"
IP="$(python3 -c 'import json,sys; print([h["ip"] for h in json.load(open(sys.argv[1]))["hosts"] if h["hostname"].split(".")[0] == sys.argv[2]][0])' "$DIR/hosts.json" "$ME")"
for i in $(seq 1 100); do
  if python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()' "$IP" ${var.kafka_port} 2>/dev/null; then
    echo "broker $ME listens at $IP:${var.kafka_port}"
    exit 0
  fi
  sleep 0.2
done
echo "broker $ME does not listen at $IP:${var.kafka_port}" >&2
cat "$DIR/broker.log" >&2
exit 1
EOT
    options {
      timeout  = "10m"
      cwd      = "/tmp"
      attempts = 1
    }
  }
  depends_on = [
    vkcs_compute_volume_attach.attached,
  ]
}

# -----health check-----
resource "ivkcs_agent_check" "health" {
  count = local.count_vm
  hosts = [local.hosts_name[count.index]]
  uuid  = var.instance_uuid

  port_health {
    host   = vkcs_compute_instance.compute[count.index].access_ip_v4
    port   = var.kafka_port
    period = "1m"
  }

  port_health {
    host   = vkcs_compute_instance.compute[count.index].access_ip_v4
    port   = var.zookeeper_port
    period = "1m"
  }

  depends_on = [
    ivkcs_agent_exec.sync,
  ]

  timeouts {
    create = "5m"
  }
}

# -----outputs-----
output "address" {
  description = "The addresses for hosts"
  value       = vkcs_compute_instance.compute[*].access_ip_v4
}

output "cert" {
  description = "ssl base64 CA cert, in tar.gz"
  value       = data.ivkcs_agent_script_result.ssl.structured_result["cert_archive"]
  sensitive   = true
}

output "ca_sha256" {
  description = "SHA-256 fingerprint of the cluster's CA"
  value       = data.ivkcs_agent_script_result.ssl.structured_result["ca_sha256"]
}

output "hosts" {
  value = local.hosts_name
}

output "image" {
  description = "instance info"
  value       = vkcs_compute_instance.compute
  sensitive   = true
}

output "instance_uuid" {
  value = var.instance_uuid
}
