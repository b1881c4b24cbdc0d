//! Deploying from the wizard and watching the deployment in the pages: the same broker and
//! deployment system the OSB API uses, over real HTTP, with a package whose manifest makes only
//! `random` and `null` resources (so no VM is needed). No generated secret, token or session
//! appears in any line of the server's log.

mod log_capture;
mod osb_common;

use std::time::{Duration, Instant};

use osb_common::*;

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

    async fn get(&self, url: &str) -> (u16, String, Option<String>) {
        let r = self
            .c
            .get(url)
            .header("accept-language", "en")
            .header("cookie", self.cookies())
            .send()
            .await
            .expect("GET");
        self.keep(&r);
        let loc = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap_or_default().to_owned());
        (r.status().as_u16(), r.text().await.expect("body"), loc)
    }

    async fn post(&self, url: &str, form: &[(String, String)]) -> (u16, String, Option<String>) {
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
        let loc = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap_or_default().to_owned());
        (r.status().as_u16(), r.text().await.expect("body"), loc)
    }
}

fn csrf(page: &str) -> String {
    let at = page.find("name=\"_csrf\" value=\"").expect("csrf field") + 20;
    page[at..].split('"').next().expect("value").to_owned()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_watch_reveal_and_delete_from_the_pages() {
    log_capture::install();
    let env = Env::start().await;
    env.upload(&probe_dir()).await;
    env.publish(PROBE_SERVICE, "1.0").await;
    let base = env.server.url.clone();
    let token = env
        .server
        .tenants
        .issue_project_token(&env.project)
        .await
        .expect("token");
    let b = Browser::new();

    // Anonymous visitors review but are asked to sign in before deploying.
    let (status, page, _) = b
        .get(&format!("{base}/services/{PROBE_SERVICE}/plans/large"))
        .await;
    assert_eq!(status, 200, "{page}");
    let form = pairs(&[
        ("_csrf", &csrf(&page)),
        ("_revision", "1.0"),
        ("greeting", "hello web"),
        ("size", "3"),
        ("zone", "z2"),
    ]);
    let (status, page, _) = b
        .post(
            &format!("{base}/services/{PROBE_SERVICE}/plans/large/review"),
            &form,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Sign in to deploy"), "{page}");

    // Signed in as the project, the review offers Deploy; deploying leads to the deployment.
    let (_, page, _) = b.get(&format!("{base}/signin")).await;
    let (status, _, _) = b
        .post(
            &format!("{base}/signin"),
            &pairs(&[
                ("_csrf", &csrf(&page)),
                ("kind", "project"),
                ("project_token", token.expose()),
            ]),
        )
        .await;
    assert_eq!(status, 303);
    let (_, page, _) = b
        .get(&format!("{base}/services/{PROBE_SERVICE}/plans/large"))
        .await;
    let mut form = form.clone();
    form[0].1 = csrf(&page);
    let (status, page, _) = b
        .post(
            &format!("{base}/services/{PROBE_SERVICE}/plans/large/review"),
            &form,
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains(">Deploy</button>"), "{page}");
    let (status, page, loc) = b
        .post(
            &format!("{base}/services/{PROBE_SERVICE}/plans/large/deploy"),
            &form,
        )
        .await;
    assert_eq!(status, 303, "{page}");
    let at = loc.expect("location");
    assert!(at.starts_with("/deployments/"), "{at}");

    // The deployment page reaches `running` and shows the outputs, the secret masked.
    let deadline = Instant::now() + Duration::from_secs(120);
    let page = loop {
        let (status, page, _) = b.get(&format!("{base}{at}")).await;
        assert_eq!(status, 200, "{page}");
        if page.contains("data-status>running<") {
            break page;
        }
        assert!(Instant::now() < deadline, "never running:\n{page}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(page.contains("probe.invalid"), "{page}");
    assert!(page.contains("hello web"));
    assert!(
        page.contains("&lt;sensitive&gt;") || page.contains("<sensitive>"),
        "{page}"
    );
    let (_, list, _) = b.get(&format!("{base}/deployments")).await;
    assert!(list.contains(&at), "{list}");

    // Reveal shows the password (and the deployment system records the reveal).
    let (status, revealed, _) = b
        .post(
            &format!("{base}{at}/reveal"),
            &pairs(&[("_csrf", &csrf(&page))]),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!revealed.contains("&lt;sensitive&gt;"), "{revealed}");
    // What the reveal shows and the masked page does not (the generated password), for the
    // log check below.
    let words = |html: &str| -> std::collections::BTreeSet<String> {
        html.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| w.len() >= 12)
            .map(str::to_owned)
            .collect()
    };
    let shown_before = words(&page);
    let sensitive: Vec<(&str, String)> = words(&revealed)
        .into_iter()
        .filter(|w| !shown_before.contains(w))
        .map(|w| ("revealed secret", w))
        .collect();
    assert!(!sensitive.is_empty(), "the probe has a sensitive output");

    // Another project cannot see it.
    let other = Browser::new();
    let (status, _, loc) = other.get(&format!("{base}{at}")).await;
    assert_eq!(status, 303, "anonymous visitors are sent to sign in");
    assert!(loc.unwrap_or_default().starts_with("/signin"));

    // Delete, then the page says deleted.
    let (status, _, _) = b
        .post(
            &format!("{base}{at}/delete"),
            &pairs(&[("_csrf", &csrf(&page))]),
        )
        .await;
    assert_eq!(status, 303);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, page, _) = b.get(&format!("{base}{at}")).await;
        if page.contains("data-status>deleted<") {
            break;
        }
        assert!(Instant::now() < deadline, "never deleted:\n{page}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut secrets = sensitive;
    secrets.push(("project token", token.expose().to_owned()));
    secrets.push(("vendor token", env.vendor_token.clone()));
    for cookie in b.cookies().split("; ").filter_map(|c| c.split_once('=')) {
        if cookie.1.len() >= 16 {
            secrets.push(("session cookie", cookie.1.to_owned()));
        }
    }
    let checked = log_capture::assert_no_secret(&secrets);
    assert!(checked > 0, "the server logged nothing");
    env.stop().await;
}
