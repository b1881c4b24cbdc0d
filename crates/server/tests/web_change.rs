//! Changing a running deployment from the pages, over real HTTP: the change wizard opens with
//! the deployment's current answers, the preview says what each changed answer does (from the
//! deployment system's plan) and the price before and after, apply runs the broker's update and
//! the page shows the deployment running again; a newer published revision is offered as an
//! upgrade with the same preview, and one that cannot carry the answers over is refused with
//! its reasons. The probe package makes only `random` and `null` resources (no VM needed).

mod osb_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use osb_common::*;

/// A client that keeps cookies and does not follow redirects.
struct Browser {
    c: reqwest::Client,
    cookies: std::sync::Mutex<Vec<(String, String)>>,
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

    fn header(&self) -> String {
        let jar = self.cookies.lock().expect("jar");
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, String, Option<String>) {
        let r = req
            .header("accept-language", "en")
            .header("cookie", self.header())
            .send()
            .await
            .expect("request");
        {
            let mut jar = self.cookies.lock().expect("jar");
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
        let loc = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap_or_default().to_owned());
        (r.status().as_u16(), r.text().await.expect("body"), loc)
    }

    async fn get(&self, url: &str) -> (u16, String, Option<String>) {
        self.send(self.c.get(url)).await
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> (u16, String, Option<String>) {
        self.send(self.c.post(url).form(form)).await
    }
}

fn csrf(page: &str) -> String {
    let at = page.find("name=\"_csrf\" value=\"").expect("csrf field") + 20;
    page[at..].split('"').next().expect("value").to_owned()
}

/// The text of the element marked `attr` (`data-price-after>…<`).
fn marked<'a>(page: &'a str, attr: &str) -> &'a str {
    let at = page
        .find(&format!("{attr}>"))
        .unwrap_or_else(|| panic!("no {attr} in\n{page}"))
        + attr.len()
        + 1;
    page[at..].split('<').next().unwrap_or_default()
}

/// Revision `revision` of the probe: `add_color` adds the option `color` (default `blue`) with
/// a resource and an output; `drop_size` removes the option `size`.
fn probe_revision(dir: &Path, revision: &str, add_color: bool, drop_size: bool) -> PathBuf {
    let pkg = dir.join(format!("probe-{revision}")).join("osb_probe");
    copy_dir(&probe_dir(), &pkg);
    edit(
        &pkg.join("service.yaml"),
        "revision: \"1.0\"",
        &format!("revision: \"{revision}\""),
    );
    for plan in ["small", "large"] {
        let deploy = pkg.join(format!("plans/{plan}/deployment/deploy.tf"));
        let display = pkg.join(format!("plans/{plan}/display.yaml"));
        if add_color {
            edit(
                &display,
                "          - name: zone\n",
                "          - name: zone\n          - name: color\n",
            );
            let mut text = std::fs::read_to_string(&deploy).expect("read");
            text.push_str(
                "\nvariable \"color\" {\n  type = string\n}\n\nresource \"null_resource\" \"color\" {\n  triggers = {\n    color = var.color\n  }\n}\n\noutput \"color\" {\n  description = \"The color\"\n  value       = \"color-${var.color}\"\n}\n",
            );
            std::fs::write(&deploy, text).expect("write");
        }
        if drop_size {
            edit(&display, "          - name: size\n", "");
            edit(&deploy, "variable \"size\" {\n  type = number\n}\n", "");
            edit(&deploy, "    size     = tostring(var.size)\n", "");
            edit(
                &deploy,
                "output \"size\" {\n  description = \"The size\"\n  value       = var.size\n}\n",
                "",
            );
        }
    }
    if add_color {
        std::fs::write(
            pkg.join("parameters/color.yaml"),
            "actions:\n  - create\n  - update\n\nschema:\n  description: Color\n  type: string\n  enum: [\"blue\", \"green\"]\n  default: blue\n",
        )
        .expect("color option");
    }
    if drop_size {
        std::fs::remove_file(pkg.join("parameters/size.yaml")).expect("remove size");
        edit(
            &pkg.join("service.yaml"),
            "    - name: size\n",
            "    - name: greeting\n",
        );
        edit(
            &pkg.join("plans/large/plan.yaml"),
            "parameters_patch:\n  size:\n    schema.maximum: 100\n",
            "",
        );
    }
    pkg
}

/// Polls the deployment page until it is `running` and shows `text`.
async fn running_with(b: &Browser, url: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, page, _) = b.get(url).await;
        assert_eq!(status, 200, "{page}");
        if page.contains("data-status>running<") && page.contains(text) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "never running with {text:?}:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_options_preview_apply_and_upgrade_from_the_deployment_page() {
    let env = Env::start().await;
    let scratch = env.dir.path().to_path_buf();
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
    let (_, page, _) = b.get(&format!("{base}/signin")).await;
    let (status, _, _) = b
        .post(
            &format!("{base}/signin"),
            &[
                ("_csrf", &csrf(&page)),
                ("kind", "project"),
                ("project_token", token.expose()),
            ],
        )
        .await;
    assert_eq!(status, 303);

    // Deploy the free plan with answers that are not the defaults.
    let (_, page, _) = b
        .get(&format!("{base}/services/{PROBE_SERVICE}/plans/small"))
        .await;
    let (status, page, loc) = b
        .post(
            &format!("{base}/services/{PROBE_SERVICE}/plans/small/deploy"),
            &[
                ("_csrf", &csrf(&page)),
                ("_revision", "1.0"),
                ("greeting", "hello web"),
                ("size", "3"),
                ("zone", "z2"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{page}");
    let at = loc.expect("location");
    let url = format!("{base}{at}");
    let page = running_with(&b, &url, "hello web").await;
    assert!(page.contains(&format!("href=\"{at}/change\"")), "{page}");
    assert!(page.contains("Switch to plan: Large"), "{page}");
    assert!(!page.contains("data-upgrade"), "no newer revision yet");

    // The change wizard shows the current answers, not the defaults.
    let (status, page, _) = b.get(&format!("{url}/change")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("value=\"hello web\""), "{page}");
    assert!(page.contains("value=\"3\""), "{page}");
    assert!(
        page.contains("<option value=\"z2\" selected>"),
        "the zone chosen at deploy time:\n{page}"
    );
    let token = csrf(&page);

    // One answer changed on the same plan: what it does, in words, from the plan preview.
    let (status, page, _) = b
        .post(
            &format!("{url}/change/preview"),
            &[
                ("_csrf", &token),
                ("greeting", "good day"),
                ("size", "3"),
                ("zone", "z2"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("What the change will do"), "{page}");
    assert!(page.contains("<th scope=\"row\">Greeting</th>"), "{page}");
    assert!(page.contains("<td>hello web</td>"), "{page}");
    assert!(page.contains("<strong>good day</strong>"), "{page}");
    assert!(page.contains("data-effect=\"replace\""), "{page}");
    assert!(page.contains("null_resource.answers: made anew"), "{page}");
    assert!(
        !page.contains("random_password.admin:"),
        "the password does not change:\n{page}"
    );
    assert_eq!(
        marked(&page, "data-price-before"),
        marked(&page, "data-price-after")
    );

    // An invalid answer goes back to the wizard with its error.
    let (status, page, _) = b
        .post(
            &format!("{url}/change/preview"),
            &[("_csrf", &token), ("greeting", "Bad <answer>")],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Greeting"), "{page}");

    // Another plan: the plan and the price before and after.
    let (status, page, _) = b.get(&format!("{url}/change?plan=large")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("value=\"hello web\""), "{page}");
    let (status, page, _) = b
        .post(
            &format!("{url}/change/preview"),
            &[
                ("_csrf", &token),
                ("_plan", "large"),
                ("greeting", "good day"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Small → <strong>Large</strong>"), "{page}");
    assert!(
        marked(&page, "data-price-before").starts_with("0.00"),
        "{page}"
    );
    assert!(
        marked(&page, "data-price-after").starts_with("500.00"),
        "{page}"
    );
    assert!(page.contains("null_resource.answers: made anew"), "{page}");
    assert!(page.contains("name=\"_plan\" value=\"large\""), "{page}");

    // Apply: the broker's update runs; the deployment page shows it running again.
    let (status, page, loc) = b
        .post(
            &format!("{url}/change/apply"),
            &[
                ("_csrf", &token),
                ("_plan", "large"),
                ("greeting", "good day"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(loc.as_deref(), Some(at.as_str()));
    let page = running_with(&b, &url, "good day").await;
    assert!(
        page.contains("<code>large</code>"),
        "the plan output:\n{page}"
    );
    assert!(!page.contains("Switch to plan: Large"), "{page}");
    assert!(
        page.contains("<small>large</small>"),
        "the plan it runs now:\n{page}"
    );

    // A newer revision is published: the page offers the upgrade with its preview.
    env.upload(&probe_revision(&scratch, "2.0", true, false))
        .await;
    env.publish(PROBE_SERVICE, "2.0").await;
    let page = running_with(&b, &url, "data-upgrade").await;
    assert!(page.contains("Upgrade to revision 2.0"), "{page}");
    let (status, page, _) = b.get(&format!("{url}/upgrade")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("1.0 → <strong>2.0</strong>"), "{page}");
    assert!(page.contains("<th scope=\"row\">Color</th>"), "{page}");
    assert!(page.contains("null_resource.color: added"), "{page}");
    assert!(page.contains("Apply the upgrade"), "{page}");
    let (status, page, _) = b
        .post(
            &format!("{url}/change/apply"),
            &[("_csrf", &csrf(&page)), ("_upgrade", "1")],
        )
        .await;
    assert_eq!(status, 303, "{page}");
    let page = running_with(&b, &url, "color-blue").await;
    assert!(!page.contains("data-upgrade"), "{page}");

    // A revision that drops an option in use is refused with the reason.
    env.upload(&probe_revision(&scratch, "3.0", false, true))
        .await;
    env.publish(PROBE_SERVICE, "3.0").await;
    let page = running_with(&b, &url, "Upgrade to revision 3.0").await;
    assert!(page.contains("data-upgrade"), "{page}");
    let (status, page, _) = b.get(&format!("{url}/upgrade")).await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("This deployment cannot move to the new revision"),
        "{page}"
    );
    assert!(page.contains("`size` is in use"), "{page}");
    assert!(!page.contains("Apply the upgrade"), "{page}");

    // Another project's visitor cannot open the change pages.
    let other = Browser::new();
    let (status, _, loc) = other.get(&format!("{url}/change")).await;
    assert_eq!(status, 303);
    assert!(loc.unwrap_or_default().starts_with("/signin"));
    env.stop().await;
}
