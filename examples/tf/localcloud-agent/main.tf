# A VM on localcloud whose user data installs vitrina-agent from the config service of
# `vitrina serve`; two agent steps (the first's structured result feeds the second) and a health
# check. Run it against `vitrina serve --demo`:
#
#   . vitrina-data/demo.env && vitrina tf apply examples/tf/localcloud-agent --auto-approve
#
# The seed's auto-recovery chain replaces the VM when the config service finds its host failed
# (`ivkcs_agent_status` → `null_resource` → `replace_triggered_by`).
#
# crates/cli/tests/tf_ivkcs.rs applies, breaks, recovers and destroys it as it is.
variable "instance_uuid" {
  type = string
}

locals {
  host = "agent-demo-${substr(var.instance_uuid, 0, 8)}"
}

data "vkcs_compute_flavor" "basic" {
  name = "Basic-1-2-20"
}

data "vkcs_images_image" "base" {
  name = "vitrina-process-base"
}

resource "vkcs_networking_network" "net" {
  name = "agent-demo-net"
}

resource "vkcs_networking_subnet" "sub" {
  name       = "agent-demo-subnet"
  network_id = vkcs_networking_network.net.id
  cidr       = "192.168.77.0/24"
}

# The VM reaches the config service on the machine through a router to the external network,
# as a VM of a real cloud reaches a public URL.
data "vkcs_networking_network" "extnet" {
  name = "ext-net"
}

resource "vkcs_networking_router" "router" {
  name                = "agent-demo-router"
  external_network_id = data.vkcs_networking_network.extnet.id
}

resource "vkcs_networking_router_interface" "sub" {
  router_id = vkcs_networking_router.router.id
  subnet_id = vkcs_networking_subnet.sub.id
}

resource "ivkcs_ssh_keypair" "kp" {}

resource "ivkcs_user_data" "init" {
  uuid                = var.instance_uuid
  hosts               = [local.host]
  target_os           = "debian114"
  ssh_authorized_keys = [ivkcs_ssh_keypair.kp.public_key]
}

resource "ivkcs_agent_status" "vm" {
  uuid       = var.instance_uuid
  host       = local.host
  depends_on = [ivkcs_user_data.init]
}

resource "null_resource" "replacement_trigger" {
  triggers = {
    status = ivkcs_agent_status.vm.id
  }
}

resource "vkcs_compute_instance" "vm" {
  name              = local.host
  flavor_id         = data.vkcs_compute_flavor.basic.id
  image_id          = data.vkcs_images_image.base.id
  availability_zone = "GZ1"
  user_data         = ivkcs_user_data.init.user_data[0]
  network {
    uuid = vkcs_networking_network.net.id
  }
  depends_on = [vkcs_networking_router_interface.sub]
  lifecycle {
    replace_triggered_by = [null_resource.replacement_trigger]
  }
}

resource "ivkcs_agent_exec" "bootstrap" {
  uuid  = var.instance_uuid
  name  = "bootstrap"
  hosts = [local.host]
  step {
    index   = 1
    type    = "bash"
    content = <<-EOT
      #!/bin/bash
      set -eu
      mkdir -p "$VITRINA_ROOT/srv/demo"
      printf '{"cluster_id": "%s", "host": "%s"}' "$(cat /proc/sys/kernel/random/uuid)" "$VITRINA_HOSTNAME" \
        > "$VITRINA_ROOT/srv/demo/bootstrap.json"
    EOT
    options {
      structured_result_file = "/srv/demo/bootstrap.json"
      attempts               = 2
      attempt_pause          = "1s"
    }
  }
  timeouts {
    create = "5m"
  }
  depends_on = [vkcs_compute_instance.vm]
}

data "ivkcs_agent_script_result" "bootstrap" {
  uuid       = var.instance_uuid
  host       = local.host
  group      = ivkcs_agent_exec.bootstrap.name
  index      = 1
  depends_on = [ivkcs_agent_exec.bootstrap]
}

resource "ivkcs_agent_exec" "configure" {
  uuid  = var.instance_uuid
  name  = "configure"
  hosts = [local.host]
  step {
    index   = 1
    type    = "python"
    content = <<-EOT
      import os
      root = os.environ.get("VITRINA_ROOT", "")
      with open(root + "/srv/demo/cluster", "w") as f:
          f.write("${data.ivkcs_agent_script_result.bootstrap.structured_result["cluster_id"]}\n")
    EOT
  }
  timeouts {
    create = "5m"
  }
}

resource "ivkcs_agent_check" "health" {
  uuid  = var.instance_uuid
  hosts = [local.host]
  script_health {
    type   = "bash"
    script = "test -s \"$VITRINA_ROOT/srv/demo/cluster\""
    period = "5s"
  }
  depends_on = [ivkcs_agent_exec.configure]
}

output "cluster_id" {
  value = data.ivkcs_agent_script_result.bootstrap.structured_result["cluster_id"]
}

output "host" {
  value = local.host
}

output "instance_uuid" {
  value = var.instance_uuid
}

output "vm_ip" {
  value = vkcs_compute_instance.vm.access_ip_v4
}
