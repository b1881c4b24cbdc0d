# The grafana package's manifest (examples/packages/grafana, plans basic and business) adapted to
# localcloud: the same resources and agent steps — the backup bucket (`ivkcs_s3`), security group
# and rules, a port on the chosen subnet, an SSH key pair, the agent through `ivkcs_user_data`, a
# VM booted from a volume made from an image, a data volume attached to it, a floating IP and an
# `ivkcs_dns` name for the external placement, the "start_grafana" step and the HTTP health
# check on /api/health. What differs, so that it runs without the internet:
#   - the step is a bash script instead of `ansible-playbook start.yml` (the VK image's
#     playbooks): it writes grafana.ini from the same settings the playbook gets as extra vars
#     (domain, root URL, backup bucket and keys, the admin user) and starts a stand-in Grafana
#     (python3, which localcloud's image has) that answers Grafana's /api/health, its login page
#     and /api/user for the admin;
#   - the image is found by name, and the HTTP port is a variable (on localcloud's shared network a
#     test picks a free port); the external placement serves plain HTTP at the DNS name (there is
#     no ACME server for lego without the internet);
#   - the admin password is made here (`random_password`) and given as a sensitive output; only its
#     SHA-256 reaches the VM;
#   - steps' `options` are blocks, and `cwd` is /tmp (there are no playbooks).
#
#   . vitrina-data/demo.env && vitrina tf apply examples/tf/grafana-localcloud --var ds-subnet=ID
#
# crates/cli/tests/tf_ivkcs_apps.rs applies it with both placements
# (`grafana_deploys_on_localcloud_and_answers_at_its_url`, internal on the shared network, and
# `grafana_external_answers_at_its_dns_name_over_a_floating_ip`, on an isolated network).

# --------------------variables--------------------
variable "instance_uuid" {
  type = string
}

variable "email" {
  type    = string
  default = "user@example.com"
}

# internal | external
variable "grafana_placement" {
  type    = string
  default = "internal"
}

# s3 | none
variable "backup_style" {
  type    = string
  default = "s3"
}

variable "ds-az" {
  type    = string
  default = "GZ1"
}

variable "ds-flavor" {
  type    = string
  default = "Basic-1-2-20"
}

variable "ds-subnet" {
  type = string
}

variable "root_type" {
  type    = string
  default = "ceph-ssd"
}

variable "root_size" {
  type    = number
  default = 10
}

variable "data_type" {
  type    = string
  default = "ceph-ssd"
}

variable "data_size" {
  type    = number
  default = 1
}

variable "image_name" {
  type        = string
  default     = "vitrina-process-base"
  description = "grafana image"
}

variable "grafana_port" {
  type    = number
  default = 80
}

variable "admin_user" {
  type    = string
  default = "admin"
}

locals {
  short_name = substr(var.instance_uuid, 0, 8)
  hosts_name = "${local.short_name}-grafana"
  ports      = [22, var.grafana_port, 443]
  # Everything the service writes ($VITRINA_ROOT is a process VM's own `/`).
  grafana_dir = "/var/lib/grafana-demo/${local.short_name}"
  data_disk   = "/dev/disk/by-id/virtio-${substr(vkcs_blockstorage_volume.grafana_data.id, 0, 20)}"
}

# ---------------------data------------------------
data "vkcs_networking_subnet" "subnet" {
  subnet_id = var.ds-subnet
}

data "vkcs_images_image" "grafana" {
  name = var.image_name
}

# --------------------backup-----------------------
resource "ivkcs_s3" "s3_backup" {
  count = var.backup_style == "s3" ? 1 : 0
  name  = "${local.hosts_name}-backup"
}

# --------------------security group---------------
resource "vkcs_networking_secgroup" "secgroup" {
  name = "${local.short_name}-grafana"
  sdn  = data.vkcs_networking_subnet.subnet.sdn
}

resource "vkcs_networking_secgroup_rule" "rules" {
  count             = length(local.ports)
  direction         = "ingress"
  port_range_max    = element(local.ports, count.index)
  port_range_min    = element(local.ports, count.index)
  protocol          = "tcp"
  remote_ip_prefix  = "0.0.0.0/0"
  security_group_id = vkcs_networking_secgroup.secgroup.id
  description       = "rule_tcp_${element(local.ports, count.index)}"
}

# --------------------network----------------------
resource "vkcs_networking_port" "ports" {
  name           = "${local.short_name}-grafana"
  admin_state_up = "true"
  network_id     = data.vkcs_networking_subnet.subnet.network_id
  sdn            = data.vkcs_networking_subnet.subnet.sdn
  security_group_ids = [
    vkcs_networking_secgroup.secgroup.id
  ]
  fixed_ip {
    subnet_id = var.ds-subnet
  }
}

# --------------------keypair----------------------
resource "ivkcs_ssh_keypair" "keypair" {}

# --------------------------vm---------------------
resource "ivkcs_user_data" "user_data" {
  uuid      = var.instance_uuid
  hosts     = [local.hosts_name]
  target_os = "almalinux9"

  ssh_authorized_keys = [
    ivkcs_ssh_keypair.keypair.public_key,
  ]

  # After a reboot, start Grafana again once the agent step has installed it.
  user_script {
    name         = "10-grafana"
    content_type = "text/x-shellscript-per-boot"
    content      = <<-EOT
      #!/bin/sh
      if [ -x "$${VITRINA_ROOT:-}${local.grafana_dir}/run.sh" ]; then
        exec "$${VITRINA_ROOT:-}${local.grafana_dir}/run.sh"
      fi
      exit 0
    EOT
  }
}

resource "vkcs_compute_instance" "grafana" {
  name              = local.hosts_name
  flavor_id         = var.ds-flavor
  security_groups   = [vkcs_networking_secgroup.secgroup.name]
  availability_zone = var.ds-az
  metadata          = { "sid" : "xaas", "product" : "grafana" }

  block_device {
    source_type      = "volume"
    destination_type = "volume"
    boot_index       = 0
    uuid             = vkcs_blockstorage_volume.boot.id
  }

  user_data = ivkcs_user_data.user_data.user_data[0]
  network {
    port = vkcs_networking_port.ports.id
  }
  stop_before_destroy = true
  timeouts {
    create = "10m"
  }
}

# --------------------volume-----------------------
resource "vkcs_blockstorage_volume" "boot" {
  name              = "${local.short_name}-grafana-boot"
  metadata          = { "sid" : "xaas", "product" : "grafana" }
  image_id          = data.vkcs_images_image.grafana.id
  volume_type       = var.root_type
  size              = var.root_size
  availability_zone = var.ds-az
}

resource "vkcs_blockstorage_volume" "grafana_data" {
  name              = "${local.short_name}-grafana-data"
  metadata          = { "sid" : "xaas", "product" : "grafana" }
  size              = var.data_size
  availability_zone = var.ds-az
  volume_type       = var.data_type
}

resource "vkcs_compute_volume_attach" "attached" {
  instance_id = vkcs_compute_instance.grafana.id
  volume_id   = vkcs_blockstorage_volume.grafana_data.id
}

# -----------------------external------------------
resource "vkcs_networking_floatingip" "fips" {
  count = var.grafana_placement == "external" ? 1 : 0
  pool  = data.vkcs_networking_subnet.subnet.sdn == "neutron" ? "ext-net" : "internet"
}

resource "vkcs_compute_floatingip_associate" "fip" {
  count       = length(vkcs_networking_floatingip.fips)
  floating_ip = vkcs_networking_floatingip.fips[count.index].address
  instance_id = vkcs_compute_instance.grafana.id
}

resource "ivkcs_dns" "grafana" {
  count  = length(vkcs_networking_floatingip.fips)
  name   = "grafana-${local.short_name}"
  domain = "xaas.msk.vkcs.cloud"
  ip     = vkcs_networking_floatingip.fips[count.index].address
}

# --------------------admin password---------------
resource "random_password" "admin" {
  length  = 20
  special = false
}

# --------------------agent-run--------------------
locals {
  grafana_domain   = var.grafana_placement == "external" ? "${ivkcs_dns.grafana[0].name}.${ivkcs_dns.grafana[0].domain}" : vkcs_compute_instance.grafana.access_ip_v4
  grafana_root_url = "http://${local.grafana_domain}:${var.grafana_port}"
  # The stand-in listens on the VM's own address (a floating IP reaches it there).
  listen_address = vkcs_compute_instance.grafana.access_ip_v4

  # The playbook's settings, as start.yml gets them in --extra-vars.
  settings = {
    lego_enabled        = false
    lego_email          = var.email
    backup_enabled      = var.backup_style == "s3"
    backup_bucket_name  = try(ivkcs_s3.s3_backup[0].name, "n/a")
    backup_endpoint     = try(ivkcs_s3.s3_backup[0].vm_endpoint, "n/a")
    grafana_domain      = local.grafana_domain
    grafana_root_url    = local.grafana_root_url
    grafana_http_addr   = local.listen_address
    grafana_http_port   = var.grafana_port
    admin_user          = var.admin_user
    admin_password_hash = sha256(random_password.admin.result)
  }

  start = <<-EOT
#!/bin/bash
set -eu
G="$${VITRINA_ROOT:-}"'${local.grafana_dir}'
DISK='${local.data_disk}'
mkdir -p "$G"

# The data disk holds Grafana's data when the VM has it as a block device (a real VM).
if [ -b "$DISK" ]; then
  if ! blkid "$DISK" >/dev/null 2>&1; then
    mkfs.ext4 -q -L grafana "$DISK"
  fi
  if ! mountpoint -q "$G"; then
    mount "$DISK" "$G"
  fi
fi
mkdir -p "$G/data" "$G/logs"
umask 077

cat > "$G/settings.json" <<'JSON'
${jsonencode(local.settings)}
JSON

# The backup keys, for the backup job only (0600).
cat > "$G/backup.env" <<'ENV'
BACKUP_ACCESS_KEY='${try(ivkcs_s3.s3_backup[0].access, "n/a")}'
BACKUP_SECRET_KEY='${try(ivkcs_s3.s3_backup[0].secret, "n/a")}'
ENV

python3 - "$G" <<'PY'
import json, sys
g = sys.argv[1]
s = json.load(open(g + "/settings.json"))
with open(g + "/grafana.ini", "w") as f:
    f.write("[server]\nprotocol = http\nhttp_addr = %s\nhttp_port = %s\ndomain = %s\nroot_url = %s\n\n"
            % (s["grafana_http_addr"], s["grafana_http_port"], s["grafana_domain"], s["grafana_root_url"]))
    f.write("[paths]\ndata = %s/data\nlogs = %s/logs\n\n" % (g, g))
    f.write("[security]\nadmin_user = %s\n" % s["admin_user"])
PY

cat > "$G/grafana.py" <<'PY'
"""A stand-in for grafana-server: Grafana's health API, a login page and /api/user."""
import base64, configparser, hashlib, hmac, http.server, json, os, sys, time

g = sys.argv[1]
ini = configparser.ConfigParser()
ini.read(os.path.join(g, "grafana.ini"))
settings = json.load(open(os.path.join(g, "settings.json")))
ADMIN = ini["security"]["admin_user"]
STARTED = time.time()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/api/health":
            self.reply(200, "application/json",
                       {"commit": "vitrina-stand-in", "database": "ok", "version": "stand-in"})
        elif path in ("/", "/login"):
            page = ("<!doctype html><html><head><title>Grafana</title></head><body>"
                    "<h1>Grafana</h1><p>Welcome to Grafana at %s.</p>"
                    "<p>Sign in as <b>%s</b>.</p></body></html>"
                    % (ini["server"]["root_url"], ADMIN))
            self.reply(200, "text/html; charset=utf-8", page)
        elif path == "/api/user":
            if self.authorized():
                self.reply(200, "application/json",
                           {"login": ADMIN, "isGrafanaAdmin": True,
                            "uptimeSeconds": int(time.time() - STARTED)})
            else:
                self.reply(401, "application/json", {"message": "Unauthorized"})
        elif path == "/api/frontend/settings":
            self.reply(200, "application/json",
                       {"appUrl": ini["server"]["root_url"] + "/",
                        "backup": {"enabled": settings["backup_enabled"],
                                   "bucket": settings["backup_bucket_name"]}})
        else:
            self.reply(404, "application/json", {"message": "Not found"})

    def authorized(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        digest = hashlib.sha256(password.encode()).hexdigest()
        return user == ADMIN and hmac.compare_digest(digest, settings["admin_password_hash"])

    def reply(self, code, content_type, body):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        with open(os.path.join(g, "logs", "access.log"), "a", encoding="utf-8") as log:
            log.write("%s %s\n" % (self.address_string(), format % args))


http.server.ThreadingHTTPServer((ini["server"]["http_addr"], int(ini["server"]["http_port"])),
                                Handler).serve_forever()
PY

cat > "$G/run.sh" <<'SH'
#!/bin/bash
# (Re)starts the stand-in Grafana in the background.
G="$${VITRINA_ROOT:-}"'${local.grafana_dir}'
if [ -f "$G/server.pid" ] && kill -0 "$(cat "$G/server.pid")" 2>/dev/null; then
  kill "$(cat "$G/server.pid")" || true
  sleep 1
fi
nohup setsid python3 "$G/grafana.py" "$G" >>"$G/logs/grafana.log" 2>&1 </dev/null &
echo $! > "$G/server.pid"
SH
chmod 755 "$G/run.sh"
"$G/run.sh"

python3 - <<'PY'
import sys, time, urllib.request
url = "http://${local.listen_address}:${var.grafana_port}/api/health"
for _ in range(120):
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                print("grafana answers at " + url)
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.5)
sys.exit("grafana did not answer on " + url)
PY
EOT
}

resource "ivkcs_agent_exec" "start" {
  hosts = [local.hosts_name]
  name  = "start_grafana"
  uuid  = var.instance_uuid
  step {
    index   = 1
    type    = "bash"
    content = local.start
    options {
      timeout  = "20m"
      cwd      = "/tmp"
      attempts = 1
    }
  }

  timeouts {
    create = "10m"
  }

  depends_on = [
    vkcs_compute_instance.grafana,
    vkcs_compute_volume_attach.attached,
  ]
}

# --------------------health check-----------------
resource "ivkcs_agent_check" "health" {
  hosts = [local.hosts_name]
  uuid  = var.instance_uuid

  # The VM's own address: a VM does not reach its own floating IP (no hairpin NAT on localcloud).
  http_health {
    method     = "GET"
    protocol   = "http"
    host       = local.listen_address
    port       = var.grafana_port
    path       = "/api/health"
    http_codes = [200]
    period     = "30s"
  }

  timeouts {
    create = "5m"
  }

  depends_on = [
    ivkcs_agent_exec.start,
  ]
}

# --------------------outputs----------------------
output "keypair" {
  value     = ivkcs_ssh_keypair.keypair.private_key
  sensitive = true
}

output "grafana_url" {
  value = local.grafana_root_url
}

output "admin_user" {
  value = var.admin_user
}

output "admin_password" {
  value     = random_password.admin.result
  sensitive = true
}

output "s3_backup" {
  value = try(ivkcs_s3.s3_backup[0].id, "n/a")
}

output "floating_ip" {
  value = try(vkcs_networking_floatingip.fips[0].address, "n/a")
}

# Where the external placement's name is served (the machine's and the VMs' DNS server).
output "dns_servers" {
  value = try(ivkcs_dns.grafana[0].servers, [])
}
