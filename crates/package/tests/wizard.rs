//! The offers and wizards read from the example packages: what the marketplace shows.

use std::collections::BTreeMap;
use std::path::PathBuf;

use vitrina_forms::wizard::EntityKind;
use vitrina_forms::{Action, Value};
use vitrina_pricing::Money;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/packages")
        .join(name)
}

#[test]
fn hello_web_pro_has_pages_prices_and_entities() {
    let v = vitrina_package::validate_path(&example("hello_web")).unwrap();
    assert!(!v.diagnostics.has_errors());
    let offers = vitrina_package::wizard::offers(&v.model);
    let pro = offers.iter().find(|o| o.folder == "pro").expect("plan pro");
    assert_eq!(pro.cost, Money::units(990));
    assert!(!pro.free);
    assert_eq!(pro.form.pages.len(), 2);
    assert_eq!(
        pro.form.pages[0].groups[0].parameters,
        ["flavor", "az", "subnet"]
    );
    // The plan's parameters_patch applies: data_size defaults to 20 here.
    assert_eq!(
        pro.form.defaults().get("data_size"),
        Some(&Value::Integer(20))
    );
    let b = &pro.billing["log_retention_days"];
    assert_eq!(b.cost, Money::units(100));
    let mut answers = BTreeMap::new();
    answers.insert("flavor".to_owned(), Value::String("m1.small".into()));
    answers.insert("data_type".to_owned(), Value::String("ceph-hdd".into()));
    let ev = pro.form.evaluate(&answers, Action::Create);
    let vm = &ev.entities[0];
    assert_eq!(vm.kind, EntityKind::Vm);
    assert_eq!(vm.count, 1);
    assert_eq!(vm.flavor.as_deref(), Some("m1.small"));
    assert_eq!(
        vm.disks,
        [("ceph-ssd".to_owned(), 10), ("ceph-hdd".to_owned(), 20)]
    );
}

#[test]
fn every_example_plan_has_a_wizard() {
    for name in ["hello_web", "kv_cluster", "grafana"] {
        let v = vitrina_package::validate_path(&example(name)).unwrap();
        assert!(!v.diagnostics.has_errors(), "{name}");
        for o in vitrina_package::wizard::offers(&v.model) {
            let listed: usize = o
                .form
                .pages
                .iter()
                .flat_map(|p| &p.groups)
                .map(|g| g.parameters.len())
                .sum();
            assert!(listed > 0, "{name}/{}", o.folder);
            for p in o
                .form
                .pages
                .iter()
                .flat_map(|p| &p.groups)
                .flat_map(|g| &g.parameters)
            {
                assert!(o.form.fields.contains_key(p), "{name}/{}: {p}", o.folder);
            }
        }
    }
}
