# hello_web, plan "pro": one VM booted from a volume made from an image, a data disk, a small
# Python 3 web server started by the agent, an HTTP health check.

# -------------------- special variables --------------------
# Deployment identifier, filled in by the deployment system.
variable "instance_uuid" {
  type = string
}

# -------------------- plan options --------------------
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

variable "page_title" {
  type = string
}

# Paid option of this plan: days of access logs kept on the data disk.
variable "log_retention_days" {
  type = number
}

locals {
  log_retention_days = var.log_retention_days
}

# -------------------- local variables --------------------
# Name of the image the boot volume is made from: localcloud's base image by default; on a real
# cloud, the service's own image.
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

variable "http_port" {
  type    = number
  default = 8080
}

locals {
  short_name = substr(var.instance_uuid, 0, 8)
  host_name  = "${local.short_name}-hello-web"
  # Everything the service writes lives here (on the data disk once it is mounted). Scripts
  # prefix it with $VITRINA_ROOT, which localcloud's process VMs set to the VM's own `/`.
  app_dir   = "/srv/hello_web/${local.short_name}"
  ports     = [22, var.http_port]
  address   = vkcs_compute_instance.web.access_ip_v4
  page_url  = "http://${vkcs_compute_instance.web.access_ip_v4}:${var.http_port}/"
  data_disk = "/dev/disk/by-id/virtio-${substr(vkcs_blockstorage_volume.data.id, 0, 20)}"
}

# -------------------- data --------------------
data "vkcs_networking_subnet" "subnet" {
  subnet_id = var.subnet
}

data "vkcs_images_image" "base" {
  name = var.image_name
}

# -------------------- security group --------------------
resource "vkcs_networking_secgroup" "web" {
  name        = "${local.short_name}-hello-web"
  description = "hello_web: ssh and http"
  sdn         = data.vkcs_networking_subnet.subnet.sdn
}

resource "vkcs_networking_secgroup_rule" "ingress" {
  count             = length(local.ports)
  direction         = "ingress"
  protocol          = "tcp"
  port_range_min    = local.ports[count.index]
  port_range_max    = local.ports[count.index]
  remote_ip_prefix  = "0.0.0.0/0"
  security_group_id = vkcs_networking_secgroup.web.id
  description       = "hello_web tcp ${local.ports[count.index]}"
}

# -------------------- network --------------------
resource "vkcs_networking_port" "web" {
  name               = "${local.short_name}-hello-web"
  network_id         = data.vkcs_networking_subnet.subnet.network_id
  sdn                = data.vkcs_networking_subnet.subnet.sdn
  security_group_ids = [vkcs_networking_secgroup.web.id]
  fixed_ip {
    subnet_id = var.subnet
  }
}

# -------------------- volumes --------------------
# The boot volume, made from the image.
resource "vkcs_blockstorage_volume" "boot" {
  name              = "${local.short_name}-hello-web-boot"
  metadata          = { "sid" : "xaas", "product" : "hello_web" }
  image_id          = data.vkcs_images_image.base.id
  volume_type       = var.boot_volume_type
  size              = var.boot_size
  availability_zone = var.az
}

# The data disk chosen in the wizard (data_type + data_size share the tag "data_disk").
resource "vkcs_blockstorage_volume" "data" {
  name              = "${local.short_name}-hello-web-data"
  metadata          = { "sid" : "xaas", "product" : "hello_web" }
  volume_type       = var.data_type
  size              = var.data_size
  availability_zone = var.az
}

# -------------------- vm --------------------
resource "ivkcs_ssh_keypair" "keypair" {}

resource "ivkcs_user_data" "init" {
  uuid      = var.instance_uuid
  hosts     = [local.host_name]
  target_os = "debian114"

  ssh_authorized_keys = [
    ivkcs_ssh_keypair.keypair.public_key,
  ]

  # After a reboot, start the web server again once the agent step has installed it.
  user_script {
    name         = "10-hello-web"
    content_type = "text/x-shellscript-per-boot"
    content      = <<-EOT
      #!/bin/sh
      if [ -x "$${VITRINA_ROOT:-}${local.app_dir}/run.sh" ]; then
        exec "$${VITRINA_ROOT:-}${local.app_dir}/run.sh"
      fi
      exit 0
    EOT
  }
}

resource "vkcs_compute_instance" "web" {
  name              = local.host_name
  flavor_id         = var.flavor
  availability_zone = var.az
  security_groups   = [vkcs_networking_secgroup.web.name]
  metadata          = { "sid" : "xaas", "product" : "hello_web" }

  block_device {
    source_type      = "volume"
    destination_type = "volume"
    boot_index       = 0
    uuid             = vkcs_blockstorage_volume.boot.id
  }

  network {
    port = vkcs_networking_port.web.id
  }

  user_data           = ivkcs_user_data.init.user_data[0]
  stop_before_destroy = true

  timeouts {
    create = "10m"
  }
}

resource "vkcs_compute_volume_attach" "data" {
  instance_id = vkcs_compute_instance.web.id
  volume_id   = vkcs_blockstorage_volume.data.id
}

# -------------------- admin password --------------------
resource "random_password" "admin" {
  length  = 20
  special = false
}

# -------------------- agent steps --------------------
locals {
  # Installs and (re)starts the web server. Runs as root on a plain Debian machine with python3:
  # no package installation, no internet. Only the SHA-256 of the admin password reaches the VM.
  start = <<-EOT
#!/bin/bash
set -eu
APP="$${VITRINA_ROOT:-}"'${local.app_dir}'
DISK='${local.data_disk}'
mkdir -p "$APP"

# Use the data disk when the VM has it (a real VM sees it by its volume id).
if [ -b "$DISK" ]; then
  if ! blkid "$DISK" >/dev/null 2>&1; then
    mkfs.ext4 -q -L hello_web "$DISK"
  fi
  if ! mountpoint -q "$APP"; then
    mount "$DISK" "$APP"
  fi
  if ! grep -q "^$DISK " /etc/fstab; then
    echo "$DISK $APP ext4 defaults,nofail 0 2" >> /etc/fstab
  fi
fi
mkdir -p "$APP/www" "$APP/logs"

cat > "$APP/server.py" <<'PY'
"""hello_web: static page, /healthz, and /admin behind HTTP basic auth."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import sys
import time

ROOT, ADDRESS, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(os.path.join(ROOT, "admin.sha256"), encoding="ascii") as f:
    ADMIN_SHA256 = f.read().strip()
STARTED = time.time()


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=os.path.join(ROOT, "www"), **kwargs)

    def do_GET(self):
        if self.path == "/healthz":
            self.reply(200, "text/plain", b"ok\n")
        elif self.path == "/admin" or self.path.startswith("/admin/"):
            if self.authorized():
                status = {"uptime_seconds": int(time.time() - STARTED), "root": ROOT}
                self.reply(200, "application/json", json.dumps(status).encode())
            else:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="hello_web"')
                self.send_header("Content-Length", "0")
                self.end_headers()
        else:
            super().do_GET()

    def authorized(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        digest = hashlib.sha256(password.encode()).hexdigest()
        return user == "admin" and hmac.compare_digest(digest, ADMIN_SHA256)

    def reply(self, code, content_type, body):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        name = time.strftime("access-%Y-%m-%d.log")
        with open(os.path.join(ROOT, "logs", name), "a", encoding="utf-8") as log:
            log.write("%s %s\n" % (self.address_string(), format % args))


http.server.ThreadingHTTPServer((ADDRESS, PORT), Handler).serve_forever()
PY

printf '%s\n' '${sha256(random_password.admin.result)}' > "$APP/admin.sha256"
chmod 600 "$APP/admin.sha256"

cat > "$APP/www/index.html" <<'HTML'
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${var.page_title}</title></head>
<body>
<h1>${var.page_title}</h1>
<p>Deployment ${var.instance_uuid}, host ${local.host_name}.</p>
<p>Access logs are kept for ${local.log_retention_days} days.</p>
</body>
</html>
HTML

cat > "$APP/run.sh" <<'SH'
#!/bin/bash
# (Re)starts the hello_web server in the background.
APP="$${VITRINA_ROOT:-}"'${local.app_dir}'
if [ -f "$APP/server.pid" ] && kill -0 "$(cat "$APP/server.pid")" 2>/dev/null; then
  kill "$(cat "$APP/server.pid")" || true
  sleep 1
fi
nohup setsid python3 "$APP/server.py" "$APP" '${local.address}' '${var.http_port}' \
  >>"$APP/logs/server.log" 2>&1 </dev/null &
echo $! > "$APP/server.pid"
SH
chmod 755 "$APP/run.sh"

# Drop access logs older than the retention period.
find "$APP/logs" -name 'access-*.log' -mtime +${local.log_retention_days} -delete

"$APP/run.sh"

# Wait until the page answers.
python3 - <<'PY'
import sys
import time
import urllib.request

url = "http://${local.address}:${var.http_port}/healthz"
for _ in range(60):
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(1)
sys.exit("hello_web did not answer on " + url)
PY
EOT
}

resource "ivkcs_agent_exec" "start" {
  hosts = [local.host_name]
  name  = "start_hello_web"
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

  timeouts {
    create = "10m"
  }

  depends_on = [
    vkcs_compute_instance.web,
    vkcs_compute_volume_attach.data,
  ]
}

# -------------------- health check --------------------
resource "ivkcs_agent_check" "health" {
  hosts = [local.host_name]
  uuid  = var.instance_uuid

  http_health {
    protocol   = "http"
    method     = "GET"
    host       = local.address
    port       = var.http_port
    path       = "/healthz"
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

# -------------------- outputs --------------------
output "url" {
  description = "The page's address"
  value       = local.page_url
}

output "admin_user" {
  description = "User name for /admin"
  value       = "admin"
}

output "admin_password" {
  description = "Password for /admin"
  value       = random_password.admin.result
  sensitive   = true
}

output "ssh_private_key" {
  description = "Private SSH key of the VM's default user"
  value       = ivkcs_ssh_keypair.keypair.private_key
  sensitive   = true
}
