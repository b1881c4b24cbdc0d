//! The seed's VM-SDF examples (seed 004: the LNMP application and the MySQL sections) read by
//! the package room and evaluated by the form model: cascades, nulls, validation, the output
//! YAML with and without masked secrets, and what a deployed application lets change.

use std::path::Path;

use vitrina_forms::sdf::{
    deployment_info, matching_flavors, to_yaml_text, validators, App, DeliveredFeature, FieldError,
    Flavor, Input, SdfValue, VarType, MASK,
};

fn load(file: &str, id: &str) -> App {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/vm-sdf")
        .join(file);
    let v = vitrina_package::sdf::validate_path(&path).expect("fixture");
    assert!(v.ok(), "{}", v.sources.render_text(&v.diagnostics, ""));
    v.app(id).expect("app").app.clone()
}

fn lnmp() -> App {
    load("seed-lnmp-10.yml", "lnmp-10")
}

fn s(v: &str) -> SdfValue {
    SdfValue::String(v.to_owned())
}

/// The LNMP form with both passwords typed and confirmed.
fn lnmp_input() -> Input {
    Input::new()
        .password("mysql-root-password", "r00t-Secret")
        .password("mysql-user-password", "us3r-Secret")
}

#[test]
fn lnmp_reads_every_attribute_of_the_seed() {
    let app = lnmp();
    assert_eq!(app.mode, vitrina_forms::sdf::Mode::Raw);
    assert_eq!(
        app.manifest_schema.as_deref(),
        Some("/schemes/vm-sdf-1.0.yaml")
    );
    assert_eq!(app.name.default, "LNMP Server");
    assert_eq!(app.version, "1.0");
    assert_eq!(app.icon.as_deref(), Some("/assets/lnmp-10.png"));
    assert_eq!(
        app.license.as_ref().map(|l| l.name.as_str()),
        Some("Apache 2.0")
    );
    assert_eq!(app.engine, Some(vitrina_forms::sdf::Engine::Ansible));
    assert_eq!(
        app.templates,
        ["compatible-template1", "compatible-template2"]
    );
    assert_eq!(app.minimal_root_disk_size, Some(10));
    let so = &app.service_offering;
    assert_eq!(so.len(), 1);
    let r = so[0].resources.expect("resources");
    assert_eq!(
        (r.minimal_ram_mb, r.minimal_cores, r.minimal_frequency_mhz),
        (Some(1024), Some(2), Some(1000))
    );
    use vitrina_forms::sdf::Feature;
    assert_eq!(app.features, [Feature::VmKv, Feature::Logs, Feature::Ota]);
    assert_eq!(app.deployment_progress["vm-key"], "deployment-progress");
    assert_eq!(app.deployment_progress["log"], "/var/log/deployment_log");
    let names: Vec<&str> = app.form.variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "domain-name",
            "mysql-root-password",
            "mysql-database",
            "mysql-user-name",
            "mysql-user-password",
            "mysql-php-admin-install",
            "mysql-php-admin-https-port",
            "use-lets-encrypt"
        ]
    );
    let port = app.form.get("mysql-php-admin-https-port").expect("port");
    // `integer_min`/`integer_max` (the seed's own spelling) read as the bounds.
    assert_eq!(
        port.ty,
        VarType::Number {
            minimum: Some(1024.0),
            maximum: Some(65535.0),
            integer: true
        }
    );
    let d = app
        .form
        .get("domain-name")
        .and_then(|v| v.description.clone())
        .expect("description");
    assert_eq!(d.get("ru_RU"), "Имя домена для создаваемого сайта");
    assert_eq!(d.get("en_US"), "Domain name for the first Website");
}

#[test]
fn lnmp_phpmyadmin_cascade() {
    let app = lnmp();
    let form = &app.form;
    // Defaults: PhpMyAdmin not installed, so its port and Let's Encrypt are inactive and null.
    let st = form.evaluate(&lnmp_input());
    assert!(st.is_valid(), "{:?}", st.errors(form));
    assert!(!st.is_active(form, "mysql-php-admin-https-port"));
    assert!(!st.is_active(form, "use-lets-encrypt"));
    assert_eq!(
        st.value(form, "mysql-php-admin-https-port"),
        Some(&SdfValue::Null)
    );
    assert_eq!(
        st.value(form, "mysql-php-admin-install"),
        Some(&SdfValue::Bool(false))
    );
    let vars = form.variables_yaml(&st, false);
    assert_eq!(vars.get("use-lets-encrypt"), Some(&serde_yaml::Value::Null));

    // Installing it (typed as a web form sends it, the text "true") activates both with their
    // defaults.
    let on = lnmp_input().set("mysql-php-admin-install", s("true"));
    let st = form.evaluate(&on);
    assert!(st.is_valid(), "{:?}", st.errors(form));
    assert_eq!(
        st.value(form, "mysql-php-admin-install"),
        Some(&SdfValue::Bool(true))
    );
    assert_eq!(
        st.value(form, "mysql-php-admin-https-port"),
        Some(&SdfValue::Int(8443))
    );
    assert_eq!(
        st.value(form, "use-lets-encrypt"),
        Some(&SdfValue::Bool(false))
    );

    // A port below 1024 is refused; a value given to an inactive field is ignored (null).
    let st = form.evaluate(&on.clone().set("mysql-php-admin-https-port", s("80")));
    assert_eq!(
        st.field(form, "mysql-php-admin-https-port")
            .and_then(|f| f.error.clone()),
        Some(FieldError::BelowMinimum(1024.0))
    );
    let st = form.evaluate(&lnmp_input().set("mysql-php-admin-https-port", SdfValue::Int(9000)));
    assert_eq!(
        st.value(form, "mysql-php-admin-https-port"),
        Some(&SdfValue::Null)
    );
    assert!(st.is_valid());
}

#[test]
fn lnmp_validation_of_each_field() {
    let app = lnmp();
    let form = &app.form;
    let err = |input: &Input, name: &str| {
        form.evaluate(input)
            .field(form, name)
            .and_then(|f| f.error.clone())
    };
    // Passwords have no default: required, and confirmed.
    assert_eq!(
        err(&Input::new(), "mysql-root-password"),
        Some(FieldError::Required)
    );
    let mut mismatch = lnmp_input();
    mismatch
        .confirmations
        .insert("mysql-root-password".into(), "other".into());
    assert_eq!(
        err(&mismatch, "mysql-root-password"),
        Some(FieldError::ConfirmationMismatch)
    );
    assert_eq!(
        err(
            &lnmp_input().password("mysql-user-password", "abc"),
            "mysql-user-password"
        ),
        Some(FieldError::TooShort(5))
    );
    // The database name's regex, the domain name's validator, OneOf's options.
    assert!(matches!(
        err(
            &lnmp_input().set("mysql-database", s("1db")),
            "mysql-database"
        ),
        Some(FieldError::PatternMismatch(_))
    ));
    assert!(matches!(
        err(
            &lnmp_input().set("domain-name", s("localhost")),
            "domain-name"
        ),
        Some(FieldError::Invalid(_))
    ));
    assert_eq!(
        err(
            &lnmp_input().set("domain-name", s("www.example.org")),
            "domain-name"
        ),
        None
    );
    assert!(matches!(
        err(
            &lnmp_input().set("mysql-php-admin-install", s("maybe")),
            "mysql-php-admin-install"
        ),
        Some(FieldError::NotAnOption(_))
    ));
}

#[test]
fn lnmp_output_yaml_and_masked_rendering() {
    let app = lnmp();
    let st = app.form.evaluate(
        &lnmp_input()
            .set("mysql-php-admin-install", SdfValue::Bool(true))
            .set("mysql-database", s("db1"))
            .set("domain-name", s("www.com")),
    );
    assert!(st.is_valid());
    let kv = DeliveredFeature {
        key: "vm-key-value-storage".into(),
        endpoint: "https://kvs.example/".into(),
        name: "UUID1".into(),
        secret: "kv-Secret-1".into(),
    };
    let full = to_yaml_text(&deployment_info(
        &app,
        Some("lnmp-10: {}"),
        &st,
        std::slice::from_ref(&kv),
        false,
    ));
    let parsed: serde_yaml::Value = serde_yaml::from_str(&full).expect("the output parses");
    let info = &parsed["deployment-info"];
    assert_eq!(info["engine"], "ansible");
    assert_eq!(info["mode"], "raw");
    assert_eq!(
        info["source"],
        "https://reposerver.com/applications/L/lnmp-10/lnmp-10.tar.gz"
    );
    assert_eq!(
        info["features"]["vm-key-value-storage"]["secret"],
        "kv-Secret-1"
    );
    assert_eq!(info["deployment-progress"]["vm-key"], "deployment-progress");
    let vars = &info["variables"];
    assert_eq!(vars["domain-name"], "www.com");
    assert_eq!(vars["mysql-root-password"], "r00t-Secret");
    assert_eq!(vars["mysql-database"], "db1");
    assert_eq!(vars["mysql-php-admin-install"], true);
    assert_eq!(vars["mysql-php-admin-https-port"], 8443);
    assert_eq!(vars["use-lets-encrypt"], false);
    assert!(info["application-manifest"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));

    // The form's YAML tab: same document, no secret in it.
    let masked = to_yaml_text(&deployment_info(&app, None, &st, &[kv], true));
    for secret in ["r00t-Secret", "us3r-Secret", "kv-Secret-1"] {
        assert!(!masked.contains(secret), "{secret} leaked:\n{masked}");
    }
    let parsed: serde_yaml::Value = serde_yaml::from_str(&masked).expect("parses");
    assert_eq!(
        parsed["deployment-info"]["variables"]["mysql-root-password"],
        MASK
    );
    assert_eq!(
        parsed["deployment-info"]["variables"]["domain-name"],
        "www.com"
    );
}

#[test]
fn mysql_sections_cascade_through_section_defaults() {
    let app = load("seed-mysql-sections.yml", "mysql-sections");
    let form = &app.form;
    // mysql-mode defaults to install: the install section is active with its default `true`,
    // which activates the install password (two levels from one default); the use branch is
    // inactive and null.
    let st = form.evaluate(&Input::new());
    assert!(st.is_active(form, "mysql-install-section"));
    assert_eq!(
        st.value(form, "mysql-install-section"),
        Some(&SdfValue::Bool(true))
    );
    assert!(st.is_active(form, "mysql-install-root-password"));
    assert!(!st.is_active(form, "mysql-use-section"));
    assert!(!st.is_active(form, "mysql-use-root-password"));
    assert_eq!(
        st.field(form, "mysql-install-root-password")
            .and_then(|f| f.error.clone()),
        Some(FieldError::Required)
    );
    let vars = form.variables_yaml(&st, false);
    assert_eq!(
        vars.get("mysql-use-root-password"),
        Some(&serde_yaml::Value::Null)
    );
    // Sections are layout, not configuration.
    assert_eq!(vars.get("mysql-install-section"), None);

    // Choosing `use` flips both branches.
    let st = form.evaluate(
        &Input::new()
            .set("mysql-mode", s("use"))
            .password("mysql-use-root-password", "Secret-1"),
    );
    assert!(!st.is_active(form, "mysql-install-section"));
    assert!(!st.is_active(form, "mysql-install-root-password"));
    assert!(st.is_active(form, "mysql-use-section"));
    assert!(st.is_active(form, "mysql-use-root-password"));
    assert!(st.is_valid(), "{:?}", st.errors(form));
    let vars = form.variables_yaml(&st, true);
    assert_eq!(
        vars.get("mysql-use-root-password"),
        Some(&serde_yaml::Value::String(MASK.into()))
    );
    assert_eq!(
        vars.get("mysql-install-root-password"),
        Some(&serde_yaml::Value::Null)
    );
}

const VOLATILE_APP: &str = r#"
web-1:
  name: Web
  version: 1
  source: https://repo.example.com/web-1.tar.gz
  mode: kvs
  variables:
    tls:
      type: OneOf
      is-volatile: true
      options: {false: {label: No}, true: {label: Yes}}
      default: false
    tls-port:
      type: Number
      active-if: {sources: {tls: true}}
      minimum: 1
      maximum: 65535
      default: 443
    greeting:
      type: String
      is-volatile: true
      default: hello
    site:
      type: DomainName
      default: example.com
    tags:
      type: Some
      is-volatile: true
      options:
        base: {label: Base, mandatory: true}
        php: {label: PHP}
        redis: {label: Redis}
      defaults: [php]
    notes:
      type: String
      multiline: true
      base64: false
      default: ""
    admin-url:
      type: URL
      scheme: [https]
      active-if: {predicate: or, sources: {tags: [redis, php], greeting: bye}}
      default: https://admin.example.com/
"#;

fn volatile_app() -> App {
    let v = vitrina_package::sdf::validate_text("web.yml", VOLATILE_APP);
    assert!(v.ok(), "{}", v.sources.render_text(&v.diagnostics, ""));
    v.apps[0].app.clone()
}

#[test]
fn volatile_changes_are_accepted_and_others_refused_with_the_reason() {
    let app = volatile_app();
    let form = &app.form;
    let deployed = form.evaluate(&Input::new());
    assert!(deployed.is_valid(), "{:?}", deployed.errors(form));
    // A volatile change alone.
    let next = form.check_update(&deployed, &Input::new().set("greeting", s("hi")));
    assert!(next.is_ok(), "{next:?}");
    // A non-volatile one.
    let refused = form
        .check_update(&deployed, &Input::new().set("site", s("other.example.com")))
        .unwrap_err();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].variable, "site");
    assert!(
        refused[0].reason.contains("not volatile"),
        "{}",
        refused[0].reason
    );
    // A volatile switch that would activate a non-volatile field is refused for that field.
    let refused = form
        .check_update(&deployed, &Input::new().set("tls", SdfValue::Bool(true)))
        .unwrap_err();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].variable, "tls-port");
    assert!(
        refused[0].reason.contains("`tls` would activate it"),
        "{}",
        refused[0].reason
    );
}

#[test]
fn some_or_conditions_and_multiline_output() {
    let app = volatile_app();
    let form = &app.form;
    // `Some` starts with its defaults plus the mandatory option; `or` over a list value.
    let st = form.evaluate(&Input::new());
    assert_eq!(
        st.value(form, "tags"),
        Some(&SdfValue::List(vec![s("base"), s("php")]))
    );
    assert!(st.is_active(form, "admin-url"));
    let st = form.evaluate(&Input::new().set("tags", SdfValue::List(vec![s("base")])));
    assert!(!st.is_active(form, "admin-url"));
    let st = form.evaluate(
        &Input::new()
            .set("tags", SdfValue::List(vec![s("base")]))
            .set("greeting", s("bye")),
    );
    assert!(st.is_active(form, "admin-url"));
    // Clearing a mandatory option is refused; a scheme outside the list too.
    let st = form.evaluate(&Input::new().set("tags", SdfValue::List(vec![s("php")])));
    assert_eq!(
        st.field(form, "tags").and_then(|f| f.error.clone()),
        Some(FieldError::MandatoryCleared("base".into()))
    );
    let st = form.evaluate(&Input::new().set("admin-url", s("http://admin.example.com/")));
    assert!(matches!(
        st.field(form, "admin-url").and_then(|f| f.error.clone()),
        Some(FieldError::Invalid(_))
    ));
    // Multiline text without base64 is a list of lines in the YAML; special characters are
    // the emitter's business.
    let st = form.evaluate(&Input::new().set("notes", s("line: one\n- two\n'three'")));
    let text = to_yaml_text(&serde_yaml::Value::Mapping(form.variables_yaml(&st, false)));
    let back: serde_yaml::Value = serde_yaml::from_str(&text).expect("parses");
    assert_eq!(back["notes"][0], "line: one");
    assert_eq!(back["notes"][1], "- two");
    assert_eq!(back["notes"][2], "'three'");
}

#[test]
fn service_offering_filters_select_flavors() {
    let text = r#"
so-1:
  name: SO
  version: 1
  source: https://repo.example.com/so.tar.gz
  variables:
    size:
      type: ServiceOffering
      filters:
        by-id:
          uuids: [6f1c0b8e-0000-4000-8000-000000000001]
        big:
          resources: {minimal-ram: 4096, minimal-cores: 2}
          name-regex: '^m1\.'
"#;
    let v = vitrina_package::sdf::validate_text("so.yml", text);
    assert!(v.ok(), "{}", v.sources.render_text(&v.diagnostics, ""));
    let app = &v.apps[0].app;
    let VarType::ServiceOffering { filters } = &app.form.variables[0].ty else {
        panic!("not a service offering")
    };
    let fl = |id: &str, name: &str, ram, vcpus| Flavor {
        id: id.into(),
        name: name.into(),
        ram_mb: ram,
        vcpus,
        frequency_mhz: None,
    };
    let flavors = vec![
        fl("6f1c0b8e-0000-4000-8000-000000000001", "tiny", 512, 1),
        fl("b", "m1.large", 8192, 4),
        fl("c", "c1.large", 8192, 4),
        fl("d", "m1.small", 2048, 1),
    ];
    let ok: Vec<&str> = matching_flavors(filters, &flavors)
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(ok, ["tiny", "m1.large"]);
    let form = &app.form;
    let st = form.evaluate_with(&Input::new().set("size", s("c")), Some(&flavors));
    assert_eq!(
        st.fields[0].error,
        Some(FieldError::OfferingNotAllowed("c".into()))
    );
    let st = form.evaluate_with(&Input::new().set("size", s("m1.large")), Some(&flavors));
    assert!(st.is_valid());
}

#[test]
fn generated_password_passes_the_lnmp_field() {
    let app = lnmp();
    let var = app.form.get("mysql-root-password").expect("var");
    let pw = validators::generate_password(&var.ty, &mut rand::thread_rng()).expect("generated");
    let st = app
        .form
        .evaluate(&lnmp_input().password("mysql-root-password", &pw));
    assert!(st.is_valid(), "{:?}", st.errors(&app.form));
}
