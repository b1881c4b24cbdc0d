//! Keystone over real HTTP: the admin API (domains, projects, users, groups, roles, role
//! assignments) makes a second tenant that sees nothing of the first; and each Keystone finding
//! of the 2026-12 probe (L3, L4, H5) as a test that now holds.

mod common;

use common::TestCloud;
use reqwest::Method;
use serde_json::{json, Value};

/// A token of the bootstrap admin, scoped to the admin project.
async fn admin_token(tc: &TestCloud) -> String {
    let creds = tc.cloud.credentials();
    tc.password_token(&creds.admin.username, &creds.admin.password, "admin")
        .await
}

/// `POST`s `body` as `token`; returns status and body.
async fn post_as(tc: &TestCloud, token: &str, path: &str, body: Value) -> (u16, Value) {
    tc.call_as(token, Method::POST, path, Some(&body.to_string()))
        .await
}

/// Issues a token from an auth body; returns (status, token id).
async fn issue(tc: &TestCloud, body: Value) -> (u16, String) {
    let resp = tc
        .http
        .post(tc.url("/identity/v3/auth/tokens"))
        .json(&body)
        .send()
        .await
        .expect("auth request");
    let status = resp.status().as_u16();
    let id = resp
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, id)
}

/// Makes project `name` with user `name` holding `member` there; returns (project id, user id,
/// password).
async fn tenant(tc: &TestCloud, admin: &str, name: &str) -> (String, String, String) {
    let (s, p) = post_as(
        tc,
        admin,
        "/identity/v3/projects",
        json!({"project": {"name": name, "description": "second tenant"}}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    let pid = p["project"]["id"].as_str().unwrap().to_owned();
    let password = format!("{name}-secret");
    let (s, u) = post_as(
        tc,
        admin,
        "/identity/v3/users",
        json!({"user": {"name": name, "password": password, "default_project_id": pid}}),
    )
    .await;
    assert_eq!(s, 201, "{u}");
    let uid = u["user"]["id"].as_str().unwrap().to_owned();
    let roles = tc
        .call_as(admin, Method::GET, "/identity/v3/roles?name=member", None)
        .await
        .1;
    let rid = roles["roles"][0]["id"].as_str().unwrap().to_owned();
    let (s, v) = tc
        .call_as(
            admin,
            Method::PUT,
            &format!("/identity/v3/projects/{pid}/users/{uid}/roles/{rid}"),
            None,
        )
        .await;
    assert_eq!(s, 204, "{v}");
    (pid, uid, password)
}

#[tokio::test]
async fn admin_api_makes_a_second_tenant_that_sees_nothing_of_the_first() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    // The demo project owns a network and a volume.
    let (demo_net, _) = tc.network("demo-net", "10.10.0.0/24").await;
    let (s, vol) = tc
        .post(
            "/volume/v3/{project}/volumes",
            json!({"volume": {"size": 1, "name": "demo-vol"}}),
        )
        .await;
    assert_eq!(s, 202, "{vol}");

    let (pid, uid, password) = tenant(&tc, &admin, "tenant2").await;
    // Duplicate names are Keystone's 409; a member cannot use the admin API.
    let (s, _) = post_as(
        &tc,
        &admin,
        "/identity/v3/projects",
        json!({"project": {"name": "tenant2"}}),
    )
    .await;
    assert_eq!(s, 409);
    let (s, v) = post_as(
        &tc,
        &tc.token,
        "/identity/v3/projects",
        json!({"project": {"name": "mine"}}),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    let (s, _) = tc.call(Method::GET, "/identity/v3/users", None).await;
    assert_eq!(s, 403);

    let t2 = tc.password_token("tenant2", &password, "tenant2").await;
    let nets = tc
        .call_as(&t2, Method::GET, "/networking/v2.0/networks", None)
        .await
        .1;
    let names: Vec<&str> = nets["networks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert!(!names.contains(&"demo-net"), "{names:?}");
    let (s, _) = tc
        .call_as(
            &t2,
            Method::GET,
            &format!("/networking/v2.0/networks/{demo_net}"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let vols = tc
        .call_as(&t2, Method::GET, &format!("/volume/v3/{pid}/volumes"), None)
        .await
        .1;
    assert_eq!(vols["volumes"], json!([]));
    let servers = tc
        .call_as(&t2, Method::GET, "/compute/v2.1/servers", None)
        .await
        .1;
    assert_eq!(servers["servers"], json!([]));
    // Its own resources work and stay its own.
    let (s, n) = post_as(
        &tc,
        &t2,
        "/networking/v2.0/networks",
        json!({"network": {"name": "t2-net"}}),
    )
    .await;
    assert_eq!(s, 201, "{n}");
    assert_eq!(n["network"]["project_id"], pid.as_str());
    let demo_nets = tc.get("/networking/v2.0/networks?name=t2-net").await;
    assert_eq!(demo_nets["networks"], json!([]));
    // An admin's `--project` on create is honoured; a member naming another project gets 403.
    let (s, n) = post_as(
        &tc,
        &admin,
        "/networking/v2.0/networks",
        json!({"network": {"name": "for-t2", "project_id": pid}}),
    )
    .await;
    assert_eq!(s, 201, "{n}");
    assert_eq!(n["network"]["project_id"], pid.as_str());
    let mine = tc
        .call_as(
            &t2,
            Method::GET,
            "/networking/v2.0/networks?name=for-t2",
            None,
        )
        .await
        .1;
    assert_eq!(mine["networks"].as_array().map(Vec::len), Some(1), "{mine}");
    let (s, v) = tc
        .post(
            "/networking/v2.0/networks",
            json!({"network": {"name": "x", "tenant_id": pid}}),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["NeutronError"]["type"], "PolicyNotAuthorized");

    // The assignment shows in role_assignments, with names.
    let ra = tc
        .call_as(
            &admin,
            Method::GET,
            &format!("/identity/v3/role_assignments?user.id={uid}&include_names=1"),
            None,
        )
        .await
        .1;
    assert_eq!(ra["role_assignments"][0]["role"]["name"], "member", "{ra}");
    assert_eq!(
        ra["role_assignments"][0]["scope"]["project"]["name"],
        "tenant2"
    );

    // Removing the last role ends the user's access to the project at once.
    let rid = ra["role_assignments"][0]["role"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = tc
        .call_as(
            &admin,
            Method::DELETE,
            &format!("/identity/v3/projects/{pid}/users/{uid}/roles/{rid}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = tc
        .call_as(&t2, Method::GET, "/compute/v2.1/servers", None)
        .await;
    assert_eq!(s, 401);

    // A group's role reaches its members.
    let (s, g) = post_as(
        &tc,
        &admin,
        "/identity/v3/groups",
        json!({"group": {"name": "ops"}}),
    )
    .await;
    assert_eq!(s, 201, "{g}");
    let gid = g["group"]["id"].as_str().unwrap().to_owned();
    let (s, _) = tc
        .call_as(
            &admin,
            Method::PUT,
            &format!("/identity/v3/groups/{gid}/users/{uid}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = tc
        .call_as(
            &admin,
            Method::PUT,
            &format!("/identity/v3/projects/{pid}/groups/{gid}/roles/{rid}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let t2 = tc.password_token("tenant2", &password, "tenant2").await;
    let (s, _) = tc
        .call_as(&t2, Method::GET, "/compute/v2.1/servers", None)
        .await;
    assert_eq!(s, 200);

    // Domains: a new one, its users log in with its name; an enabled domain is not deleted.
    let (s, d) = post_as(
        &tc,
        &admin,
        "/identity/v3/domains",
        json!({"domain": {"name": "partners"}}),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    let did = d["domain"]["id"].as_str().unwrap().to_owned();
    let (s, _) = tc
        .call_as(
            &admin,
            Method::DELETE,
            &format!("/identity/v3/domains/{did}"),
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = tc
        .call_as(
            &admin,
            Method::PATCH,
            &format!("/identity/v3/domains/{did}"),
            Some(r#"{"domain": {"enabled": false}}"#),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = tc
        .call_as(
            &admin,
            Method::DELETE,
            &format!("/identity/v3/domains/{did}"),
            None,
        )
        .await;
    assert_eq!(s, 204);

    // Disabling a user ends its tokens; deleting the project removes its assignments.
    let (s, _) = tc
        .call_as(
            &admin,
            Method::PATCH,
            &format!("/identity/v3/users/{uid}"),
            Some(r#"{"user": {"enabled": false}}"#),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = tc
        .call_as(&t2, Method::GET, "/compute/v2.1/servers", None)
        .await;
    assert_eq!(s, 401);
    let (s, _) = tc
        .call_as(
            &admin,
            Method::DELETE,
            &format!("/identity/v3/projects/{pid}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = tc
        .call_as(
            &admin,
            Method::DELETE,
            &format!("/identity/v3/users/{uid}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
}

/// L4: with several methods, every one is checked.
#[tokio::test]
async fn every_auth_method_is_checked() {
    let tc = TestCloud::start().await;
    let creds = tc.cloud.credentials();
    let (s, _) = issue(&tc, json!({"auth": {"identity": {"methods": ["token", "password"], "token": {"id": tc.token},
        "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "wrong"}}}}})).await;
    assert_eq!(s, 401, "a wrong password next to a good token");
    let demo = &creds.projects["demo"];
    let (s, _) = issue(&tc, json!({"auth": {"identity": {"methods": ["token", "password"], "token": {"id": tc.token},
        "password": {"user": {"name": creds.admin.username, "domain": {"id": "default"}, "password": creds.admin.password}}}}})).await;
    assert_eq!(s, 401, "two methods proving two users");
    let (s, _) = issue(&tc, json!({"auth": {"identity": {"methods": ["token", "password"], "token": {"id": tc.token},
        "password": {"user": {"name": demo.username, "domain": {"id": "default"}, "password": demo.password}}}}})).await;
    assert_eq!(s, 201, "both methods prove the demo user");
}

/// L3: validating or revoking another user's token needs the admin or service role, and a
/// deleted user's token works nowhere.
#[tokio::test]
async fn other_tokens_need_admin_and_deleted_users_lose_access() {
    let tc = TestCloud::start().await;
    let admin = admin_token(&tc).await;
    let (_, _, password) = tenant(&tc, &admin, "mallory").await;
    let mallory = tc.password_token("mallory", &password, "mallory").await;
    let with_subject = |token: &str, method: Method| {
        tc.http
            .request(method, tc.url("/identity/v3/auth/tokens"))
            .header("x-auth-token", token)
            .header("x-subject-token", &tc.token)
    };
    let r = with_subject(&mallory, Method::GET).send().await.unwrap();
    assert_eq!(r.status(), 403, "mallory validates demo's token");
    let r = with_subject(&mallory, Method::DELETE).send().await.unwrap();
    assert_eq!(r.status(), 403, "mallory revokes demo's token");
    let r = with_subject(&tc.token, Method::GET).send().await.unwrap();
    assert_eq!(r.status(), 200, "a user validates its own token");
    let r = with_subject(&admin, Method::HEAD).send().await.unwrap();
    assert_eq!(r.status(), 200, "the admin checks any token");

    // Delete mallory: its token no longer works on Keystone either.
    let users = tc
        .call_as(&admin, Method::GET, "/identity/v3/users?name=mallory", None)
        .await
        .1;
    let uid = users["users"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = tc
        .call_as(
            &admin,
            Method::DELETE,
            &format!("/identity/v3/users/{uid}"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    for path in [
        "/identity/v3/auth/catalog",
        "/identity/v3/auth/projects",
        "/identity/v3/projects",
    ] {
        let (s, _) = tc.call_as(&mallory, Method::GET, path, None).await;
        assert_eq!(s, 401, "{path}");
    }
}

/// Creates an application credential for the user of `token`; returns status and body.
async fn app_cred(tc: &TestCloud, token: &str, body: Value) -> (u16, Value) {
    let me = tc
        .http
        .get(tc.url("/identity/v3/auth/tokens"))
        .header("x-auth-token", token)
        .header("x-subject-token", token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let uid = me["token"]["user"]["id"].as_str().unwrap().to_owned();
    post_as(
        tc,
        token,
        &format!("/identity/v3/users/{uid}/application_credentials"),
        json!({"application_credential": body}),
    )
    .await
}

async fn cred_token(tc: &TestCloud, cred: &Value) -> (u16, String) {
    issue(tc, json!({"auth": {"identity": {"methods": ["application_credential"],
        "application_credential": {"id": cred["application_credential"]["id"], "secret": cred["application_credential"]["secret"]}}}})).await
}

/// H5: expiry, roles asked, restrictions and the project of application credentials hold.
#[tokio::test]
async fn application_credentials_keep_their_limits() {
    let tc = TestCloud::start().await;
    // (a) an expired credential does not authenticate.
    let (s, expired) = app_cred(
        &tc,
        &tc.token,
        json!({"name": "expired", "expires_at": "2000-01-01T00:00:00"}),
    )
    .await;
    assert_eq!(s, 201, "{expired}");
    assert_eq!(cred_token(&tc, &expired).await.0, 401);

    // (b) the roles asked are the token's roles: a reader cannot create a network.
    let (s, reader) = app_cred(
        &tc,
        &tc.token,
        json!({"name": "reader", "roles": [{"name": "reader"}]}),
    )
    .await;
    assert_eq!(s, 201, "{reader}");
    assert_eq!(
        reader["application_credential"]["roles"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let (s, t) = cred_token(&tc, &reader).await;
    assert_eq!(s, 201);
    let v = tc
        .http
        .get(tc.url("/identity/v3/auth/tokens"))
        .header("x-auth-token", &t)
        .header("x-subject-token", &t)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let roles: Vec<&str> = v["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(roles, ["reader"]);
    // A role the user does not hold cannot be asked for.
    let (s, _) = app_cred(
        &tc,
        &tc.token,
        json!({"name": "grab", "roles": [{"name": "admin"}]}),
    )
    .await;
    assert_eq!(s, 404);

    // (c) a restricted credential's token creates and deletes no credentials.
    let (s, v) = app_cred(&tc, &t, json!({"name": "escalate", "unrestricted": true})).await;
    assert_eq!(s, 403, "{v}");
    let me = v["error"]["code"].clone();
    assert_eq!(me, 403);

    // (d) a credential's token is not rescoped to another project.
    let creds = tc.cloud.credentials();
    let admin_project = creds.admin.project_id.clone();
    let admin_demo = tc
        .password_token(&creds.admin.username, &creds.admin.password, "demo")
        .await;
    let (s, demo_only) = app_cred(
        &tc,
        &admin_demo,
        json!({"name": "demo-only", "roles": [{"name": "member"}]}),
    )
    .await;
    assert_eq!(s, 201, "{demo_only}");
    let (s, t) = cred_token(&tc, &demo_only).await;
    assert_eq!(s, 201);
    let (s, _) = issue(
        &tc,
        json!({"auth": {"identity": {"methods": ["token"], "token": {"id": t}},
        "scope": {"project": {"id": admin_project}}}}),
    )
    .await;
    assert_eq!(
        s, 403,
        "an application credential's token rescoped to the admin project"
    );
    // Its member role gives no admin power on demo: public images stay admin-only.
    let (s, _) = tc
        .call_as(
            &t,
            Method::POST,
            "/image/v2/images",
            Some(r#"{"name": "x", "visibility": "public"}"#),
        )
        .await;
    assert_eq!(s, 403);

    // Access rules: only the listed requests pass.
    let (s, ruled) = app_cred(
        &tc,
        &tc.token,
        json!({"name": "ruled",
        "access_rules": [{"service": "compute", "method": "GET", "path": "/v2.1/servers"}]}),
    )
    .await;
    assert_eq!(s, 201, "{ruled}");
    assert_eq!(
        ruled["application_credential"]["access_rules"][0]["path"],
        "/v2.1/servers"
    );
    let (_, t) = cred_token(&tc, &ruled).await;
    let (s, _) = tc
        .call_as(&t, Method::GET, "/compute/v2.1/servers", None)
        .await;
    assert_eq!(s, 200);
    let (s, _) = tc
        .call_as(&t, Method::GET, "/compute/v2.1/flavors", None)
        .await;
    assert_eq!(s, 401);
    let (s, _) = tc
        .call_as(&t, Method::GET, "/networking/v2.0/networks", None)
        .await;
    assert_eq!(s, 401);

    // A credential that expires in an hour gives tokens that expire with it, not in 12 hours.
    let soon = chrono::Utc::now() + chrono::Duration::hours(1);
    let (s, hour) = app_cred(
        &tc,
        &tc.token,
        json!({"name": "hour", "expires_at": soon.format("%Y-%m-%dT%H:%M:%S").to_string()}),
    )
    .await;
    assert_eq!(s, 201, "{hour}");
    let resp = tc
        .http
        .post(tc.url("/identity/v3/auth/tokens"))
        .json(&json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": hour["application_credential"]["id"], "secret": hour["application_credential"]["secret"]}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(v["token"]["expires_at"].as_str().unwrap()).unwrap();
    assert!(
        expires.timestamp() <= soon.timestamp(),
        "{expires} is after {soon}"
    );
}
