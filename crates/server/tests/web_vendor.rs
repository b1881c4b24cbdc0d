//! The vendor console over real HTTP, acting as a browser would (cookies, CSRF tokens from the
//! pages, multipart uploads): a bad zip shows its diagnostic with file, line and source line; a
//! good new revision lands in the test namespace; its service page and wizards preview as
//! consumers will see them; publishing puts it in the catalog; archiving asks first; the
//! deployments of the vendor's services show their status only; another vendor sees and
//! changes none of it.

use std::path::{Path, PathBuf};

use vitrina_server::store::osb::OsbInstanceRow;
use vitrina_server::{Server, ServerConfig};

const HELLO: &str = "2cfe21ad-f403-47a7-9c00-74e92d1ee7db";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn start(dir: &Path) -> (Server, String) {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), dir);
    cfg.cloud = true;
    cfg.cloud_network = vitrina_localcloud::NetworkSetting::Shared;
    let server = Server::start(cfg).await.expect("server starts");
    vitrina_server::demo::setup(&server, dir, &repo().join("examples/packages"))
        .await
        .expect("demo set-up");
    server.set_ready();
    let creds: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("demo-credentials.json")).expect("demo credentials"),
    )
    .expect("json");
    let token = creds["vendor"]["service_token"]
        .as_str()
        .expect("service token")
        .to_owned();
    (server, token)
}

/// Copies hello_web with a new revision (and an edit), packs it, returns the zip's bytes.
fn packed(out: &Path, revision: &str, edit: impl Fn(&Path)) -> Vec<u8> {
    let src = repo().join("examples/packages/hello_web");
    let dst = out.join(revision).join("hello_web");
    copy_dir(&src, &dst);
    let svc = dst.join("service.yaml");
    let text = std::fs::read_to_string(&svc).expect("service.yaml");
    assert!(text.contains("revision: \"1.0\""), "{text}");
    let text = text.replacen("revision: \"1.0\"", &format!("revision: \"{revision}\""), 1);
    std::fs::write(&svc, text).expect("write service.yaml");
    edit(&dst);
    let files = vitrina_package::read_package(&dst).expect("read");
    let zip = out.join(format!("hello_web-{revision}.zip"));
    vitrina_package::pack::pack(&dst, &files, &zip).expect("pack");
    std::fs::read(zip).expect("zip")
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read_dir") {
        let e = e.expect("entry");
        let to = dst.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).expect("copy");
        }
    }
}

/// A client that keeps cookies, as a browser does.
struct Browser {
    base: String,
    c: reqwest::Client,
    cookies: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            c: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Default::default(),
        }
    }

    fn cookie_header(&self) -> String {
        let jar = self.cookies.lock().expect("jar");
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&self, r: &reqwest::Response) {
        let mut jar = self.cookies.lock().expect("jar");
        for v in r.headers().get_all("set-cookie") {
            let line = v.to_str().expect("cookie");
            let (k, rest) = line.split_once('=').expect("name=value");
            let value = rest.split(';').next().unwrap_or_default();
            if value.is_empty() {
                jar.remove(k);
            } else {
                jar.insert(k.to_owned(), value.to_owned());
            }
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .c
            .get(format!("{}{path}", self.base))
            .header("accept-language", "en")
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.keep(&r);
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .c
            .post(format!("{}{path}", self.base))
            .header("accept-language", "en")
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("POST");
        self.keep(&r);
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    /// Posts the console's upload form as `multipart/form-data`, as a browser sends it.
    async fn upload(&self, csrf: &str, zip: Vec<u8>) -> (u16, String) {
        let boundary = "----vitrina-test-boundary-7f3a9c";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"hello_web.zip\"\r\n\
                 Content-Type: application/zip\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&zip);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = self
            .c
            .post(format!("{}/vendor/upload", self.base))
            .header("accept-language", "en")
            .header("cookie", self.cookie_header())
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("upload");
        self.keep(&r);
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    async fn csrf(&self) -> String {
        let (_, page) = self.get("/signin").await;
        csrf(&page)
    }

    async fn sign_in_vendor(&self, token: &str) {
        let csrf = self.csrf().await;
        let (status, body) = self
            .post(
                "/signin",
                &[
                    ("_csrf", &csrf),
                    ("kind", "vendor"),
                    ("service_token", token),
                    ("next", "/vendor"),
                ],
            )
            .await;
        assert_eq!(status, 303, "{body}");
    }
}

/// The CSRF token a page's forms carry.
fn csrf(page: &str) -> String {
    let at = page.find("name=\"_csrf\" value=\"").expect("csrf field") + 20;
    page[at..].split('"').next().expect("value").to_owned()
}

/// The namespace badge of one revision row of the console.
fn namespace_of(page: &str, revision: &str) -> String {
    let row = format!("<tr data-product=\"{HELLO}\" data-revision=\"{revision}\">");
    let at = page
        .find(&row)
        .unwrap_or_else(|| panic!("no row for {revision} in {page}"));
    let rest = &page[at..];
    let b = rest.find("data-namespace>").expect("namespace badge") + "data-namespace>".len();
    rest[b..].split('<').next().expect("text").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_console_upload_preview_publish_archive_and_isolation() {
    let dir = tempfile::tempdir().expect("tmp");
    let work = tempfile::tempdir().expect("work");
    let (server, token) = start(dir.path()).await;
    let base = server.url.clone();

    // Anonymous: the console asks to sign in; a consumer project is refused.
    let anon = Browser::new(&base);
    let (status, _) = anon.get("/vendor").await;
    assert_eq!(status, 303);

    let v = Browser::new(&base);
    v.sign_in_vendor(&token).await;
    let (status, page) = v.get("/vendor").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Vendor console") && page.contains("Hello Web"));
    assert_eq!(namespace_of(&page, "1.0"), "public");
    let token_csrf = csrf(&page);

    // A zip with an error: the diagnostic with its file, line, column and source line.
    let bad = packed(work.path(), "3.0", |d| {
        let svc = d.join("service.yaml");
        let t = std::fs::read_to_string(&svc).expect("read");
        std::fs::write(&svc, t.replacen(HELLO, "not-a-uuid", 1)).expect("write");
    });
    let (status, page) = v.upload(&token_csrf, bad).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("The package was not accepted"), "{page}");
    assert!(page.contains("id-not-uuid4"), "{page}");
    let loc = page
        .find("<code class=\"loc\">service.yaml:1:")
        .expect("file:line:col");
    let src_at = page[loc..].find("<pre class=\"src\"").expect("source line") + loc;
    let src = &page[src_at..page[src_at..].find("</pre>").expect("end") + src_at];
    assert!(src.contains("not-a-uuid") && src.contains('^'), "{src}");
    // Not a zip: one diagnostic on the upload itself.
    let (status, page) = v.upload(&token_csrf, b"not a zip".to_vec()).await;
    assert_eq!(status, 422);
    assert!(
        page.contains("upload:1:1") && page.contains("bad-upload"),
        "{page}"
    );
    // No CSRF token: refused, nothing stored.
    let (status, _) = v.upload("wrong", packed(work.path(), "2.5", |_| {})).await;
    assert_eq!(status, 403);

    // A good new revision: stored in the test namespace, the public one unchanged.
    let (status, page) = v
        .upload(&token_csrf, packed(work.path(), "2.0", |_| {}))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Uploaded into the test namespace: Hello Web 2.0"),
        "{page}"
    );
    assert_eq!(namespace_of(&page, "2.0"), "test");
    assert_eq!(namespace_of(&page, "1.0"), "public");
    assert!(!page.contains("2.5"), "a refused upload stored nothing");

    // Preview: the consumer's service page and each plan's wizard of revision 2.0.
    let (status, svc) = v.get(&format!("/services/{HELLO}?revision=2.0")).await;
    assert_eq!(status, 200);
    assert!(svc.contains("table class=\"matrix\"") && svc.contains("?revision=2.0"));
    let plans: Vec<String> = page
        .match_indices(&format!("/services/{HELLO}/plans/"))
        .filter_map(|(i, _)| {
            let rest = &page[i..];
            let href = rest.split('"').next()?;
            href.ends_with("?revision=2.0").then(|| href.to_owned())
        })
        .collect();
    assert_eq!(plans.len(), 2, "both plans previewable: {plans:?}");
    for p in &plans {
        let (status, wiz) = v.get(p).await;
        assert_eq!(status, 200, "{p}");
        assert!(
            wiz.contains("name=\"_revision\" value=\"2.0\"") && wiz.contains("data-panel"),
            "{p}"
        );
    }
    // A consumer sees neither the test revision nor its wizard.
    let (status, _) = anon.get(&format!("/services/{HELLO}?revision=2.0")).await;
    assert_eq!(status, 404);

    // Another vendor: sees none of it, and can neither publish nor archive it.
    let other = server
        .tenants
        .ensure_vendor("other-vendor")
        .await
        .expect("vendor");
    let other_token = server
        .tenants
        .issue_vendor_token(&other)
        .await
        .expect("token");
    let o = Browser::new(&base);
    o.sign_in_vendor(other_token.expose()).await;
    let (status, opage) = o.get("/vendor").await;
    assert_eq!(status, 200);
    assert!(opage.contains("No product uploaded yet") && !opage.contains(HELLO));
    let ocsrf = csrf(&opage);
    for path in ["/vendor/publish", "/vendor/archive"] {
        let (status, _) = o
            .post(
                path,
                &[
                    ("_csrf", &ocsrf),
                    ("id", HELLO),
                    ("revision", "2.0"),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = o.get(&format!("/services/{HELLO}?revision=2.0")).await;
    assert_eq!(status, 404);

    // Publish 2.0 (a wrong CSRF token first): the catalog's wizard now runs revision 2.0.
    let (status, _) = v
        .post(
            "/vendor/publish",
            &[("_csrf", "wrong"), ("id", HELLO), ("revision", "2.0")],
        )
        .await;
    assert_eq!(status, 403);
    let (status, page) = v
        .post(
            "/vendor/publish",
            &[("_csrf", &token_csrf), ("id", HELLO), ("revision", "2.0")],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(namespace_of(&page, "2.0"), "public");
    assert_eq!(namespace_of(&page, "1.0"), "test");
    let (_, catalog) = anon.get("/").await;
    assert!(catalog.contains("Hello Web"));
    let (_, svc) = anon.get(&format!("/services/{HELLO}")).await;
    let folder = plans[0]
        .rsplit_once("/plans/")
        .and_then(|(_, f)| f.split('?').next())
        .expect("plan folder");
    let (status, wiz) = anon.get(&format!("/services/{HELLO}/plans/{folder}")).await;
    assert_eq!(status, 200, "{svc}");
    assert!(wiz.contains("name=\"_revision\" value=\"2.0\""), "{wiz}");

    // Archive 1.0: a confirmation page first, then archived for good.
    let (status, confirm) = v
        .post(
            "/vendor/archive",
            &[("_csrf", &token_csrf), ("id", HELLO), ("revision", "1.0")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Archive this revision?") && confirm.contains("Archive for good"));
    let (_, still) = v.get("/vendor").await;
    assert_eq!(namespace_of(&still, "1.0"), "test");
    let (status, page) = v
        .post(
            "/vendor/archive",
            &[
                ("_csrf", &token_csrf),
                ("id", HELLO),
                ("revision", "1.0"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(namespace_of(&page, "1.0"), "archived");
    let (status, _) = v.get(&format!("/services/{HELLO}?revision=1.0")).await;
    assert_eq!(status, 404, "an archived revision is not previewed");

    // The deployments of the vendor's services: status only, never the consumer's answers.
    let now = 1_700_000_000_000;
    let row = OsbInstanceRow {
        instance_id: "0f0c7a52-5b7d-4a55-9f7e-3f1f5f0d2a11".into(),
        account: "some-platform".into(),
        service_id: HELLO.into(),
        plan_id: "whatever-plan".into(),
        revision: "2.0".into(),
        request_hash: "h".into(),
        answers_sealed: "SEALED-ANSWERS-NEVER-SHOWN".into(),
        project: Some("p".into()),
        email: Some("consumer@example.test".into()),
        deployment: "no-such-deployment".into(),
        state: "ready".into(),
        op_id: "op".into(),
        op_kind: "provision".into(),
        op_state: "succeeded".into(),
        op_description: "done".into(),
        target_plan_id: None,
        target_revision: None,
        target_answers_sealed: None,
        target_hash: None,
        generation: 0,
        created_at: now,
        updated_at: now,
    };
    assert!(server
        .tenants
        .store()
        .osb_instance_create(&row)
        .await
        .expect("insert"));
    let (_, page) = v.get("/vendor").await;
    assert!(
        page.contains(&row.instance_id) && page.contains("status-ready"),
        "{page}"
    );
    assert!(!page.contains("SEALED-ANSWERS") && !page.contains("consumer@example.test"));
    let (_, opage) = o.get("/vendor").await;
    assert!(!opage.contains(&row.instance_id));

    // The console speaks Russian too.
    let ru =
        v.c.get(format!("{base}/vendor"))
            .header("accept-language", "ru")
            .header("cookie", v.cookie_header())
            .send()
            .await
            .expect("GET");
    let text = ru.text().await.expect("body");
    assert!(text.contains("Консоль поставщика") && text.contains("публичное"));
}

/// The wizard's form as a browser posts it: every input's value (checked boxes only) and each
/// select's selected option.
fn form_of(page: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!(" {name}=\"");
        let at = tag.find(&key)? + key.len();
        Some(tag[at..].split('"').next()?.to_owned())
    };
    let form = page
        .split("<form class=\"wizard\"")
        .nth(1)
        .and_then(|f| f.split("</form>").next())
        .expect("the wizard form");
    let mut fields = Vec::new();
    for part in form.split('<').skip(1) {
        let tag = part.split('>').next().unwrap_or_default();
        if let Some(rest) = tag.strip_prefix("input ") {
            let tag = format!(" {rest}");
            let Some(name) = attr(&tag, "name") else {
                continue;
            };
            if tag.contains("type=\"checkbox\"") && !tag.contains(" checked") {
                continue;
            }
            fields.push((name, attr(&tag, "value").unwrap_or_default()));
        }
    }
    for chunk in form.split("<select ").skip(1) {
        let head = chunk.split('>').next().unwrap_or_default();
        let name = attr(&format!(" {head}"), "name").expect("select name");
        let body = chunk.split("</select>").next().unwrap_or_default();
        let options: Vec<&str> = body.split("<option ").skip(1).collect();
        let chosen = options
            .iter()
            .find(|o| o.split('>').next().unwrap_or_default().contains("selected"))
            .or(options.first())
            .expect("an option");
        fields.push((name, attr(&format!(" {chosen}"), "value").expect("value")));
    }
    fields
}

/// Sets the demo project's Nova `cores` and Cinder `gigabytes` quotas as the cloud's admin.
async fn set_quotas(server: &Server, project: &str, cores: i64, gigabytes: i64) {
    let cloud = server.cloud.as_ref().expect("the built-in cloud");
    let creds = cloud.credentials();
    let http = reqwest::Client::new();
    let auth = serde_json::json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": creds.admin.username, "domain": {"name": "Default"}, "password": creds.admin.password}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}});
    let r = http
        .post(format!("{}/auth/tokens", creds.auth_url))
        .json(&auth)
        .send()
        .await
        .expect("admin token");
    assert_eq!(r.status(), 201);
    let token = r
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .expect("token")
        .to_owned();
    let root = creds.auth_url.trim_end_matches("/identity/v3").to_owned();
    for (path, body) in [
        (
            format!("{root}/compute/v2.1/os-quota-sets/{project}"),
            serde_json::json!({"quota_set": {"cores": cores}}),
        ),
        (
            format!(
                "{root}/volume/v3/{}/os-quota-sets/{project}",
                creds.admin.project_id
            ),
            serde_json::json!({"quota_set": {"gigabytes": gigabytes}}),
        ),
    ] {
        let r = http
            .put(&path)
            .header("x-auth-token", &token)
            .json(&body)
            .send()
            .await
            .expect("PUT quota");
        assert_eq!(
            r.status(),
            200,
            "{path}: {}",
            r.text().await.unwrap_or_default()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_shortfall_is_flagged_and_deploy_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let (server, _) = start(dir.path()).await;
    let base = server.url.clone();
    let creds: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("demo-credentials.json")).expect("demo credentials"),
    )
    .expect("json");
    let project = creds["cloud"]["project_id"]
        .as_str()
        .expect("project id")
        .to_owned();
    let auth_token = creds["project"]["auth_token"].as_str().expect("token");

    let c = Browser::new(&base);
    let csrf0 = c.csrf().await;
    let (status, _) = c
        .post(
            "/signin",
            &[
                ("_csrf", &csrf0),
                ("kind", "project"),
                ("project_token", auth_token),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (status, page) = c.get(&format!("/services/{HELLO}/plans/pro")).await;
    assert_eq!(status, 200);
    // The 2-vCPU flavor, 20 GB data disk (+ the 10 GB system disk).
    let big = {
        let at = page.find("Standard-2-4-40").expect("a 2-vCPU flavor");
        let before = &page[..at];
        let v = before.rfind("value=\"").expect("option value") + 7;
        before[v..].split('"').next().expect("id").to_owned()
    };
    let mut form = form_of(&page);
    for (k, v) in form.iter_mut() {
        if k == "flavor" {
            *v = big.clone();
        }
        if k == "data_size" {
            *v = "20".into();
        }
    }
    let as_refs = |f: &[(String, String)]| -> Vec<(String, String)> { f.to_vec() };
    let post = |path: String, f: Vec<(String, String)>| {
        let c = &c;
        async move {
            let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            c.post(&path, &refs).await
        }
    };

    // Quotas that allow it: the review says so and offers to deploy.
    let (status, review) = post(
        format!("/services/{HELLO}/plans/pro/review"),
        as_refs(&form),
    )
    .await;
    assert_eq!(status, 200, "{review}");
    assert!(
        review.contains("data-quota=\"ok\"") && review.contains(">Deploy</button>"),
        "{review}"
    );

    // One vCPU and 25 GB: both fall short; the review says what to change, no deploy button.
    set_quotas(&server, &project, 1, 25).await;
    let (status, review) = post(
        format!("/services/{HELLO}/plans/pro/review"),
        as_refs(&form),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        review.contains("quotas do not allow this deployment"),
        "{review}"
    );
    let row = |key: &str| {
        let at = review
            .find(&format!("data-shortfall=\"{key}\""))
            .unwrap_or_else(|| panic!("no {key} shortfall in {review}"));
        review[at..].split("</li>").next().expect("row").to_owned()
    };
    let cores = row("cores");
    assert!(
        cores.contains("needs 2, free 1") && cores.contains("fewer vCPUs"),
        "{cores}"
    );
    let gb = row("gigabytes");
    assert!(
        gb.contains("needs 30, free 25") && gb.contains("smaller"),
        "{gb}"
    );
    assert!(!review.contains(">Deploy</button>"));
    // Posting the deploy anyway is refused with the same page; nothing is created.
    let (status, refused) = post(
        format!("/services/{HELLO}/plans/pro/deploy"),
        as_refs(&form),
    )
    .await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused.contains("data-shortfall=\"cores\""));
    let (_, list) = c.get("/deployments").await;
    assert!(list.contains("Nothing deployed yet"), "{list}");
    // "Change the answers" returns to the wizard with the chosen flavor kept.
    let mut edit = form.clone();
    edit.push(("_edit".into(), "1".into()));
    let (status, wizard) = post(format!("/services/{HELLO}/plans/pro/review"), edit).await;
    assert_eq!(status, 200);
    assert!(wizard.contains("form class=\"wizard\""));
    assert!(
        wizard.contains(&format!("value=\"{big}\" selected")),
        "{wizard}"
    );
    // A smaller flavor and disk fit: 1 vCPU, 10 + 10 GB.
    let small = {
        let at = page.find("Basic-1-2-20").expect("a 1-vCPU flavor");
        let before = &page[..at];
        let v = before.rfind("value=\"").expect("option value") + 7;
        before[v..].split('"').next().expect("id").to_owned()
    };
    for (k, v) in form.iter_mut() {
        if k == "flavor" {
            *v = small.clone();
        }
        if k == "data_size" {
            *v = "10".into();
        }
    }
    let (_, review) = post(
        format!("/services/{HELLO}/plans/pro/review"),
        as_refs(&form),
    )
    .await;
    assert!(review.contains("data-quota=\"ok\""), "{review}");
}
