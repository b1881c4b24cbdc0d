# A VM on localcloud (or any OpenStack cloud through OS_CLOUD) using every vkcs_* resource and
# data source vitrina's provider has. The README walks through it; crates/cli/tests/tf_vkcs.rs
# applies, re-plans and destroys it as it is.
variable "user_data" {
  type    = string
  default = "#!/bin/sh\necho hello from vitrina > hello.txt\n"
}

data "vkcs_compute_flavor" "basic" {
  name = "Basic-1-2-20"
}

data "vkcs_images_image" "base" {
  name = "vitrina-process-base"
}

data "vkcs_networking_network" "extnet" {
  name     = "ext-net"
  external = true
}

resource "vkcs_networking_network" "net" {
  name           = "vitrina-net"
  admin_state_up = "true"
}

resource "vkcs_networking_subnet" "sub" {
  name            = "vitrina-subnet"
  network_id      = vkcs_networking_network.net.id
  cidr            = "192.168.199.0/24"
  dns_nameservers = ["8.8.8.8"]
}

data "vkcs_networking_subnet" "sub" {
  subnet_id = vkcs_networking_subnet.sub.id
}

resource "vkcs_networking_router" "router" {
  name                = "vitrina-router"
  external_network_id = data.vkcs_networking_network.extnet.id
}

resource "vkcs_networking_router_interface" "ri" {
  router_id = vkcs_networking_router.router.id
  subnet_id = vkcs_networking_subnet.sub.id
}

resource "vkcs_networking_secgroup" "sg" {
  name        = "vitrina-sg"
  description = "vitrina acceptance"
}

resource "vkcs_networking_secgroup_rule" "ssh" {
  direction         = "ingress"
  protocol          = "tcp"
  port_range_min    = 22
  port_range_max    = 22
  remote_ip_prefix  = "0.0.0.0/0"
  security_group_id = vkcs_networking_secgroup.sg.id
}

resource "vkcs_networking_port" "vm" {
  name               = "vitrina-vm-port"
  network_id         = vkcs_networking_network.net.id
  security_group_ids = [vkcs_networking_secgroup.sg.id]
  fixed_ip {
    subnet_id = vkcs_networking_subnet.sub.id
  }
}

resource "vkcs_networking_port" "extra" {
  name       = "vitrina-extra-port"
  network_id = vkcs_networking_network.net.id
  fixed_ip {
    subnet_id = vkcs_networking_subnet.sub.id
  }
}

resource "vkcs_compute_keypair" "kp" {
  name = "vitrina-kp"
}

resource "vkcs_blockstorage_volume" "boot" {
  name              = "vitrina-boot"
  size              = 10
  volume_type       = "ceph-ssd"
  availability_zone = "GZ1"
  image_id          = data.vkcs_images_image.base.id
}

resource "vkcs_blockstorage_volume" "data" {
  name              = "vitrina-data"
  size              = 1
  volume_type       = "ceph-hdd"
  availability_zone = "GZ1"
  metadata = {
    purpose = "data"
  }
}

resource "vkcs_compute_instance" "vm" {
  name               = "vitrina-vm"
  flavor_id          = data.vkcs_compute_flavor.basic.id
  key_pair           = vkcs_compute_keypair.kp.name
  availability_zone  = "GZ1"
  security_group_ids = [vkcs_networking_secgroup.sg.id]
  user_data          = var.user_data
  metadata = {
    sid = "xaas"
  }
  block_device {
    source_type           = "volume"
    uuid                  = vkcs_blockstorage_volume.boot.id
    destination_type      = "volume"
    delete_on_termination = false
  }
  network {
    port = vkcs_networking_port.vm.id
  }
  depends_on = [vkcs_networking_router_interface.ri]
}

resource "vkcs_compute_volume_attach" "data" {
  instance_id = vkcs_compute_instance.vm.id
  volume_id   = vkcs_blockstorage_volume.data.id
}

resource "vkcs_networking_floatingip" "vm" {
  pool = data.vkcs_networking_network.extnet.name
}

resource "vkcs_compute_floatingip_associate" "vm" {
  floating_ip           = vkcs_networking_floatingip.vm.address
  instance_id           = vkcs_compute_instance.vm.id
  wait_until_associated = true
}

resource "vkcs_networking_floatingip" "extra" {
  pool = "ext-net"
}

resource "vkcs_networking_floatingip_associate" "extra" {
  floating_ip = vkcs_networking_floatingip.extra.address
  port_id     = vkcs_networking_port.extra.id
  depends_on  = [vkcs_networking_router_interface.ri]
}

output "vm_ip" {
  value = vkcs_compute_instance.vm.access_ip_v4
}

output "fip" {
  value = vkcs_networking_floatingip.vm.address
}

output "subnet_cidr" {
  value = data.vkcs_networking_subnet.sub.cidr
}

output "private_key" {
  value     = vkcs_compute_keypair.kp.private_key
  sensitive = true
}
