//! `GET /`: what this server runs and how to use it, until the marketplace pages exist.
//!
//! Every value on the page comes from the running server (its URL, the built-in cloud and its
//! network mode); the text is escaped, so nothing a user configured can inject markup.

use axum::response::Html;

/// What the page shows.
#[derive(Clone, Debug)]
pub struct HomeInfo {
    /// The server's URL, as printed at start-up.
    pub url: String,
    /// The built-in cloud's network mode (`isolated` or `shared`), when it is mounted.
    pub cloud_network: Option<String>,
    /// The config service URL agents in VMs use, when it differs from `url`.
    pub agent_url: Option<String>,
}

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the page.
pub fn render(info: &HomeInfo) -> Html<String> {
    let url = esc(&info.url);
    let cloud = match &info.cloud_network {
        Some(mode) => format!(
            "<li>Built-in OpenStack cloud (<code>localcloud</code>): identity at \
             <code>{url}/cloud/identity/v3</code>, network mode <strong>{}</strong> \
             (<a href=\"{url}/cloud/healthz\">health</a>)</li>",
            esc(mode)
        ),
        None => "<li>No built-in cloud in this server</li>".to_owned(),
    };
    let agents = match &info.agent_url {
        Some(a) => format!(
            "<li>Config service for the engine at <code>{url}</code>; agents in VMs reach it at \
             <code>{}</code></li>",
            esc(a)
        ),
        None => format!("<li>Config service at <code>{url}</code></li>"),
    };
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vitrina</title>
<style>
:root {{ color-scheme: light dark; }}
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }}
code, pre {{ font-family: ui-monospace, monospace; font-size: 0.9em; }}
pre {{ padding: 0.75rem; border: 1px solid #8884; border-radius: 6px; overflow-x: auto; }}
</style>
</head>
<body>
<main>
<h1>vitrina</h1>
<p>A self-hosted application marketplace for VM clouds. This server runs:</p>
<ul>
{cloud}
{agents}
<li>The product API on VK's paths (<code>{url}/marketplace/api/infra-api/api/v1-public/product</code>)</li>
<li><a href="{url}/healthz">Health</a>, <a href="{url}/metrics">metrics</a> (Prometheus text) and the
<a href="{url}/api/openapi.json">OpenAPI document</a> of every JSON API</li>
</ul>
<h2>Try it</h2>
<p>With <code>--demo</code>, the data folder holds <code>clouds.yaml</code>, <code>demo.env</code> and
<code>demo-credentials.json</code>. Deploy a VM whose agent runs scripts and a health check:</p>
<pre>. vitrina-data/demo.env
vitrina tf apply examples/tf/localcloud-agent --auto-approve
openstack server list
vitrina tf destroy examples/tf/localcloud-agent --auto-approve</pre>
<p>Check a service package as the marketplace would, and upload it as the demo vendor (the
examples are already published):</p>
<pre>vitrina package validate examples/packages/hello_web
vitrina package upload MY_PACKAGE --server {url} \
  --service-token "$(jq -r .vendor.service_token vitrina-data/demo-credentials.json)"
curl -s -H "x-service-token: $(jq -r .vendor.service_token vitrina-data/demo-credentials.json)" \
  {url}/marketplace/api/infra-api/api/v1-public/product</pre>
</main>
</body>
</html>
"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let page = render(&HomeInfo {
            url: "http://127.0.0.1:1/<script>".into(),
            cloud_network: Some("isolated".into()),
            agent_url: Some("http://198.18.0.1:1\"".into()),
        })
        .0;
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("198.18.0.1:1&quot;"));
        assert!(page.contains("network mode <strong>isolated</strong>"));
    }
}
