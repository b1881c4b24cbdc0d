//! `vitrina cloud` (seed 002) against `localcloud` over real HTTP: each test starts its own
//! localcloud on 127.0.0.1 with a fresh data folder, writes the seed's `.env` and an SSH public
//! key into a work folder, and runs the `vitrina` binary there. The project's state is checked
//! with the OpenStack client.
//!
//! Runs as root in localcloud's isolated network mode when it can (VMs in namespaces it
//! removes again), else in its shared mode.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use vitrina_localcloud::{Config, Faults, LocalCloud, ServerCreateFault};
use vitrina_openstack::wire::image::{ImageCreate, PatchOp};
use vitrina_openstack::wire::volume::VolumeCreate;
use vitrina_openstack::{Client, CloudConfig, ConfigSource};

/// One localcloud, a work folder with `.env` and a key, and a client of the demo project.
struct Lc {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    work: PathBuf,
    cloud: LocalCloud,
    client: Client,
    /// With a proxy in front: bytes of the next image download to let through, 0 for all.
    cut: Option<Arc<AtomicU64>>,
}

impl Drop for Lc {
    fn drop(&mut self) {
        // Kills the VMs and removes this localcloud's namespaces, even after a failure.
        vitrina_localcloud::kill_instances(&self.dir.path().join("instances"));
        let _ = self.cloud.shutdown();
    }
}

#[derive(Default)]
struct Options {
    faults: Faults,
    proxy: bool,
}

impl Lc {
    fn start() -> Lc {
        Lc::start_with(Options::default())
    }

    fn start_with(options: Options) -> Lc {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("work dir");
        let (cloud, cut) = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let upstream = listener.local_addr().expect("addr");
            let (base, cut) = if options.proxy {
                let front = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind proxy");
                let base = format!("http://{}", front.local_addr().expect("addr"));
                let cut = Arc::new(AtomicU64::new(0));
                tokio::spawn(proxy(front, upstream, cut.clone()));
                (base, Some(cut))
            } else {
                (format!("http://{upstream}"), None)
            };
            let mut config = Config::new(dir.path(), base);
            config.faults = options.faults.clone();
            let cloud = LocalCloud::open(config).await.unwrap_or_else(|e| {
                vitrina_localcloud::kill_instances(&dir.path().join("instances"));
                panic!("open localcloud: {e}")
            });
            cloud.write_client_files().expect("client files");
            let router = cloud.router();
            tokio::spawn(async move {
                let _ = axum::serve(listener, router).await;
            });
            (cloud, cut)
        });
        let mut env = BTreeMap::new();
        env.insert(
            "OS_CLIENT_CONFIG_FILE".to_owned(),
            dir.path().join("clouds.yaml").display().to_string(),
        );
        env.insert("OS_CLOUD".to_owned(), "localcloud".to_owned());
        let config = CloudConfig::load_from(
            &ConfigSource {
                env,
                cwd: work.clone(),
                home: None,
            },
            None,
        )
        .expect("cloud config");
        let client = Client::new(config).expect("client");
        let lc = Lc {
            rt,
            dir,
            work,
            cloud,
            client,
            cut,
        };
        lc.write_env(&[]);
        std::fs::write(lc.work.join("id_ed25519.pub"), public_key(7)).expect("key");
        lc
    }

    /// The seed's `.env`, pointed at this localcloud, with `extra` lines appended.
    fn write_env(&self, extra: &[&str]) {
        let flavors = self
            .rt
            .block_on(self.client.compute().list_flavors(&vec![]))
            .expect("flavors");
        let id = |name: &str| {
            flavors
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.id.clone())
                .expect("flavor")
        };
        let mut text = format!(
            "# === VM ===\nGPU_FLAVOR_ID={}              # from `vitrina cloud flavors`\nSETUP_FLAVOR_ID={}\nDISK_SIZE_GB=1\n\n# === Network ===\nNETWORK_NAME=net\nSUBNET_CIDR=192.168.0.0/24\nEXTERNAL_NETWORK=ext-net\nROUTER_NAME=router\nALLOCATE_FLOATING_IP=true\nSECURITY_GROUP=default\n\n# === SSH ===\nSSH_KEY_FILE=./id_ed25519.pub\nSSH_KEY_NAME=ansible-key\n",
            id("GPU-A100-8-64-100"),
            id("Basic-1-2-20")
        );
        for line in extra {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(self.work.join(".env"), text).expect(".env");
    }

    /// Runs `vitrina cloud ARGS` in the work folder, no terminal.
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitrina"));
        cmd.arg("cloud").args(args).current_dir(&self.work);
        for (k, _) in std::env::vars() {
            if k.starts_with("OS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("OS_CLIENT_CONFIG_FILE", self.dir.path().join("clouds.yaml"))
            .env("OS_CLOUD", "localcloud")
            .env("HOME", &self.work)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run vitrina")
    }

    /// Runs with `--json`; expects exit 0 and returns the JSON.
    fn ok(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run(&a);
        assert!(
            out.status.success(),
            "vitrina cloud {args:?} failed ({:?}):\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "vitrina cloud {args:?}: not JSON ({e}):\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs, expects exit `code`, returns stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "vitrina cloud {args:?}: expected exit {code}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// What the project holds: VM names, disks (name → status), image names of the project,
    /// floating IPs, ports not owned by the network itself (router, DHCP).
    fn holdings(&self) -> Holdings {
        self.rt.block_on(async {
            let token = self.client.token().await.expect("token");
            let project = token.project_id().unwrap_or_default().to_owned();
            let vms = self
                .client
                .compute()
                .list_servers(&vec![])
                .await
                .expect("servers")
                .into_iter()
                .map(|s| s.name)
                .collect();
            let disks = self
                .client
                .block_storage()
                .list_volumes(&vec![])
                .await
                .expect("volumes")
                .into_iter()
                .map(|v| (v.name.unwrap_or_default(), v.status))
                .collect();
            let images = self
                .client
                .image()
                .list_images(&vec![])
                .await
                .expect("images")
                .into_iter()
                .filter(|i| i.owner.as_deref() == Some(project.as_str()))
                .filter_map(|i| i.name)
                .collect();
            let floating_ips = self
                .client
                .network()
                .list_floating_ips(&vec![])
                .await
                .expect("floating ips")
                .len();
            let vm_ports = self
                .client
                .network()
                .list_ports(&vec![])
                .await
                .expect("ports")
                .into_iter()
                .filter(|p| !p.device_owner.starts_with("network:"))
                .count();
            Holdings {
                vms,
                disks,
                images,
                floating_ips,
                vm_ports,
            }
        })
    }

    /// `network setup`, then a 4 KiB image named `img` uploaded from the file `name`.
    fn network_and_image(&self, name: &str, seed: u32) {
        self.ok(&["network", "setup"]);
        let file = self.data_file(name, 4096, seed);
        self.ok(&[
            "image",
            "upload",
            "--file",
            file.to_str().expect("utf-8"),
            "--name",
            "img",
        ]);
    }

    /// A file of `len` bytes that no other test writes.
    fn data_file(&self, name: &str, len: usize, seed: u32) -> PathBuf {
        let mut x = seed.wrapping_mul(2_654_435_761).max(1);
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        let path = self.work.join(name);
        std::fs::write(&path, data).expect("data file");
        path
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Holdings {
    vms: Vec<String>,
    disks: Vec<(String, String)>,
    images: Vec<String>,
    floating_ips: usize,
    vm_ports: usize,
}

/// An OpenSSH ed25519 public key line whose key bytes are all `byte`.
fn public_key(byte: u8) -> String {
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend_from_slice(&[byte; 32]);
    format!(
        "ssh-ed25519 {} test@vitrina\n",
        base64::engine::general_purpose::STANDARD.encode(&blob)
    )
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` in {v}"))
        .to_owned()
}

/// A TCP proxy to `upstream`. When `cut` holds N > 0, the next whole-image download
/// (`GET …/file` without `Range`) gets N bytes of its answer and then the connection drops.
async fn proxy(front: tokio::net::TcpListener, upstream: SocketAddr, cut: Arc<AtomicU64>) {
    while let Ok((client, _)) = front.accept().await {
        let cut = cut.clone();
        tokio::spawn(async move {
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                return;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let sent = Arc::new(AtomicU64::new(0));
            let limit = Arc::new(AtomicU64::new(u64::MAX));
            let (sent_a, limit_a) = (sent.clone(), limit.clone());
            let up = tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match cr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let chunk = buf.get(..n).unwrap_or_default();
                    let head = String::from_utf8_lossy(chunk).to_ascii_lowercase();
                    if head.starts_with("get /image/v2/images/")
                        && head.contains("/file http/1.1")
                        && !head.contains("\r\nrange:")
                    {
                        let n = cut.swap(0, Ordering::SeqCst);
                        if n > 0 {
                            limit_a.store(sent_a.load(Ordering::SeqCst) + n, Ordering::SeqCst);
                        }
                    }
                    if sw.write_all(chunk).await.is_err() {
                        break;
                    }
                }
                let _ = sw.shutdown().await;
            });
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match sr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let s = sent.load(Ordering::SeqCst);
                let l = limit.load(Ordering::SeqCst);
                let allowed = usize::try_from(l.saturating_sub(s))
                    .unwrap_or(usize::MAX)
                    .min(n);
                if cw
                    .write_all(buf.get(..allowed).unwrap_or_default())
                    .await
                    .is_err()
                {
                    break;
                }
                sent.fetch_add(u64::try_from(allowed).unwrap_or(u64::MAX), Ordering::SeqCst);
                if allowed < n {
                    break; // cut: drop the connection mid-body
                }
            }
            up.abort();
            let _ = cw.shutdown().await;
        });
    }
}

// ------------------------------------------------------------------------------------------
// The seed's three workflows
// ------------------------------------------------------------------------------------------

/// "Первичная настройка": setup VM → image from its disk → download → clean up. The project
/// keeps only the network set-up and the key pair; the image is at home.
#[test]
fn workflow_first_setup() {
    let lc = Lc::start();
    lc.write_env(&["BASE_IMAGE_NAME=vitrina-process-base"]);
    lc.ok(&["network", "setup"]);
    // 1. setup-start
    let vm = lc.ok(&["vm", "start", "--setup"]);
    let name = text(&vm, "name");
    assert_eq!(text(&vm, "disk"), "setup-disk");
    assert_eq!(text(&vm, "flavor"), "Basic-1-2-20");
    assert!(vm["floating_ip"].is_string(), "{vm}");
    // 2. `ansible-playbook playbooks/site.yml` reads the dynamic inventory.
    let inv = lc.ok(&["inventory", "--list"]);
    assert_eq!(
        inv["all"]["hosts"],
        serde_json::json!([name.clone()]),
        "{inv}"
    );
    assert_eq!(
        inv["setup"]["hosts"],
        serde_json::json!([name.clone()]),
        "{inv}"
    );
    assert_eq!(
        inv["_meta"]["hostvars"][&name]["ansible_host"], vm["address"],
        "{inv}"
    );
    // 3. image-create-from-disk (the disk is attached: copied as it is)
    let img = lc.ok(&[
        "image",
        "create-from-disk",
        "--disk",
        "setup-disk",
        "--name",
        "base-image",
    ]);
    assert_eq!(text(&img, "status"), "active");
    // 4. image-download
    let dl = lc.ok(&[
        "image",
        "download",
        "--name",
        "base-image",
        "--output",
        "images",
    ]);
    let path = lc.work.join("images/base-image.raw");
    assert_eq!(
        PathBuf::from(text(&dl, "path")),
        PathBuf::from("images/base-image.raw")
    );
    let base = lc.rt.block_on(async {
        let glance = lc.client.image();
        let base = glance
            .find_image("vitrina-process-base")
            .await
            .expect("base");
        glance.get_image(&base.id).await.expect("base")
    });
    // The disk made from the base image holds its bytes; so does the download.
    assert_eq!(
        std::fs::metadata(&path).expect("downloaded").len(),
        base.size.expect("size")
    );
    assert_eq!(dl["md5"], serde_json::json!(base.checksum), "{dl}");
    // 5. clean up: gpu-stop, disk-delete, image-delete
    lc.ok(&["vm", "stop", "--name", &name]);
    lc.ok(&["disk", "delete", "--name", "setup-disk"]);
    lc.ok(&["image", "delete", "--name", "base-image"]);
    assert_eq!(
        lc.holdings(),
        Holdings {
            vms: vec![],
            disks: vec![],
            images: vec![],
            floating_ips: 0,
            vm_ports: 0
        }
    );
    assert!(path.is_file());
}

/// "Ежедневная работа": start from the image in the cloud in the morning, stop in the
/// evening. The project keeps the image and the boot disk (delete_on_termination = false);
/// the next morning starts from that disk.
#[test]
fn workflow_daily_work() {
    let lc = Lc::start();
    let file = lc.data_file("base-image.raw", 3 << 20, 1);
    lc.ok(&["network", "setup"]);
    lc.ok(&[
        "image",
        "upload",
        "--file",
        file.to_str().expect("utf-8"),
        "--name",
        "base-image",
    ]);
    // Morning.
    let vm = lc.ok(&["vm", "start", "--image", "base-image"]);
    assert_eq!(text(&vm, "disk"), "gpu-disk");
    assert_eq!(text(&vm, "flavor"), "GPU-A100-8-64-100");
    assert_eq!(lc.holdings().floating_ips, 1);
    // Evening.
    let stopped = lc.ok(&["vm", "stop", "--name", &text(&vm, "name")]);
    assert_eq!(stopped["kept_disks"], serde_json::json!(["gpu-disk"]));
    assert_eq!(
        stopped["released_floating_ips"],
        serde_json::json!([vm["floating_ip"]])
    );
    assert_eq!(
        lc.holdings(),
        Holdings {
            vms: vec![],
            disks: vec![("gpu-disk".into(), "available".into())],
            images: vec!["base-image".into()],
            floating_ips: 0,
            vm_ports: 0
        }
    );
    // The next morning: the kept disk, with yesterday's changes.
    let vm2 = lc.ok(&["vm", "start", "--disk", "gpu-disk", "--name", "gpu-work-1"]);
    assert_eq!(text(&vm2, "disk_id"), text(&vm, "disk_id"));
    assert_eq!(vm2["disk_created"], false);
    lc.ok(&["vm", "stop", "--name", "gpu-work-1"]);
    assert_eq!(
        lc.holdings().disks,
        vec![("gpu-disk".to_owned(), "available".to_owned())]
    );
}

/// "Экономный режим": upload → start → image of the changed disk → download → clean up. The
/// project holds nothing afterwards; both images are at home.
#[test]
fn workflow_economical() {
    let lc = Lc::start();
    let file = lc.data_file("home-base.raw", 5 << 20, 2);
    lc.ok(&["network", "setup"]);
    lc.ok(&[
        "image",
        "upload",
        "--file",
        file.to_str().expect("utf-8"),
        "--name",
        "base-image",
    ]);
    let vm = lc.ok(&["vm", "start", "--image", "base-image"]);
    let img = lc.ok(&[
        "image",
        "create-from-disk",
        "--disk",
        "gpu-disk",
        "--name",
        "updated-image",
    ]);
    assert_eq!(text(&img, "status"), "active");
    lc.ok(&[
        "image",
        "download",
        "--name",
        "updated-image",
        "--output",
        "images",
    ]);
    lc.ok(&["vm", "stop", "--name", &text(&vm, "name")]);
    lc.ok(&["disk", "delete", "--name", "gpu-disk"]);
    lc.ok(&["image", "delete", "--name", "base-image"]);
    lc.ok(&["image", "delete", "--name", "updated-image"]);
    assert_eq!(
        lc.holdings(),
        Holdings {
            vms: vec![],
            disks: vec![],
            images: vec![],
            floating_ips: 0,
            vm_ports: 0
        }
    );
    // A process VM does not write its disk, so the disk's image is the uploaded file.
    assert_eq!(
        std::fs::read(lc.work.join("images/updated-image.raw")).expect("download"),
        std::fs::read(&file).expect("file")
    );
}

// ------------------------------------------------------------------------------------------
// The rules of the seed's table
// ------------------------------------------------------------------------------------------

/// `--disk` and `--image` together: a usage error (exit 2), nothing created.
#[test]
fn rule_disk_and_image_are_mutually_exclusive() {
    let lc = Lc::start();
    let before = lc.holdings();
    let err = lc.fails(&["vm", "start", "--disk", "a", "--image", "b"], 2);
    assert!(err.contains("cannot be used with"), "{err}");
    let err = lc.fails(&["vm", "start"], 2);
    assert!(err.contains("--disk"), "{err}");
    assert_eq!(lc.holdings(), before);
}

/// Two disks with one name: every by-name command refuses and lists both.
#[test]
fn rule_two_disks_with_one_name_are_refused_with_both_listed() {
    let lc = Lc::start();
    lc.ok(&["network", "setup"]);
    let ids: Vec<String> = lc.rt.block_on(async {
        let mut ids = Vec::new();
        for _ in 0..2 {
            let v = lc
                .client
                .block_storage()
                .create_volume(&VolumeCreate {
                    size: Some(1),
                    name: Some("my-disk".into()),
                    ..Default::default()
                })
                .await
                .expect("volume");
            ids.push(v.id);
        }
        ids
    });
    for args in [
        &["vm", "start", "--disk", "my-disk"][..],
        &["disk", "delete", "--name", "my-disk"][..],
        &[
            "image",
            "create-from-disk",
            "--disk",
            "my-disk",
            "--name",
            "x",
        ][..],
    ] {
        let err = lc.fails(args, 1);
        assert!(
            err.contains("2 disks are named `my-disk`"),
            "{args:?}: {err}"
        );
        for id in &ids {
            assert!(
                err.contains(id.as_str()),
                "{args:?}: {id} not listed: {err}"
            );
        }
    }
    assert_eq!(lc.holdings().disks.len(), 2);
    // Images too: two images named alike refuse delete and download.
    let file = lc.data_file("x.raw", 1000, 3);
    let f = file.to_str().expect("utf-8");
    lc.ok(&["image", "upload", "--file", f, "--name", "twin"]);
    lc.rt.block_on(async {
        let glance = lc.client.image();
        let made = glance
            .create_image(&ImageCreate {
                name: Some("twin".into()),
                disk_format: Some("raw".into()),
                container_format: Some("bare".into()),
                ..Default::default()
            })
            .await
            .expect("image");
        glance
            .upload_file(&made.id, &file, &Default::default())
            .await
            .expect("upload");
    });
    let err = lc.fails(&["image", "delete", "--name", "twin"], 1);
    assert!(err.contains("2 images are named `twin`"), "{err}");
    let err = lc.fails(
        &["image", "download", "--name", "twin", "--output", "out"],
        1,
    );
    assert!(err.contains("2 images are named `twin`"), "{err}");
}

/// `vm start --disk` refuses an `in-use` disk; `disk delete` refuses it too.
#[test]
fn rule_in_use_disk_is_refused() {
    let lc = Lc::start();
    lc.write_env(&["BASE_IMAGE_NAME=vitrina-process-base"]);
    lc.ok(&["network", "setup"]);
    let vm = lc.ok(&["vm", "start", "--setup", "--name", "setup-1"]);
    let before = lc.holdings();
    let err = lc.fails(
        &["vm", "start", "--disk", "setup-disk", "--name", "second"],
        1,
    );
    assert!(
        err.contains("disk `setup-disk`") && err.contains("is `in-use`, not `available`"),
        "{err}"
    );
    let err = lc.fails(&["disk", "delete", "--name", "setup-disk"], 1);
    assert!(err.contains("is `in-use`"), "{err}");
    assert_eq!(lc.holdings(), before);
    lc.ok(&["vm", "stop", "--name", &text(&vm, "name")]);
}

/// From an image, the boot disk is `max(DISK_SIZE_GB, image.min_disk)` GB.
#[test]
fn rule_disk_size_is_the_larger_of_setting_and_min_disk() {
    let lc = Lc::start();
    lc.ok(&["network", "setup"]);
    let file = lc.data_file("small.raw", 4096, 4);
    let up = lc.ok(&[
        "image",
        "upload",
        "--file",
        file.to_str().expect("utf-8"),
        "--name",
        "needs-3",
    ]);
    lc.rt.block_on(async {
        lc.client
            .image()
            .update_image(
                &text(&up, "id"),
                &[PatchOp {
                    op: "replace".into(),
                    path: "/min_disk".into(),
                    value: Some(serde_json::json!(3)),
                }],
            )
            .await
            .expect("min_disk");
    });
    // DISK_SIZE_GB=1 < min_disk 3 → 3.
    let vm = lc.ok(&["vm", "start", "--image", "needs-3", "--name", "a"]);
    assert_eq!(vm["disk_size_gb"], 3);
    let size = lc.rt.block_on(async {
        lc.client
            .block_storage()
            .get_volume(&text(&vm, "disk_id"))
            .await
            .expect("volume")
            .size
    });
    assert_eq!(size, 3);
    // DISK_SIZE_GB=5 > min_disk 3 → 5 (a flag wins over the .env file).
    let vm2 = lc.ok(&[
        "vm",
        "start",
        "--image",
        "needs-3",
        "--name",
        "b",
        "--disk-name",
        "b-disk",
        "--disk-size-gb",
        "5",
    ]);
    assert_eq!(vm2["disk_size_gb"], 5);
    lc.ok(&["vm", "stop", "--name", "a"]);
    lc.ok(&["vm", "stop", "--name", "b"]);
}

/// Without `--name`, the VM is `gpu-vm-YYYYMMDD-HHMMSS`, printed with its address.
#[test]
fn rule_generated_names() {
    let lc = Lc::start();
    lc.network_and_image("g.raw", 5);
    let out = lc.run(&["vm", "start", "--image", "img"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = stdout.lines();
    let name = lines
        .next()
        .and_then(|l| l.strip_prefix("VM created: "))
        .expect("VM line")
        .to_owned();
    let ip = lines
        .next()
        .and_then(|l| l.strip_prefix("IP: "))
        .expect("IP line");
    let (prefix, stamp) = name.split_at(7);
    assert_eq!(prefix, "gpu-vm-");
    let bytes = stamp.as_bytes();
    assert_eq!(bytes.len(), 15, "{name}");
    assert!(
        bytes.iter().enumerate().all(|(i, b)| if i == 8 {
            *b == b'-'
        } else {
            b.is_ascii_digit()
        }),
        "{name}"
    );
    assert!(chrono_like_date_ok(stamp), "{name}");
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
    let vms = lc.ok(&["vms"]);
    assert_eq!(vms[0]["name"], name.as_str());
    assert_eq!(vms[0]["floating_addresses"][0], ip);
    lc.ok(&["vm", "stop", "--name", &name]);
}

fn chrono_like_date_ok(stamp: &str) -> bool {
    let num = |r: std::ops::Range<usize>| stamp.get(r).and_then(|s| s.parse::<u32>().ok());
    matches!(
        (num(0..4), num(4..6), num(6..8), num(9..11), num(11..13), num(13..15)),
        (Some(y), Some(m), Some(d), Some(h), Some(min), Some(s))
            if y >= 2024 && (1..=12).contains(&m) && (1..=31).contains(&d) && h < 24 && min < 60 && s < 61
    )
}

/// A key pair of that name with another key: refused before anything is created; the key
/// pair is created when missing and accepted when it matches.
#[test]
fn rule_keypair_fingerprint_mismatch_is_refused() {
    let lc = Lc::start();
    lc.network_and_image("k.raw", 6);
    lc.rt.block_on(async {
        lc.client
            .compute()
            .create_keypair(&vitrina_openstack::wire::compute::KeypairCreate {
                name: "ansible-key".into(),
                public_key: Some(public_key(9)),
                key_type: None,
            })
            .await
            .expect("keypair");
    });
    let before = lc.holdings();
    let err = lc.fails(&["vm", "start", "--image", "img"], 1);
    assert!(
        err.contains("key pair `ansible-key` in the cloud has fingerprint")
            && err.contains("id_ed25519.pub"),
        "{err}"
    );
    assert_eq!(lc.holdings(), before);
    // The matching key: accepted as it is.
    std::fs::write(lc.work.join("id_ed25519.pub"), public_key(9)).expect("key");
    let vm = lc.ok(&["vm", "start", "--image", "img"]);
    assert_eq!(vm["keypair_created"], false);
    lc.ok(&["vm", "stop", "--name", &text(&vm, "name")]);
    // Another name: created from the local key.
    let vm = lc.ok(&[
        "vm",
        "start",
        "--disk",
        "gpu-disk",
        "--ssh-key-name",
        "other-key",
    ]);
    assert_eq!(vm["keypair_created"], true);
    lc.ok(&["vm", "stop", "--name", &text(&vm, "name")]);
}

/// `image create-from-disk` waits for the image by the ID Cinder returned: a second image of
/// the same name, made while it waits, neither confuses nor stops it.
#[test]
fn rule_image_from_disk_is_waited_for_by_id() {
    let lc = Lc::start();
    let file = lc.data_file("w.raw", 2 << 20, 7);
    lc.ok(&[
        "image",
        "upload",
        "--file",
        file.to_str().expect("utf-8"),
        "--name",
        "src",
    ]);
    let vol = lc.rt.block_on(async {
        let storage = lc.client.block_storage();
        let src = lc.client.image().find_image("src").await.expect("src");
        let v = storage
            .create_volume(&VolumeCreate {
                size: Some(1),
                name: Some("kept".into()),
                image_ref: Some(src.id),
                ..Default::default()
            })
            .await
            .expect("volume");
        storage
            .wait_volume(&v.id, &["available"], Default::default())
            .await
            .expect("available")
    });
    /// Makes the twin as the wait starts (after Cinder answered, before the first poll), with
    /// a client of its own on a thread of its own.
    struct TwinMaker {
        config: CloudConfig,
        twin: Mutex<Option<String>>,
    }
    impl vitrina_vmops::report::Reporter for TwinMaker {
        fn step(&self, _: &str) {}
        fn task(&self, label: &str, _: Option<u64>) -> Arc<dyn vitrina_vmops::report::Task> {
            if label.starts_with("image `snap`") {
                let config = self.config.clone();
                let made = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(async {
                        Client::new(config)
                            .expect("client")
                            .image()
                            .create_image(&ImageCreate {
                                name: Some("snap".into()),
                                disk_format: Some("raw".into()),
                                container_format: Some("bare".into()),
                                ..Default::default()
                            })
                            .await
                            .expect("twin")
                    })
                })
                .join()
                .expect("twin thread");
                *self.twin.lock().expect("lock") = Some(made.id);
            }
            vitrina_vmops::report::Silent.task(label, None)
        }
    }
    let reporter = Arc::new(TwinMaker {
        config: lc.client.config().clone(),
        twin: Mutex::new(None),
    });
    let sources = vitrina_vmops::Sources {
        file: vitrina_vmops::read_env_file(&lc.work.join(".env")).expect(".env"),
        ..Default::default()
    };
    let settings = vitrina_vmops::Settings::resolve(&sources).expect("settings");
    let ops = vitrina_vmops::Ops::new(
        lc.client.clone(),
        settings,
        reporter.clone(),
        Arc::new(vitrina_vmops::report::NoTerminal),
    );
    let made = lc
        .rt
        .block_on(ops.image_create_from_disk("kept", "snap"))
        .expect("image from disk");
    let twin = reporter
        .twin
        .lock()
        .expect("lock")
        .clone()
        .expect("twin made");
    assert_ne!(made.id, twin);
    assert_eq!(made.status, "active");
    assert_eq!(made.disk_id, vol.id);
    let (mine, other) = lc.rt.block_on(async {
        let glance = lc.client.image();
        (
            glance.get_image(&made.id).await.expect("made"),
            glance.get_image(&twin).await.expect("twin"),
        )
    });
    assert_eq!(mine.status, "active");
    assert_eq!(other.status, "queued");
    assert_eq!(mine.size, Some(2 << 20));
}

/// Download and upload refuse to overwrite without `--force`.
#[test]
fn rule_force_is_needed_to_overwrite() {
    let lc = Lc::start();
    let file = lc.data_file("f.raw", 100_000, 8);
    let f = file.to_str().expect("utf-8");
    let first = lc.ok(&["image", "upload", "--file", f, "--name", "img"]);
    let err = lc.fails(&["image", "upload", "--file", f, "--name", "img"], 1);
    assert!(
        err.contains("an image named `img` already exists") && err.contains("--force"),
        "{err}"
    );
    let second = lc.ok(&["image", "upload", "--file", f, "--name", "img", "--force"]);
    assert_eq!(second["replaced"], serde_json::json!([first["id"]]));
    assert_eq!(lc.holdings().images, vec!["img".to_owned()]);
    lc.ok(&["image", "download", "--name", "img", "--output", "out"]);
    let target = lc.work.join("out/img.raw");
    std::fs::write(&target, b"local changes").expect("write");
    let err = lc.fails(
        &["image", "download", "--name", "img", "--output", "out"],
        1,
    );
    assert!(err.contains("out/img.raw` exists; pass `--force`"), "{err}");
    assert_eq!(std::fs::read(&target).expect("kept"), b"local changes");
    lc.ok(&[
        "image", "download", "--name", "img", "--output", "out", "--force",
    ]);
    assert_eq!(
        std::fs::read(&target).expect("new"),
        std::fs::read(&file).expect("file")
    );
}

/// `vm stop` without `--name` needs a terminal to choose; without one it refuses (exit 2) and
/// deletes nothing. `vm start --setup` without an image name refuses the same way.
#[test]
fn rule_no_vm_is_picked_without_a_terminal() {
    let lc = Lc::start();
    lc.network_and_image("t.raw", 9);
    let vm = lc.ok(&["vm", "start", "--image", "img", "--name", "only-one"]);
    let err = lc.fails(&["vm", "stop"], 2);
    assert!(
        err.contains("which VM to stop: not on a terminal") && err.contains("--name NAME"),
        "{err}"
    );
    assert_eq!(lc.holdings().vms, vec!["only-one".to_owned()]);
    let err = lc.fails(&["vm", "stop", "--name", "only"], 1);
    assert!(err.contains("no VM named `only`"), "{err}");
    let err = lc.fails(&["vm", "start", "--setup", "--disk-name", "d2"], 2);
    assert!(
        err.contains("which image to start from: not on a terminal"),
        "{err}"
    );
    lc.ok(&["vm", "stop", "--name", &text(&vm, "name")]);
}

/// `network setup` twice: the second run changes nothing and says so.
#[test]
fn rule_network_setup_is_idempotent() {
    let lc = Lc::start();
    let first = lc.ok(&["network", "setup"]);
    let created: Vec<&str> = first["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|a| a["action"] == "created")
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert_eq!(
        created,
        [
            "network",
            "subnet",
            "router",
            "router interface",
            "rule",
            "rule"
        ],
        "{first}"
    );
    let info1 = lc.ok(&["network", "info"]);
    let second = lc.ok(&["network", "setup"]);
    assert!(
        second["actions"]
            .as_array()
            .expect("actions")
            .iter()
            .all(|a| a["action"] == "exists"),
        "{second}"
    );
    assert_eq!(lc.ok(&["network", "info"]), info1);
    let rules = info1["security_group"]["rules"].as_array().expect("rules");
    assert!(
        rules.iter().any(|r| r == "ingress IPv4 tcp 22 0.0.0.0/0"),
        "{info1}"
    );
    assert!(
        rules.iter().any(|r| r == "ingress IPv4 icmp 0.0.0.0/0"),
        "{info1}"
    );
    let text = String::from_utf8_lossy(&lc.run(&["network", "setup"]).stdout).into_owned();
    assert!(text.contains("nothing to change"), "{text}");
}

/// Settings: a missing flavor names the variable and the flag; a bad `.env` line names
/// file:line:col (exit 1); a missing `--env` file is an I/O problem (exit 2).
#[test]
fn settings_errors() {
    let lc = Lc::start();
    std::fs::write(lc.work.join(".env"), "NETWORK_NAME=net\n").expect(".env");
    let err = lc.fails(&["vm", "start", "--image", "x"], 1);
    assert!(
        err.contains("`GPU_FLAVOR_ID` is not set") && err.contains("--gpu-flavor-id"),
        "{err}"
    );
    std::fs::write(lc.work.join("bad.env"), "A=1\n  oops\n").expect("bad");
    let err = lc.fails(&["vms", "--env", "bad.env"], 1);
    assert!(
        err.contains("bad.env:2:3: error: expected `KEY=VALUE`"),
        "{err}"
    );
    assert!(err.contains("2 |   oops\n  |   ^"), "{err}");
    let err = lc.fails(&["vms", "--env", "missing.env"], 2);
    assert!(err.contains("missing.env"), "{err}");
    let flavors = lc.ok(&["flavors"]);
    let gpu = flavors
        .as_array()
        .expect("flavors")
        .iter()
        .find(|f| f["name"] == "GPU-A100-8-64-100")
        .expect("gpu flavor");
    assert_eq!(gpu["gpu"], "nvidia-a100:1");
}

// ------------------------------------------------------------------------------------------
// Rollback
// ------------------------------------------------------------------------------------------

fn rollback_leaves_nothing(fault: ServerCreateFault) {
    let lc = Lc::start_with(Options {
        faults: Faults {
            server_create: Some(fault),
        },
        proxy: false,
    });
    lc.network_and_image("r.raw", 10);
    let before = lc.holdings();
    let err = lc.fails(&["vm", "start", "--image", "img", "--name", "doomed"], 1);
    eprintln!("{fault:?}: {err}");
    assert!(err.contains("VM `doomed` failed"), "{err}");
    for what in [
        "cleaned up:",
        "floating IP",
        "port",
        "disk `gpu-disk`",
        "key pair `ansible-key`",
    ] {
        assert!(err.contains(what), "`{what}` missing from: {err}");
    }
    assert!(!err.contains("NOT cleaned up"), "{err}");
    if fault == ServerCreateFault::NoValidHost {
        assert!(
            err.contains("VM `doomed`,") || err.contains("cleaned up: VM `doomed`"),
            "{err}"
        );
        assert!(err.contains("No valid host was found"), "{err}");
    }
    assert_eq!(lc.holdings(), before);
    let keys = lc
        .rt
        .block_on(lc.client.compute().list_keypairs())
        .expect("keypairs");
    assert!(keys.is_empty(), "{keys:?}");
}

/// Nova refuses the create (500): the disk, port, floating IP and key pair made before it are
/// removed, and the error says so.
#[test]
fn rollback_when_server_create_is_refused() {
    rollback_leaves_nothing(ServerCreateFault::Reject);
}

/// The server goes to ERROR ("No valid host was found"): the VM is deleted too.
#[test]
fn rollback_when_server_goes_to_error() {
    rollback_leaves_nothing(ServerCreateFault::NoValidHost);
}

// ------------------------------------------------------------------------------------------
// Transfers
// ------------------------------------------------------------------------------------------

/// Upload then download: the bytes come back identical (and both sides' checksums match).
#[test]
fn download_is_byte_identical_to_upload() {
    let lc = Lc::start();
    let file = lc.data_file("big.raw", (24 << 20) + 12_345, 11);
    let up = lc.ok(&[
        "image",
        "upload",
        "--file",
        file.to_str().expect("utf-8"),
        "--name",
        "blob",
    ]);
    let dl = lc.ok(&["image", "download", "--name", "blob", "--output", "back"]);
    assert_eq!(up["md5"], dl["md5"]);
    assert_eq!(up["sha512"], dl["sha512"]);
    assert_eq!(dl["resumed_from"], 0);
    assert_eq!(
        std::fs::read(lc.work.join("back/blob.raw")).expect("download"),
        std::fs::read(&file).expect("file")
    );
    // Without a terminal, progress is plain lines on stderr, data on stdout.
    let out = lc.run(&["image", "download", "--name", "blob", "--output", "again"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("download `blob`: started"), "{stderr}");
    assert!(stderr.contains("download `blob`: done"), "{stderr}");
}

/// A download whose connection drops halfway keeps what arrived; the next run resumes with a
/// `Range` request and the file is whole and identical.
#[test]
fn interrupted_download_resumes() {
    let lc = Lc::start_with(Options {
        faults: Faults::default(),
        proxy: true,
    });
    let len: u64 = 16 << 20;
    let file = lc.data_file("cut.raw", usize::try_from(len).expect("size"), 12);
    lc.ok(&[
        "image",
        "upload",
        "--file",
        file.to_str().expect("utf-8"),
        "--name",
        "cut",
    ]);
    let cut = lc.cut.clone().expect("proxy");
    cut.store(len / 2, Ordering::SeqCst);
    let err = lc.fails(
        &["image", "download", "--name", "cut", "--output", "home"],
        1,
    );
    assert!(err.contains("run the command again to resume"), "{err}");
    assert_eq!(cut.load(Ordering::SeqCst), 0, "the proxy cut the download");
    let part = lc.work.join("home/cut.raw.part");
    let kept = std::fs::metadata(&part).expect(".part kept").len();
    assert!(kept > 0 && kept < len, "{kept}");
    assert!(!lc.work.join("home/cut.raw").exists());
    let dl = lc.ok(&["image", "download", "--name", "cut", "--output", "home"]);
    assert_eq!(dl["resumed_from"], kept);
    assert_eq!(dl["transferred"], len - kept);
    assert_eq!(
        std::fs::read(lc.work.join("home/cut.raw")).expect("download"),
        std::fs::read(&file).expect("file")
    );
    assert!(!part.exists());
}
