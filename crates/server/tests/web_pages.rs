//! The marketplace pages over real HTTP: catalog, service page with its tariff matrix, and the
//! wizard whose side panel the server recomputes on every change (prices from `pricing`,
//! conditions and errors from `forms`, flavors listed live from the built-in cloud).

use std::path::PathBuf;

use vitrina_server::{Server, ServerConfig};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/packages")
        .join(name)
}

async fn start(dir: &std::path::Path) -> Server {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().expect("addr"), dir);
    cfg.cloud = true;
    cfg.cloud_network = vitrina_localcloud::NetworkSetting::Shared;
    let server = Server::start(cfg).await.expect("server starts");
    // The demo uploads and publishes the example packages through the product store.
    vitrina_server::demo::setup(&server, dir, &example(""))
        .await
        .expect("demo set-up");
    server.set_ready();
    server
}

const HELLO: &str = "2cfe21ad-f403-47a7-9c00-74e92d1ee7db";

/// A client that keeps cookies, as a browser does.
struct Browser {
    c: reqwest::Client,
    cookies: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
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
            assert!(
                line.contains("HttpOnly") && line.contains("SameSite=Lax"),
                "{line}"
            );
            let (k, rest) = line.split_once('=').expect("name=value");
            let value = rest.split(';').next().unwrap_or_default();
            if value.is_empty() {
                jar.remove(k);
            } else {
                jar.insert(k.to_owned(), value.to_owned());
            }
        }
    }

    async fn get(&self, url: String) -> (u16, String) {
        let r = self
            .c
            .get(url)
            .header("accept-language", "en")
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.keep(&r);
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    async fn post(&self, url: String, form: &[(&str, &str)]) -> reqwest::Response {
        let r = self
            .c
            .post(url)
            .header("accept-language", "en")
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("POST");
        self.keep(&r);
        r
    }
}

/// The CSRF token a page's forms carry.
fn csrf(page: &str) -> String {
    let at = page.find("name=\"_csrf\" value=\"").expect("csrf field") + 20;
    page[at..].split('"').next().expect("value").to_owned()
}

async fn evaluate(b: &Browser, base: &str, plan: &str, form: &[(&str, &str)]) -> serde_json::Value {
    let r = b
        .post(
            format!("{base}/services/{HELLO}/plans/{plan}/evaluate"),
            form,
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

/// The amount in the panel's total: `1 234.50 ₽` → 1234.50.
fn total(v: &serde_json::Value) -> f64 {
    let panel = v["panel"].as_str().expect("panel");
    let at = panel.find("data-total>").expect("total in panel") + "data-total>".len();
    let text: String = panel[at..]
        .chars()
        .take_while(|c| *c != '<')
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    text.parse().expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_service_page_and_live_wizard() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = start(dir.path()).await;
    let base = server.url.clone();
    let c = Browser::new();

    // Catalog: cards with names and "from" prices; search by text.
    let (status, page) = c.get(format!("{base}/")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Hello Web"), "{page}");
    assert!(page.contains("from 990.00"), "{page}");
    let (_, found) = c.get(format!("{base}/?q=hello")).await;
    assert!(found.contains("Hello Web"));
    let (_, none) = c.get(format!("{base}/?q=no-such-app")).await;
    assert!(!none.contains("Hello Web"));
    assert!(none.contains("No application matches"));

    // Service page: description rendered, the matrix with both plans and their prices.
    let (status, page) = c.get(format!("{base}/services/{HELLO}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("<table class=\"matrix\">"));
    assert!(page.contains("990.00"), "{page}");
    assert!(page.contains("Free"));
    assert!(page.contains(&format!("/services/{HELLO}/plans/pro")));
    assert!(page.contains(&format!("/services/{HELLO}/plans/free")));
    let (status, _) = c.get(format!("{base}/services/{HELLO}/icon")).await;
    assert_eq!(status, 200);
    let (status, _) = c.get(format!("{base}/services/nope")).await;
    assert_eq!(status, 404);

    // Wizard: every option has a label; flavors come from the cloud.
    let (status, page) = c.get(format!("{base}/services/{HELLO}/plans/pro")).await;
    assert_eq!(status, 200);
    for label in [
        "Тип виртуальной машины",
        "Размер диска данных, ГБ",
        "Хранение журналов посещений, дней",
    ] {
        assert!(page.contains(label), "{label}");
    }
    assert!(
        page.contains("Basic-1-2-20"),
        "flavors listed from the cloud"
    );

    // The paid option stepped up twice adds twice its step cost (100 ₽).
    let flavor = "Basic-1-2-20";
    let token: &'static str = Box::leak(csrf(&page).into_boxed_str());
    let base_form = |steps: &'static str, flavor: &'static str| {
        vec![
            ("_csrf", token),
            ("_revision", "1.0"),
            ("flavor", flavor),
            ("data_type", "ceph-ssd"),
            ("data_size", "20"),
            ("page_title", "Hello"),
            ("log_retention_days", steps),
            // An anonymous visitor's pickers list no project's subnets: one is typed in.
            ("subnet", "00000000-0000-4000-8000-000000000001"),
        ]
    };
    let flavor_id = {
        let at = page.find(flavor).expect("flavor option");
        let before = &page[..at];
        let v = before.rfind("value=\"").expect("option value") + 7;
        before[v..].split('"').next().expect("id").to_owned()
    };
    let flavor_id: &'static str = Box::leak(flavor_id.into_boxed_str());
    let t0 = total(&evaluate(&c, &base, "pro", &base_form("0", flavor_id)).await);
    let t2v = evaluate(&c, &base, "pro", &base_form("2", flavor_id)).await;
    let t2 = total(&t2v);
    assert!((t2 - t0 - 200.0).abs() < 0.001, "{t0} → {t2}");
    assert_eq!(t2v["captions"]["log_retention_days"], "= 21 дней");

    // A bigger flavor costs more.
    let bigger = {
        let at = page.find("Standard-2-4-40").expect("bigger flavor");
        let before = &page[..at];
        let v = before.rfind("value=\"").expect("option value") + 7;
        before[v..].split('"').next().expect("id").to_owned()
    };
    let bigger: &'static str = Box::leak(bigger.into_boxed_str());
    let tb = total(&evaluate(&c, &base, "pro", &base_form("2", bigger)).await);
    assert!(tb > t2, "{t2} → {tb}");

    // An invalid value is flagged next to its field; fixed, the error goes.
    let mut bad = base_form("2", flavor_id);
    bad[4] = ("data_size", "999");
    let v = evaluate(&c, &base, "pro", &bad).await;
    assert!(
        v["errors"]["data_size"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 200"),
        "{v}"
    );
    let v = evaluate(&c, &base, "pro", &base_form("2", flavor_id)).await;
    assert!(v["errors"].as_object().expect("errors").is_empty(), "{v}");

    // Review: refused with the errors shown, accepted with every answer listed.
    let r = c
        .post(format!("{base}/services/{HELLO}/plans/pro/review"), &bad)
        .await;
    assert_eq!(r.status(), 422);
    let r = c
        .post(
            format!("{base}/services/{HELLO}/plans/pro/review"),
            &base_form("2", flavor_id),
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.expect("body");
    assert!(page.contains("21 дней"), "{page}");

    // Russian by the browser's language and by the switch.
    let r =
        c.c.get(format!("{base}/"))
            .header("accept-language", "ru-RU,ru;q=0.9")
            .send()
            .await
            .expect("GET ru");
    assert!(r.text().await.expect("body").contains("Каталог"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_wizard_renders() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = start(dir.path()).await;
    let base = server.url.clone();
    let c = Browser::new();
    let (_, catalog) = c.get(format!("{base}/")).await;
    let mut pages = 0;
    for name in ["hello_web", "kv_cluster", "grafana"] {
        let v = vitrina_package::validate_path(&example(name)).expect("reads");
        let id = v
            .model
            .service
            .as_ref()
            .and_then(|s| s.get("id"))
            .and_then(|n| n.as_str_lenient())
            .expect("id")
            .to_owned();
        assert!(
            catalog.contains(&format!("/services/{id}")),
            "{name} in the catalog"
        );
        for offer in vitrina_package::wizard::offers(&v.model) {
            let (status, page) = c
                .get(format!("{base}/services/{id}/plans/{}", offer.folder))
                .await;
            assert_eq!(status, 200, "{name} {}", offer.folder);
            pages += 1;
            // Every visible field has a label bound to its control.
            for field in offer.form.fields.keys() {
                if page.contains(&format!("name=\"{field}\"")) {
                    assert!(page.contains(&format!("for=\"f-{field}\"")), "{field}");
                }
            }
        }
    }
    assert!(pages >= 4);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sessions_and_csrf() {
    use vitrina_server::tenants::{NewCloud, NewProject};
    let dir = tempfile::tempdir().expect("tmp");
    let server = start(dir.path()).await;
    let base = server.url.clone();
    let project = server
        .tenants
        .ensure_project(&NewProject {
            name: "shop".into(),
            email: "shop@example.com".into(),
            cloud: NewCloud::Local,
        })
        .await
        .expect("project");
    let token = server
        .tenants
        .issue_project_token(&project)
        .await
        .expect("token");
    let b = Browser::new();
    let (_, page) = b.get(format!("{base}/signin")).await;
    assert!(page.contains("_csrf"), "{page}");
    let good = csrf(&page);

    // A form without this visitor's token is refused, and signs nobody in.
    let r = b
        .post(
            format!("{base}/signin"),
            &[
                ("_csrf", "forged"),
                ("kind", "project"),
                ("project_token", token.expose()),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let other = Browser::new();
    let (_, other_page) = other.get(format!("{base}/signin")).await;
    let r = b
        .post(
            format!("{base}/signin"),
            &[
                ("_csrf", &csrf(&other_page)),
                ("kind", "project"),
                ("project_token", token.expose()),
            ],
        )
        .await;
    assert_eq!(r.status(), 403, "another visitor's token does not fit");

    // A wrong token: one answer for every failure.
    let r = b
        .post(
            format!("{base}/signin"),
            &[
                ("_csrf", &good),
                ("kind", "project"),
                ("project_token", "vtp_nope"),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
    let body = r.text().await.expect("body");
    assert!(body.contains("were not accepted"), "{body}");

    // The project's token signs in; the session cookie is HttpOnly and SameSite (checked in
    // `keep`) and Secure on loopback.
    let r = b
        .post(
            format!("{base}/signin"),
            &[
                ("_csrf", &good),
                ("kind", "project"),
                ("project_token", token.expose()),
                ("next", "/?q=hello"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/?q=hello");
    let line = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        line.starts_with("vitrina_session=") && line.contains("Secure"),
        "{line}"
    );
    let (_, page) = b.get(format!("{base}/")).await;
    assert!(
        page.contains("Signed in as <strong>shop</strong>"),
        "{page}"
    );
    // The stored session is a hash: the cookie's value is nowhere in the database file.
    let value = line
        .split(';')
        .next()
        .unwrap_or_default()
        .split_once('=')
        .expect("v")
        .1
        .to_owned();
    let db = std::fs::read(dir.path().join("vitrina.db")).expect("db");
    assert!(!db.windows(value.len()).any(|w| w == value.as_bytes()));

    // The project's cloud user and password sign in too; a wrong password does not.
    let creds = server
        .tenants
        .project_cloud(
            &server
                .tenants
                .project_by_token(token.expose())
                .await
                .expect("ctx"),
        )
        .await
        .expect("cloud");
    let c2 = Browser::new();
    let (_, p2) = c2.get(format!("{base}/signin")).await;
    let t2 = csrf(&p2);
    let r = c2
        .post(
            format!("{base}/signin"),
            &[
                ("_csrf", &t2),
                ("kind", "project"),
                ("project", "shop"),
                ("username", &creds.username),
                ("password", "wrong"),
            ],
        )
        .await;
    assert_eq!(r.status(), 401);
    let r = c2
        .post(
            format!("{base}/signin"),
            &[
                ("_csrf", &t2),
                ("kind", "project"),
                ("project", "shop"),
                ("username", &creds.username),
                ("password", creds.password.expose()),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);

    // Sign out ends the session on the server, not only in the browser.
    let (_, page) = b.get(format!("{base}/")).await;
    let r = b
        .post(format!("{base}/signout"), &[("_csrf", &csrf(&page))])
        .await;
    assert_eq!(r.status(), 303);
    let stale = Browser::new();
    stale
        .cookies
        .lock()
        .expect("jar")
        .insert("vitrina_session".into(), value);
    let (_, page) = stale.get(format!("{base}/")).await;
    assert!(!page.contains("Signed in as"));
    server.stop().await;
}
