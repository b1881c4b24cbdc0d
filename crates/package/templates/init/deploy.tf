# The manifest of this plan: a VM booted from a volume made from an image, a data disk, a web
# page started by the agent, and an HTTP health check. Variables named like the plan's options
# receive the values chosen in the wizard.

# -------------------- special variables --------------------
# The deployment's identifier, set by the deployment system.
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

variable "disk_type" {
  type = string
}

variable "disk_size" {
  type = number
}

variable "greeting" {
  type = string
}

variable "log_level" {
  type = string
}

variable "workers" {
  type = number
}

variable "show_host" {
  type = bool
}

# -------------------- local variables --------------------
# The image the boot volume is made from: localcloud's base image by default; on a real cloud,
# your service's image.
variable "image_name" {
  type    = string
  default = "vitrina-process-base"
}

variable "http_port" {
  type    = number
  default = 8080
}

locals {
  short_name = substr(var.instance_uuid, 0, 8)
  host_name  = "${local.short_name}-web"
  # Scripts prefix this with $VITRINA_ROOT, which localcloud's process VMs set to the VM's `/`.
  app_dir    = "/srv/web/${local.short_name}"
  address    = vkcs_compute_instance.web.access_ip_v4
}

# -------------------- network --------------------
data "vkcs_networking_subnet" "subnet" {
  subnet_id = var.subnet
}

resource "vkcs_networking_secgroup" "web" {
  name = "${local.short_name}-web"
  sdn  = data.vkcs_networking_subnet.subnet.sdn
}

resource "vkcs_networking_secgroup_rule" "http" {
  direction         = "ingress"
  protocol          = "tcp"
  port_range_min    = var.http_port
  port_range_max    = var.http_port
  remote_ip_prefix  = "0.0.0.0/0"
  security_group_id = vkcs_networking_secgroup.web.id
}

resource "vkcs_networking_port" "web" {
  name               = "${local.short_name}-web"
  network_id         = data.vkcs_networking_subnet.subnet.network_id
  sdn                = data.vkcs_networking_subnet.subnet.sdn
  security_group_ids = [vkcs_networking_secgroup.web.id]
  fixed_ip {
    subnet_id = var.subnet
  }
}

# -------------------- volumes --------------------
data "vkcs_images_image" "base" {
  name = var.image_name
}

resource "vkcs_blockstorage_volume" "boot" {
  name              = "${local.short_name}-boot"
  image_id          = data.vkcs_images_image.base.id
  volume_type       = "ceph-ssd"
  size              = 10
  availability_zone = var.az
}

resource "vkcs_blockstorage_volume" "data" {
  name              = "${local.short_name}-data"
  volume_type       = var.disk_type
  size              = var.disk_size
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
}

resource "vkcs_compute_instance" "web" {
  name              = local.host_name
  flavor_id         = var.flavor
  availability_zone = var.az
  security_groups   = [vkcs_networking_secgroup.web.name]

  block_device {
    source_type      = "volume"
    destination_type = "volume"
    boot_index       = 0
    uuid             = vkcs_blockstorage_volume.boot.id
  }

  network {
    port = vkcs_networking_port.web.id
  }

  user_data = ivkcs_user_data.init.user_data[0]
}

resource "vkcs_compute_volume_attach" "data" {
  instance_id = vkcs_compute_instance.web.id
  volume_id   = vkcs_blockstorage_volume.data.id
}

# -------------------- agent step: write the page and serve it --------------------
resource "ivkcs_agent_exec" "start" {
  hosts = [local.host_name]
  name  = "start_web"
  uuid  = var.instance_uuid

  step {
    index   = 1
    type    = "bash"
    content = <<-EOT
#!/bin/bash
set -eu
APP="$${VITRINA_ROOT:-}"'${local.app_dir}'
mkdir -p "$APP/www"
cat > "$APP/www/index.html" <<'HTML'
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${var.greeting}</title></head>
<body>
<h1>${var.greeting}</h1>
<p>Served by ${var.show_host ? local.host_name : "vitrina"}.</p>
<p>Log level ${var.log_level}, ${var.workers} worker(s).</p>
</body>
</html>
HTML
if [ -f "$APP/server.pid" ] && kill -0 "$(cat "$APP/server.pid")" 2>/dev/null; then
  kill "$(cat "$APP/server.pid")" || true
  sleep 1
fi
nohup setsid python3 -m http.server --bind '${local.address}' --directory "$APP/www" '${var.http_port}' \
  >>"$APP/server.log" 2>&1 </dev/null &
echo $! > "$APP/server.pid"
EOT
    options {
      timeout  = "5m"
      attempts = 3
    }
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
    path       = "/"
    http_codes = [200]
    period     = "30s"
  }

  depends_on = [
    ivkcs_agent_exec.start,
  ]
}

# -------------------- outputs --------------------
output "url" {
  description = "The page's address"
  value       = "http://${local.address}:${var.http_port}/"
}

output "ssh_private_key" {
  description = "Private SSH key of the VM's default user"
  value       = ivkcs_ssh_keypair.keypair.private_key
  sensitive   = true
}
