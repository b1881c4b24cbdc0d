//! VM-SDF apps in the marketplace pages over real HTTP (issue 14): the catalog lists the
//! apps of `--sdf-catalog`; the wizard of the seed's LNMP and `Section` examples answers every
//! change with the variables to hide (cascades through defaults and sections), the fields'
//! errors and the YAML tab (passwords masked); a password is generated on request; deploying
//! goes through `POST /sdf/v1/deployments`'s path and lands on a page that shows the VM's
//! `deployment-progress` key.
//!
//! The apps' image is one the built-in cloud does not have, so no VM starts (nothing reaches
//! past loopback); the deployment and its KV store exist all the same.

use std::path::{Path, PathBuf};

use vitrina_server::{Server, ServerConfig};

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(p)
}

/// The demo's VM-SDF examples, with an image no cloud has.
fn catalog(dir: &Path) -> PathBuf {
    let apps = dir.join("apps");
    std::fs::create_dir_all(&apps).expect("apps dir");
    for name in ["lnmp-10.yml", "mysql-sections.yml"] {
        let text = std::fs::read_to_string(repo("examples/vm-sdf").join(name)).expect("example");
        assert!(text.contains("- vitrina-process-base"), "{name}");
        std::fs::write(
            apps.join(name),
            text.replace("- vitrina-process-base", "- no-such-image-web-sdf"),
        )
        .expect("write");
    }
    let checked = vitrina_package::sdf::validate_path(&apps).expect("reads");
    let out = dir.join("catalog.yaml");
    std::fs::write(
        &out,
        vitrina_package::sdf::build_catalog(&checked).expect("the examples compile"),
    )
    .expect("catalog");
    out
}

async fn start(dir: &Path) -> Server {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), dir);
    cfg.cloud = true;
    cfg.cloud_network = vitrina_localcloud::NetworkSetting::Shared;
    cfg.sdf_catalog = Some(catalog(dir));
    let server = Server::start(cfg).await.expect("server starts");
    vitrina_server::demo::setup(&server, dir, &repo("examples/packages"))
        .await
        .expect("demo set-up");
    server.set_ready();
    server
}

/// A client that keeps cookies and does not follow redirects.
struct Browser {
    c: reqwest::Client,
    jar: std::sync::Mutex<Vec<(String, String)>>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            c: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jar: Default::default(),
        }
    }

    fn cookies(&self) -> String {
        let jar = self.jar.lock().expect("jar");
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&self, r: &reqwest::Response) {
        let mut jar = self.jar.lock().expect("jar");
        for v in r.headers().get_all("set-cookie") {
            let line = v.to_str().expect("cookie");
            let (k, rest) = line.split_once('=').expect("name=value");
            let value = rest.split(';').next().unwrap_or_default().to_owned();
            jar.retain(|(n, _)| n != k);
            if !value.is_empty() {
                jar.push((k.to_owned(), value));
            }
        }
    }

    async fn get(&self, url: &str, lang: &str) -> (u16, String) {
        let r = self
            .c
            .get(url)
            .header("accept-language", lang)
            .header("cookie", self.cookies())
            .send()
            .await
            .expect("GET");
        self.keep(&r);
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let r = self
            .c
            .post(url)
            .header("accept-language", "en")
            .header("cookie", self.cookies())
            .form(form)
            .send()
            .await
            .expect("POST");
        self.keep(&r);
        r
    }

    async fn evaluate(&self, url: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let r = self.post(url, form).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        assert!(r.headers().get("server-timing").is_some());
        r.json().await.expect("json")
    }
}

fn csrf(page: &str) -> String {
    let at = page.find("name=\"_csrf\" value=\"").expect("csrf field") + 20;
    page[at..].split('"').next().expect("value").to_owned()
}

/// The group id of a variable in the page (`g-N`), found by its `data-var`.
fn group_of(page: &str, var: &str) -> String {
    let at = page
        .find(&format!("data-var=\"{var}\""))
        .unwrap_or_else(|| panic!("no variable {var} in the page"));
    let before = &page[..at];
    let id_at = before.rfind("id=\"g-").expect("group id") + 4;
    before[id_at..].split('"').next().expect("id").to_owned()
}

fn hidden(v: &serde_json::Value) -> Vec<String> {
    v["hidden_groups"]
        .as_array()
        .expect("hidden_groups")
        .iter()
        .map(|g| g.as_str().expect("id").to_owned())
        .collect()
}

fn subnet_of(page: &str) -> String {
    let at = page.find("name=\"_subnet\"").expect("subnet picker");
    let opt = page[at..].find("<option value=\"").expect("a subnet") + at + 15;
    page[opt..].split('"').next().expect("id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdf_apps_listed_configured_with_cascades_and_deployed_from_the_wizard() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = start(dir.path()).await;
    let base = server.url.clone();
    let b = Browser::new();

    // The catalog lists both apps, in both languages.
    let (status, page) = b.get(&format!("{base}/"), "en").await;
    assert_eq!(status, 200);
    assert!(page.contains("VM applications"), "{page}");
    assert!(page.contains("href=\"/apps/lnmp-10\""), "{page}");
    assert!(page.contains("LNMP Server"), "{page}");
    assert!(page.contains("href=\"/apps/mysql-sections\""), "{page}");
    let (_, page) = b.get(&format!("{base}/?q=section"), "en").await;
    assert!(page.contains("/apps/mysql-sections"));
    assert!(!page.contains("/apps/lnmp-10"), "the search filters apps");
    let (_, ru) = b.get(&format!("{base}/apps/lnmp-10"), "ru").await;
    assert!(ru.contains("Имя домена для создаваемого сайта"), "{ru}");
    assert!(ru.contains("Развернуть"), "{ru}");

    // The LNMP wizard: the PhpMyAdmin port and Let's Encrypt show only with PhpMyAdmin.
    let (status, page) = b.get(&format!("{base}/apps/lnmp-10"), "en").await;
    assert_eq!(status, 200);
    assert!(page.contains("Domain name for the first Website"), "{page}");
    assert!(page.contains("value=\"example.com\""), "{page}");
    assert!(page.contains("type=\"password\""), "{page}");
    assert!(
        page.contains("data-generate=\"mysql-root-password\""),
        "{page}"
    );
    assert!(page.contains("role=\"tab\""), "{page}");
    let port = group_of(&page, "mysql-php-admin-https-port");
    let le = group_of(&page, "use-lets-encrypt");
    assert!(
        page.contains(&format!(
            "id=\"{port}\" class=\"group\" data-var=\"mysql-php-admin-https-port\" hidden disabled"
        )),
        "inactive at first: {page}"
    );
    // Its input holds the default, shown as soon as a change activates it.
    assert!(page.contains("type=\"number\" value=\"8443\""), "{page}");
    let token = csrf(&page);
    let url = format!("{base}/apps/lnmp-10/evaluate");
    let v = b
        .evaluate(
            &url,
            &[
                ("_csrf", &token),
                ("domain-name", "shop.example.org"),
                ("mysql-php-admin-install", "true"),
                ("mysql-root-password", "Root-pass-4242"),
                ("_confirm:mysql-root-password", "Root-pass-4242"),
                ("mysql-user-password", "User-pass-7373"),
                ("_confirm:mysql-user-password", "User-pass-7373"),
            ],
        )
        .await;
    assert!(
        !hidden(&v).contains(&port) && !hidden(&v).contains(&le),
        "{v}"
    );
    assert!(v["errors"].as_object().expect("errors").is_empty(), "{v}");
    let yaml = v["panel"].as_str().expect("panel");
    assert!(yaml.contains("domain-name: shop.example.org"), "{yaml}");
    assert!(yaml.contains("mysql-php-admin-https-port: 8443"), "{yaml}");
    assert!(
        yaml.contains("mysql-root-password: &#x27;********&#x27;")
            || yaml.contains("mysql-root-password: &#39;********&#39;")
            || yaml.contains("mysql-root-password: '********'"),
        "{yaml}"
    );
    assert!(
        !yaml.contains("Root-pass-4242") && !yaml.contains("User-pass-7373"),
        "{yaml}"
    );

    // Back to no PhpMyAdmin: the two hide again and become null in the YAML.
    let v = b
        .evaluate(
            &url,
            &[("_csrf", &token), ("mysql-php-admin-install", "false")],
        )
        .await;
    assert!(
        hidden(&v).contains(&port) && hidden(&v).contains(&le),
        "{v}"
    );
    let yaml = v["panel"].as_str().expect("panel");
    assert!(yaml.contains("mysql-php-admin-https-port: null"), "{yaml}");
    // Passwords left empty are required; a mismatch is named; a bad port is refused.
    assert_eq!(v["errors"]["mysql-root-password"], "a value is required");
    let v = b
        .evaluate(
            &url,
            &[
                ("_csrf", &token),
                ("mysql-php-admin-install", "true"),
                ("mysql-php-admin-https-port", "80"),
                ("mysql-root-password", "Root-pass-4242"),
                ("_confirm:mysql-root-password", "Root-pass-9999"),
            ],
        )
        .await;
    assert_eq!(
        v["errors"]["mysql-root-password"],
        "the confirmation differs from the password"
    );
    assert_eq!(
        v["errors"]["mysql-php-admin-https-port"],
        "must be at least 1024"
    );

    // Generation: the server fills the password and its confirmation, the YAML masks it.
    let v = b
        .evaluate(
            &url,
            &[("_csrf", &token), ("_generate", "mysql-root-password")],
        )
        .await;
    let generated = v["values"]["mysql-root-password"]
        .as_str()
        .expect("generated")
        .to_owned();
    assert!(generated.len() >= 5 && generated.len() <= 16, "{generated}");
    assert_eq!(v["values"]["_confirm:mysql-root-password"], generated);
    assert!(v["errors"].get("mysql-root-password").is_none(), "{v}");
    assert!(!v["panel"].as_str().expect("panel").contains(&generated));

    // The `Section` example: the mode picks a section, the section (by its default) its field.
    let (_, page) = b.get(&format!("{base}/apps/mysql-sections"), "en").await;
    let install = group_of(&page, "mysql-install-section");
    let install_pw = group_of(&page, "mysql-install-root-password");
    let use_s = group_of(&page, "mysql-use-section");
    let use_pw = group_of(&page, "mysql-use-root-password");
    assert!(page.contains("MySQL Installation Options"), "{page}");
    let url2 = format!("{base}/apps/mysql-sections/evaluate");
    let v = b.evaluate(&url2, &[("_csrf", &token)]).await;
    let h = hidden(&v);
    assert!(!h.contains(&install) && !h.contains(&install_pw), "{v}");
    assert!(h.contains(&use_s) && h.contains(&use_pw), "{v}");
    let v = b
        .evaluate(&url2, &[("_csrf", &token), ("mysql-mode", "use")])
        .await;
    let h = hidden(&v);
    assert!(h.contains(&install) && h.contains(&install_pw), "{v}");
    assert!(!h.contains(&use_s) && !h.contains(&use_pw), "{v}");
    let yaml = v["panel"].as_str().expect("panel");
    assert!(yaml.contains("mysql-mode: use"), "{yaml}");
    assert!(yaml.contains("mysql-install-root-password: null"), "{yaml}");

    // Deploying needs a project: anonymous visitors are sent to sign in.
    let r = b
        .post(&format!("{base}/apps/lnmp-10/deploy"), &[("_csrf", &token)])
        .await;
    assert_eq!(r.status(), 303);
    let creds: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("demo-credentials.json")).expect("creds"),
    )
    .expect("json");
    let project_token = creds["project"]["auth_token"].as_str().expect("token");
    let (_, page) = b.get(&format!("{base}/signin"), "en").await;
    let r = b
        .post(
            &format!("{base}/signin"),
            &[
                ("_csrf", &csrf(&page)),
                ("kind", "project"),
                ("project_token", project_token),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let (_, page) = b.get(&format!("{base}/apps/lnmp-10"), "en").await;
    let token = csrf(&page);
    let subnet = subnet_of(&page);
    assert!(
        page.contains("I allow the application these features"),
        "{page}"
    );

    // Without consent to the requested features, the wizard comes back with the reason.
    let answers = [
        ("_csrf", token.as_str()),
        ("domain-name", "shop.example.org"),
        ("mysql-php-admin-install", "true"),
        ("mysql-root-password", "Root-pass-4242"),
        ("_confirm:mysql-root-password", "Root-pass-4242"),
        ("mysql-user-password", "User-pass-7373"),
        ("_confirm:mysql-user-password", "User-pass-7373"),
        ("_subnet", subnet.as_str()),
    ];
    let r = b
        .post(&format!("{base}/apps/lnmp-10/deploy"), &answers)
        .await;
    assert_eq!(r.status(), 422);
    let page = r.text().await.expect("page");
    assert!(
        page.contains("Allow the requested features to deploy."),
        "{page}"
    );
    assert!(
        !page.contains("Root-pass-4242"),
        "passwords are not sent back"
    );

    let mut with_consent = answers.to_vec();
    with_consent.push(("_consent", "true"));
    let r = b
        .post(&format!("{base}/apps/lnmp-10/deploy"), &with_consent)
        .await;
    let status = r.status();
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = r.text().await.expect("body");
    assert_eq!(status, 303, "{body}");
    let loc = loc.expect("location");
    let uuid = loc
        .strip_prefix("/apps/deployments/")
        .expect("the deployment page")
        .to_owned();

    // The same deployment through the API, its answers as given (passwords masked).
    let api: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/sdf/v1/deployments/{uuid}"))
        .header("x-auth-token", project_token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(api["app"], "lnmp-10", "{api}");
    assert_eq!(api["variables"]["domain-name"], "shop.example.org", "{api}");
    assert_eq!(api["variables"]["mysql-root-password"], "********", "{api}");

    // The page shows the progress key; once the VM writes it, its value.
    let (status, page) = b.get(&format!("{base}{loc}"), "en").await;
    assert_eq!(status, 200);
    assert!(page.contains("Deployment progress"), "{page}");
    assert!(page.contains("deployment-progress"), "{page}");
    assert!(page.contains("The VM has not reported yet."), "{page}");
    assert!(page.contains("shop.example.org"), "{page}");
    assert!(!page.contains("Root-pass-4242"), "{page}");
    let r = reqwest::Client::new()
        .put(format!("{base}/sdf/v1/vms/{uuid}/config"))
        .bearer_auth(server.engine_token.expose())
        .json(&serde_json::json!({"deployment-progress": "nginx installed (2 of 4)"}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), 204);
    let (_, page) = b.get(&format!("{base}{loc}"), "en").await;
    assert!(page.contains("nginx installed (2 of 4)"), "{page}");

    // Another project (or nobody) does not see it.
    let (status, _) = Browser::new().get(&format!("{base}{loc}"), "en").await;
    assert_eq!(status, 303);

    server.stop().await;
}
