//! The registry of every diagnostic code the project emits: the `package` room's checks of
//! service packages, the `hcl` room's parser, and the engine's `tf/*` codes.
//!
//! Codes are stable: never renamed, never reused. Each entry says what the rule checks, why,
//! an example and the fix; the same text becomes the constant's doc comment and the
//! [`REGISTRY`] from which `docs/CODES.md` is generated ([`reference_markdown`]; a test fails
//! when that file is stale, another when a room emits a code that is not registered here).

use crate::Severity;

/// One code of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: &'static str,
    /// The room that emits it: `package`, `hcl`, `engine` or `server`.
    pub room: &'static str,
    pub severity: Severity,
    pub what: &'static str,
    pub why: &'static str,
    pub example: &'static str,
    pub fix: &'static str,
}

macro_rules! codes {
    ($( $name:ident = $code:literal, $sev:ident, $room:literal {
        what: $what:literal, why: $why:literal, example: $example:literal, fix: $fix:literal $(,)?
    } )*) => {
        $(
            #[doc = $what]
            #[doc = ""]
            #[doc = concat!("Why: ", $why)]
            #[doc = ""]
            #[doc = concat!("Example: ", $example)]
            #[doc = ""]
            #[doc = concat!("Fix: ", $fix)]
            pub const $name: &str = $code;
        )*
        /// Every code with its documentation, in declaration order.
        pub const REGISTRY: &[CodeInfo] = &[$(CodeInfo {
            code: $code,
            room: $room,
            severity: Severity::$sev,
            what: $what,
            why: $why,
            example: $example,
            fix: $fix,
        }),*];
        /// Every code of this registry, in declaration order.
        pub const ALL: &[&str] = &[$($code),*];
    };
}

codes! {
    PACKAGE_MISSING_FILE = "package/missing-file", Error, "package" {
        what: "A required file is missing: `version.yaml`, `service.yaml`, `full_description.md`, `plans/<PLAN>/plan.yaml`, `plans/<PLAN>/display.yaml`, or any `.tf` in `plans/<PLAN>/deployment/`.",
        why: "The marketplace rejects a package without them; a plan without a manifest cannot be deployed.",
        example: "A package folder without `full_description.md`.",
        fix: "Add the file.",
    }
    PACKAGE_BAD_NAME = "package/bad-name", Error, "package" {
        what: "A file or folder name with characters other than ASCII letters, digits, `_`, `-`, `.`.",
        why: "The marketplace's storage and the deployment system refuse such names.",
        example: "`images/my icon.png`.",
        fix: "Rename it (e.g. `images/my_icon.png`) and update what refers to it.",
    }
    PACKAGE_TOO_LARGE = "package/too-large", Error, "package" {
        what: "The zip of the package would exceed 30 MB, a text file is too large to check, the package or zip has more than 20,000 entries (a zip's count is read from its end record before anything else), or its manifests hold more than 512 KiB of Terraform (the manifest limit).",
        why: "30 MB is the upload limit of the product API.",
        example: "A 40 MB disk image left in `images/`.",
        fix: "Remove large files the package does not need.",
    }
    PACKAGE_UNSAFE_ARCHIVE = "package/unsafe-archive", Error, "package" {
        what: "A zip entry with an absolute path, a `..` component or a link, an entry that expands more than 100 times its compressed size, an entry that cannot be decompressed, a name given twice (or twice but for letter case), a file deeper than 32 folders (the depth limit), or a hard link to a file outside the package folder.",
        why: "Such archives write outside their folder or exhaust memory and disk (zip bombs).",
        example: "An entry named `../evil`; a 1 KB entry that inflates to 1 GB.",
        fix: "Pack the folder with `vitrina package pack`.",
    }
    PACKAGE_INTERNAL_ERROR = "package/internal-error", Error, "package" {
        what: "The validator itself failed on this package.",
        why: "A bug in vitrina, caught so that the other packages and files are still checked.",
        example: "None by design.",
        fix: "Report the bug with the package attached.",
    }
    PRODUCT_BAD_UPLOAD = "product/bad-upload", Error, "server" {
        what: "A product upload (`POST /product`) is not a multipart form with one `upload` file field holding a zip archive of at most 30 MB.",
        why: "The product API reads the service package from that field only.",
        example: "`curl -F file=@pkg.zip …` (the field must be named `upload`), or a `.tar.gz` sent instead of a zip.",
        fix: "Send `curl -F upload=@SERVICE.zip …`, or use `vitrina package upload PATH`, which packs and sends it.",
    }
    YAML_SYNTAX = "yaml/syntax", Error, "package" {
        what: "A YAML file does not parse (or is not UTF-8), or goes past a limit: 100,000 nodes (the node limit), or aliases and anchors copying more than 16 MiB (the alias limit); the position is the parser's.",
        why: "Nothing in the file can be read.",
        example: "`hint: Platforms: iOS, Android` (an unquoted value containing `: `).",
        fix: "Quote the value, or correct the indentation.",
    }
    YAML_TYPE = "yaml/type", Error, "package" {
        what: "A field has the wrong YAML type.",
        why: "The marketplace reads the field by type; a quoted `\"true\"` is a string, not a bool.",
        example: "`bindable: \"true\"`.",
        fix: "Write the value with the expected type (`bindable: true`).",
    }
    YAML_UNKNOWN_KEY = "yaml/unknown-key", Warning, "package" {
        what: "A key this format does not define (a warning: real packages carry extra keys).",
        why: "It is often a typo of a known key, which then silently keeps its default.",
        example: "`descripton: Nodes` in an option's `schema`.",
        fix: "Correct the key as suggested, or remove it.",
    }
    YAML_DUPLICATE_KEY = "yaml/duplicate-key", Error, "package" {
        what: "The same key twice in one mapping.",
        why: "YAML forbids it and readers disagree on which value wins.",
        example: "`name:` twice in `service.yaml`.",
        fix: "Keep one of them.",
    }
    VERSION_UNSUPPORTED = "version/unsupported", Error, "package" {
        what: "`version.yaml` names a generator version other than `0.0.1` or `1.0.0`.",
        why: "Only these two layouts exist.",
        example: "`version: 2.0.0`.",
        fix: "`version: 1.0.0`.",
    }
    SERVICE_REQUIRED = "service/required", Error, "package" {
        what: "A required field of `service.yaml` is missing or empty (`id`, `revision`, `name`, `short_description`, `bindable`, `plan_updateable`, `deactivatable`, `bindings_retrievable`, `instances_retrievable`, `plans`, `preview`).",
        why: "The marketplace rejects the service without it.",
        example: "A `service.yaml` without `deactivatable`.",
        fix: "Add the field.",
    }
    SERVICE_ID_NOT_UUID4 = "service/id-not-uuid4", Error, "package" {
        what: "The service `id` is not a UUID version 4 (version nibble 4, RFC 4122 variant, hyphenated).",
        why: "The marketplace identifies services by a random UUID4; other kinds collide or leak data.",
        example: "`id: 72b70199-1823-10c8-aa7e-f43a23ddf380` (version 1).",
        fix: "Generate one with `uuidgen -r` or `python3 -c 'import uuid; print(uuid.uuid4())'`.",
    }
    SERVICE_TOO_LONG = "service/too-long", Error, "package" {
        what: "A string of `service.yaml` exceeds its limit: `short_description`, `name` and `revision` 255 (seed 003 table 4), `icon` and `help` 512 characters.",
        why: "The marketplace's card and storage cut or reject longer values.",
        example: "A 300-character `short_description`.",
        fix: "Shorten it; the long text belongs in `full_description.md`.",
    }
    SERVICE_BINDABLE_FALSE = "service/bindable-false", Error, "package" {
        what: "`bindable` is not `true`.",
        why: "Image-based services hand their outputs to users through a binding.",
        example: "`bindable: false`.",
        fix: "`bindable: true`.",
    }
    SERVICE_PLAN_UPDATEABLE = "service/plan-updateable", Warning, "package" {
        what: "`plan_updateable` is `true` (a warning: vitrina moves a deployed instance to another plan's manifest, changing only the resources that differ).",
        why: "VK Cloud's marketplace refuses `plan_updateable: true` for image-based services, so such a package is for vitrina (or OSB platforms using its broker) only.",
        example: "`plan_updateable: true`.",
        fix: "Keep it when consumers should move between plans through vitrina; write `false` for VK Cloud.",
    }
    SERVICE_UNKNOWN_PLAN = "service/unknown-plan", Error, "package" {
        what: "`plans[].name` names a plan with no `plans/<PLAN>/` folder, or names a plan twice.",
        why: "The marketplace offers only listed plans and needs their files.",
        example: "`- name: gold` without `plans/gold/`.",
        fix: "Add the folder or correct the name.",
    }
    SERVICE_UNKNOWN_PREVIEW_OPTION = "service/unknown-preview-option", Error, "package" {
        what: "`preview.parameters[].name` names no file in `parameters/`.",
        why: "The plan comparison matrix shows options by their files.",
        example: "`- name: nodes` without `parameters/nodes.yaml`.",
        fix: "Add the option file or correct the name.",
    }
    ICON_MISSING = "icon/missing", Error, "package" {
        what: "The `icon` of `service.yaml` is not a file in `images/`.",
        why: "The service card would show a broken image.",
        example: "`icon: logo.png` with only `images/icon.png`.",
        fix: "Add `images/<icon>` or correct the name.",
    }
    ICON_TOO_LARGE = "icon/too-large", Error, "package" {
        what: "The icon is over 1 MiB.",
        why: "The marketplace refuses larger icons.",
        example: "A 3 MB photo as the icon.",
        fix: "Compress or resize it.",
    }
    ICON_TOO_SMALL = "icon/too-small", Error, "package" {
        what: "A PNG icon under 62×62 px, or a `.png` that is not a readable PNG.",
        why: "The card shows icons at 62×62; smaller ones look blurred.",
        example: "A 32×32 favicon.",
        fix: "Use a PNG of at least 62×62 px (or an SVG).",
    }
    OPTION_TOO_LONG = "option/too-long", Error, "package" {
        what: "`schema.description`, `schema.hint` or `billing.unit.measurement` is over 255 characters.",
        why: "The wizard's labels are limited to 255 characters.",
        example: "A 300-character `hint`.",
        fix: "Shorten it.",
    }
    OPTION_REQUIRED = "option/required", Error, "package" {
        what: "An option file lacks `actions`, `schema`, `schema.description` or `schema.type`, or has an empty one.",
        why: "The option cannot be shown or sent without them.",
        example: "An option without `schema.description` (its label).",
        fix: "Add the field.",
    }
    OPTION_BAD_ACTION = "option/bad-action", Error, "package" {
        what: "An action other than `create`, `update`, `resource_usages`.",
        why: "Actions say when the option is asked; others do not exist.",
        example: "`actions: [delete]`.",
        fix: "Use `create`, `update` and/or `resource_usages`.",
    }
    OPTION_BAD_TYPE = "option/bad-type", Error, "package" {
        what: "An unknown `schema.type`, or `number` outside a postpaid (`resource_usages`) option.",
        why: "The form and the catalog know only these types.",
        example: "`type: bool`.",
        fix: "`integer`, `string` or `boolean` (`number` for postpaid).",
    }
    OPTION_CONFLICTING_KEYS = "option/conflicting-keys", Error, "package" {
        what: "`const` with other value keys, `enum` with `minimum`/`maximum`/`pattern`/length keys, or keys of another type (`pattern` on an integer).",
        why: "The option's subtype is decided by which keys are present; mixed keys are ambiguous.",
        example: "`enum: [1, 3]` with `minimum: 1`.",
        fix: "Keep the keys of one subtype.",
    }
    OPTION_DEFAULT_NOT_IN_ENUM = "option/default-not-in-enum", Error, "package" {
        what: "An `enum` option's `default` is missing or not one of its values.",
        why: "The wizard must start on an offered value.",
        example: "`enum: [3, 5, 7]` with `default: 4`.",
        fix: "Pick a default from the list.",
    }
    OPTION_RANGE = "option/range", Error, "package" {
        what: "`minimum` > `maximum`, `default` outside the range, a negative count, or string lengths not `0 < minLength ≤ maxLength`.",
        why: "No value could satisfy the option, or the default would be refused.",
        example: "`default: 500` with `maximum: 100`.",
        fix: "Correct the bounds or the default.",
    }
    OPTION_BAD_PATTERN = "option/bad-pattern", Error, "package" {
        what: "`pattern` is not a valid regular expression.",
        why: "Answers could not be checked.",
        example: "`pattern: \"^[a-z\"`.",
        fix: "Correct the expression (and quote it in YAML).",
    }
    OPTION_BAD_DATASOURCE = "option/bad-datasource", Error, "package" {
        what: "A datasource with an unknown type, a `value_is` other than uuid/name, a `default` or `filter` not allowed for its type, or bad filter values.",
        why: "The cloud fills the choices from the datasource; these settings cannot be applied.",
        example: "A `network` filter `kind: private`; a `flavor` datasource with a `default`.",
        fix: "As the message says (network kinds: external, internal, all; disk types: ceph-ssd, ceph-hdd, high-iops).",
    }
    OPTION_BILLING = "option/billing", Error, "package" {
        what: "`billing` on an option that is not an integer (other than a boolean on-price), a missing `cost` or `unit.size`, a negative value, or `unit.size` ≠ 1 for a postpaid option.",
        why: "Prices are computed per step of an integer option.",
        example: "`billing` on a string option.",
        fix: "As the message says.",
    }
    OPTION_UNPAIRED_TAG = "option/unpaired-tag", Error, "package" {
        what: "A `tag` used by only one option.",
        why: "A disk is a `volume_type` datasource and an integer size option sharing one tag.",
        example: "`tag: data` on the disk type only.",
        fix: "Add the other half of the pair, or remove the tag.",
    }
    PLAN_REQUIRED = "plan/required", Error, "package" {
        what: "A required field of `plan.yaml` is missing or empty (`id`, `revision`, `name`, `description`, `free`, `billing`, `billing.cost`).",
        why: "The marketplace rejects the plan without it.",
        example: "A `plan.yaml` without `free`.",
        fix: "Add the field.",
    }
    PLAN_TOO_LONG = "plan/too-long", Error, "package" {
        what: "A plan's `revision` or `description` is longer than 255 characters.",
        why: "The marketplace stores at most 255 characters.",
        example: "A 300-character `description`.",
        fix: "Shorten it.",
    }
    PLAN_ID_NOT_UUID4 = "plan/id-not-uuid4", Error, "package" {
        what: "A plan `id` is not a UUID version 4.",
        why: "Plans are identified by random UUID4s.",
        example: "`id: b2b42648-XXXX-b4cddbf010b2` (a placeholder).",
        fix: "Generate one with `uuidgen -r`.",
    }
    PLAN_DUPLICATE_ID = "plan/duplicate-id", Error, "package" {
        what: "A plan id equal to the service id or to another plan's id.",
        why: "Brokers address plans by id; duplicates make one plan unreachable.",
        example: "Two plan folders copied with the same `id`.",
        fix: "Give the plan a fresh UUID4.",
    }
    PLAN_NAME_MISMATCH = "plan/name-mismatch", Error, "package" {
        what: "The plan's `name` differs from its folder, or has characters other than ASCII letters, digits and `_`.",
        why: "The marketplace finds a plan's files by its name.",
        example: "`name: professional` in `plans/pro/plan.yaml`.",
        fix: "Make the name and the folder equal.",
    }
    PLAN_FREE_WITH_COST = "plan/free-with-cost", Error, "package" {
        what: "`free: true` with a non-zero `billing.cost`.",
        why: "A free plan cannot be charged.",
        example: "`free: true` and `cost: 10`.",
        fix: "`cost: 0`, or `free: false`.",
    }
    PLAN_BAD_BILLING_CYCLE = "plan/bad-billing-cycle", Error, "package" {
        what: "`billing_cycle_flat` does not parse.",
        why: "The billing period is `<N> mons <M> days`, `<N> mons` or `<M> days` (calendar months).",
        example: "`billing_cycle_flat: 1 month`.",
        fix: "`billing_cycle_flat: 1 mons 0 days`.",
    }
    PLAN_BAD_PATCH = "plan/bad-patch", Error, "package" {
        what: "A `parameters_patch` for an unknown option or one not in the plan, a section and a key inside it both patched, a key that cannot be applied, or a patch that makes the option invalid.",
        why: "The patched option must still be a valid option of this plan.",
        example: "`parameters_patch: {ghost: {schema.default: 1}}` without `parameters/ghost.yaml`.",
        fix: "As the message says.",
    }
    PLAN_MIXED_BILLING = "plan/mixed-billing", Error, "package" {
        what: "Postpaid options together with prepaid or free ones, postpaid options in a paid plan, or a `resource_usages` option that is not postpaid.",
        why: "A plan is billed either in advance or by usage, not both.",
        example: "`resource_usages: [storage]` in a plan whose wizard also asks options.",
        fix: "Put the postpaid options in their own free plan.",
    }
    DISPLAY_TOO_MANY_PAGES = "display/too-many-pages", Error, "package" {
        what: "More than 5 wizard pages (the automatic first and last pages do not count).",
        why: "The wizard shows at most 5 pages.",
        example: "Six entries under `pages`.",
        fix: "Merge pages.",
    }
    DISPLAY_TOO_LONG = "display/too-long", Error, "package" {
        what: "A page name over 32 characters or a group name over 255.",
        why: "Page names are tabs of limited width.",
        example: "A 40-character page name.",
        fix: "Shorten it.",
    }
    DISPLAY_UNKNOWN_OPTION = "display/unknown-option", Error, "package" {
        what: "A group, condition, entity or `resource_usages` list names an option with no file in `parameters/`.",
        why: "The wizard cannot show or read an option that does not exist.",
        example: "`- name: ghost` in a group.",
        fix: "Add `parameters/<name>.yaml` or correct the name.",
    }
    DISPLAY_DUPLICATE_OPTION = "display/duplicate-option", Error, "package" {
        what: "An option in more than one group of a plan.",
        why: "Every option appears in exactly one group.",
        example: "`nodes` in the groups `VM` and `Page`.",
        fix: "Keep it in one group.",
    }
    DISPLAY_BAD_WHEN = "display/bad-when", Error, "package" {
        what: "A malformed `when`, or a nested condition (an option shown under a condition used in another `when`).",
        why: "Conditions are `{in|not_in: {key, values}}` and have one level only.",
        example: "`when: {in: {key: {param: nodes}}}` without `values`.",
        fix: "`when: {in: {key: {param: OPTION}, values: [{const: VALUE}]}}`.",
    }
    DISPLAY_MISSING_ENTITIES = "display/missing-entities", Error, "package" {
        what: "A `flavor` or `volume_type` option is used and `entities` is missing or has no disks.",
        why: "The infrastructure price is computed from the entities.",
        example: "A plan with a `flavor` option and no `entities`.",
        fix: "Describe the VMs (`entity: vm` with `flavor`) and their `disks`.",
    }
    DISPLAY_BAD_ENTITY = "display/bad-entity", Error, "package" {
        what: "An unknown entity kind, a field with both or neither of `const`/`param`, or a `param` that is not one of the plan's options of the right kind.",
        why: "The price calculator reads entities literally.",
        example: "`count: {param: nodes, const: 1}`.",
        fix: "As the message says.",
    }
    MANIFEST_SYNTAX = "manifest/syntax", Error, "hcl" {
        what: "A `.tf` file of the manifest does not parse (or is not UTF-8).",
        why: "The deployment system cannot plan it.",
        example: "An unclosed block.",
        fix: "Correct the syntax at the position.",
    }
    MANIFEST_MISSING_TYPE = "manifest/missing-type", Error, "package" {
        what: "A `variable` without `type`, or with a type that is not valid.",
        why: "Option values are converted to the declared type; without one nothing is checked.",
        example: "`variable \"title\" {}`.",
        fix: "`type = string` (or number, bool, list(…)…).",
    }
    MANIFEST_UNBOUND_VARIABLE = "manifest/unbound-variable", Error, "package" {
        what: "A variable without `default` that is neither special (`instance_uuid`, `email`) nor a plan option.",
        why: "Nobody would fill it, so every deployment would fail.",
        example: "`variable \"region\" { type = string }` with no `region` option.",
        fix: "Add a `default`, or an option of that name to the plan.",
    }
    MANIFEST_TYPE_MISMATCH = "manifest/type-mismatch", Error, "package" {
        what: "A plan option and its variable disagree on type (integer → number, string and datasource → string, boolean → bool).",
        why: "The value would fail conversion at deployment time.",
        example: "`variable \"nodes\" { type = string }` for an integer option.",
        fix: "Correct the variable's `type`.",
    }
    MANIFEST_UNUSED_OPTION = "manifest/unused-option", Warning, "package" {
        what: "A plan option the manifest does not declare as a variable (a warning).",
        why: "The user's answer would be ignored (fine for options read only by `entities`).",
        example: "An option `backups` with no `variable \"backups\"`.",
        fix: "Declare the variable, or remove the option from the plan.",
    }
    MANIFEST_UNKNOWN_REFERENCE = "manifest/unknown-reference", Error, "package" {
        what: "A reference to a variable, local, resource, data source or module not declared.",
        why: "Planning would fail.",
        example: "`var.titel` where `title` is declared.",
        fix: "Declare it or correct the name.",
    }
    MANIFEST_UNKNOWN_RESOURCE_TYPE = "manifest/unknown-resource-type", Error, "package" {
        what: "A resource or data source type that no provider vitrina serves (`vkcs`, `ivkcs`, `null`, `random`, `time`) offers, checked against the providers' schemas (with a did-you-mean).",
        why: "The deployment system has no provider for it.",
        example: "`resource \"aws_instance\" \"x\"`; `vkcs_compute_instanse`.",
        fix: "Use a type of a served provider (`vkcs_compute_instance`).",
    }
    MANIFEST_UNKNOWN_ARGUMENT = "manifest/unknown-argument", Error, "package" {
        what: "An argument or block that the resource or data source type does not have (per the provider's schema), or one that only the provider sets.",
        why: "The deployment would fail when it plans the manifest.",
        example: "`flavour_id = var.flavor` in a `vkcs_compute_instance`.",
        fix: "Correct the name as suggested (`flavor_id`), or remove it.",
    }
    MANIFEST_MISSING_ARGUMENT = "manifest/missing-argument", Error, "package" {
        what: "A required argument or block of the resource or data source type is missing, or a block is given more times than allowed.",
        why: "The provider cannot create the resource without it.",
        example: "A `vkcs_blockstorage_volume` without `size`.",
        fix: "Add the argument (`size = var.disk_size`).",
    }
    MANIFEST_ARGUMENT_TYPE = "manifest/argument-type", Error, "package" {
        what: "A literal argument value that does not convert to the argument's type in the provider's schema.",
        why: "Planning fails on the conversion.",
        example: "`size = \"ten\"` for a number.",
        fix: "Write a value of the argument's type (`size = 10`).",
    }
    MANIFEST_UNKNOWN_ATTRIBUTE = "manifest/unknown-attribute", Error, "package" {
        what: "A reference reads an attribute that the resource or data source type does not have.",
        why: "Planning would fail on the reference.",
        example: "`vkcs_compute_instance.vm.access_ip` (the attribute is `access_ip_v4`).",
        fix: "Correct the attribute name as suggested.",
    }
    MANIFEST_DEPRECATED_RESOURCE = "manifest/deprecated-resource", Warning, "package" {
        what: "A deprecated resource type: `ivkcs_agent_init`, `ivkcs_agent_status` (a warning).",
        why: "They still work but are replaced by better resources.",
        example: "`resource \"ivkcs_agent_init\" \"init\"`.",
        fix: "Use `ivkcs_user_data` and `ivkcs_agent_check`.",
    }
    MANIFEST_BAD_AGENT_STEP = "manifest/bad-agent-step", Error, "package" {
        what: "An `ivkcs_agent_exec` step with a duplicate `index`, a `type` other than bash/python, an unknown option, or a duration that does not parse.",
        why: "The agent would refuse the step.",
        example: "`type = \"perl\"`; `timeout = \"5 minutes\"`.",
        fix: "Unique indices, `bash` or `python`, durations like `5s`, `1m`, `1h`.",
    }
    MANIFEST_SENSITIVE_OUTPUT = "manifest/sensitive-output", Error, "package" {
        what: "An output whose value comes from a secret (`private_key`, `password`, `secret`, `random_password.*.result`) without `sensitive = true`.",
        why: "The secret would be shown in logs and the deployment status.",
        example: "`output \"password\" { value = random_password.admin.result }`.",
        fix: "Add `sensitive = true`.",
    }
    SETTINGS_BAD_VALUE = "settings/bad-value", Error, "package" {
        what: "`settings.yaml` with an unknown `preset` or `retry` value.",
        why: "The deployment system knows presets base_v2, base_v3, base_alpha and retry yes/no.",
        example: "`preset: base_v9`.",
        fix: "One of the known values.",
    }
    TF_READ = "tf/read", Error, "engine" {
        what: "A `.tf` file of the configuration folder cannot be read (or is not UTF-8).",
        why: "Nothing in it can be checked or run.",
        example: "A `main.tf` without read permission.",
        fix: "Make the file readable UTF-8 text.",
    }
    TF_DUPLICATE = "tf/duplicate", Error, "engine" {
        what: "Two blocks declare the same variable, local, resource, data source or output.",
        why: "References to the name would be ambiguous.",
        example: "`variable \"x\"` in two files.",
        fix: "Rename or remove one of them.",
    }
    TF_BAD_BLOCK = "tf/bad-block", Error, "engine" {
        what: "A block misses its labels, or a meta-argument (`count`, `depends_on`, `lifecycle`, `timeouts`, …) has the wrong shape.",
        why: "The engine cannot read the block.",
        example: "`resource \"null_resource\" {}` (no name).",
        fix: "As the message says.",
    }
    TF_UNDECLARED = "tf/undeclared", Error, "engine" {
        what: "A reference to a variable, local, resource or data source that is not declared (the check `package` makes as `manifest/unknown-reference`).",
        why: "The expression cannot be evaluated.",
        example: "`var.titel` where `title` is declared.",
        fix: "Declare it or correct the name as suggested.",
    }
    TF_CYCLE = "tf/cycle", Error, "engine" {
        what: "References form a cycle.",
        why: "No order of evaluation exists.",
        example: "`local.a = local.b` and `local.b = local.a`.",
        fix: "Break the cycle.",
    }
    TF_UNSUPPORTED = "tf/unsupported", Error, "engine" {
        what: "A language feature the engine does not support.",
        why: "It cannot be planned.",
        example: "A `module` block with a remote source.",
        fix: "Rewrite without it.",
    }
    TF_UNKNOWN_RESOURCE_TYPE = "tf/unknown-resource-type", Error, "engine" {
        what: "A resource or data source type no provider offers (with a did-you-mean).",
        why: "Nothing can create it.",
        example: "`vkcs_compute_instanse`.",
        fix: "Correct the type as suggested.",
    }
    TF_UNSUPPORTED_ARGUMENT = "tf/unsupported-argument", Error, "engine" {
        what: "An argument or block the resource type's schema does not have, or one only the provider sets.",
        why: "The provider would reject it.",
        example: "`flavour_id` in a `vkcs_compute_instance`.",
        fix: "Correct the name as suggested, or remove it.",
    }
    TF_MISSING_ARGUMENT = "tf/missing-argument", Error, "engine" {
        what: "A required argument or block is missing, or a block is given more times than allowed.",
        why: "The provider cannot create the resource.",
        example: "A `vkcs_blockstorage_volume` without `size`.",
        fix: "Add it.",
    }
    TF_ARGUMENT_TYPE = "tf/argument-type", Error, "engine" {
        what: "A literal argument value that does not convert to the argument's type.",
        why: "Planning fails on the conversion.",
        example: "`size = \"ten\"`.",
        fix: "Write a value of the argument's type.",
    }
    TF_UNKNOWN_ATTRIBUTE = "tf/unknown-attribute", Error, "engine" {
        what: "A reference reads an attribute the resource or data source type does not have.",
        why: "Evaluation would fail.",
        example: "`vkcs_compute_instance.vm.access_ip`.",
        fix: "Correct the attribute as suggested.",
    }
    TF_NO_CONFIGURATION = "tf/no-configuration", Error, "engine" {
        what: "The folder holds no `.tf` file.",
        why: "There is nothing to run.",
        example: "`vitrina tf plan` in an empty folder.",
        fix: "Point the command at the manifest's folder.",
    }
    TF_EVAL = "tf/eval", Error, "engine" {
        what: "An expression cannot be evaluated (a function error, a wrong operand type, an unknown value where a known one is needed, a bound exceeded).",
        why: "The resource or output cannot be planned.",
        example: "`1 / 0`; `element([], 0)`.",
        fix: "As the message says.",
    }
    TF_VARIABLE = "tf/variable", Error, "engine" {
        what: "A variable has no value, a value of the wrong type, or fails its validation.",
        why: "Everything that reads it would be wrong.",
        example: "`--var nodes=many` for a number.",
        fix: "Give a value of the declared type that passes the validation.",
    }
    TF_EXPANSION = "tf/expansion", Error, "engine" {
        what: "`count` or `for_each` is invalid or not known during the plan.",
        why: "The instances cannot be enumerated.",
        example: "`count = -1`.",
        fix: "Use a known, valid count or collection.",
    }
    TF_PREVENT_DESTROY = "tf/prevent-destroy", Error, "engine" {
        what: "A plan would destroy a resource with `lifecycle { prevent_destroy = true }`.",
        why: "The configuration asks that it never be destroyed.",
        example: "Removing such a resource from the manifest.",
        fix: "Remove `prevent_destroy` first, or keep the resource.",
    }
    TF_PROVIDER = "tf/provider", Error, "engine" {
        what: "A provider failed (configuration, plan, apply or read).",
        why: "The cloud refused or could not be reached.",
        example: "Wrong credentials in `clouds.yaml`.",
        fix: "As the provider's message says.",
    }
    TF_OUTPUT = "tf/output", Error, "engine" {
        what: "An output is invalid (it cannot be evaluated, or shows a sensitive value without `sensitive = true`).",
        why: "The output cannot be recorded.",
        example: "`output \"pw\" { value = random_password.p.result }`.",
        fix: "Add `sensitive = true`, or correct the value.",
    }
    TF_STATE = "tf/state", Error, "engine" {
        what: "The state file could not be read or written.",
        why: "Progress cannot be recorded safely.",
        example: "A read-only state folder.",
        fix: "Make the state file writable, or point `--state` elsewhere.",
    }
    TF_CANCELLED = "tf/cancelled", Error, "engine" {
        what: "The run was cancelled before this operation started (its owner stopped it, for example a server worker that lost its lease).",
        why: "A cancelled run stops at the next safe point; operations already sent finish and are recorded.",
        example: "A `vitrina serve` worker whose lease on a deployment expired while the database was unreachable.",
        fix: "Nothing to fix in the manifest: the next run (by this or another worker) continues from the state.",
    }
    TF_DEPRECATED = "tf/deprecated", Warning, "engine" {
        what: "A form Terraform still accepts but has deprecated, such as quoted references in `ignore_changes`, or a resource type or data source its provider deprecates (`ivkcs_agent_init`, `ivkcs_agent_status`).",
        why: "A later Terraform or provider version may refuse it; the current form says the same thing.",
        example: "`ignore_changes = [\"triggers\"]`; `resource \"ivkcs_agent_init\" \"a\" { … }`.",
        fix: "Write the reference without quotes: `ignore_changes = [triggers]`; use what the warning's help names (`ivkcs_user_data` instead of `ivkcs_agent_init`).",
    }
    TF_CONDITION = "tf/condition", Error, "engine" {
        what: "A `precondition` or `postcondition` of a resource, data source or output is false.",
        why: "The manifest's author declared that the run must not go on in this case.",
        example: "`precondition { condition = var.size > 0 error_message = \"size must be positive\" }` with `size = 0`.",
        fix: "Change the input so that the condition holds, as its `error_message` says.",
    }
    TF_CHECK = "tf/check", Warning, "engine" {
        what: "An `assert` of a `check` block is false.",
        why: "`check` blocks report problems without stopping the run, as in Terraform.",
        example: "`check \"up\" { assert { condition = false error_message = \"down\" } }`.",
        fix: "As the assertion's `error_message` says.",
    }
    TF_MOVED = "tf/moved", Warning, "engine" {
        what: "A `moved` block could not be applied (its source and target both exist, or it chains ambiguously).",
        why: "The object stays where it is, so the plan may destroy and create it.",
        example: "`moved { from = null_resource.a to = null_resource.b }` when both are in the state.",
        fix: "Remove the block or the object at its target.",
    }
    SDF_NOT_AN_APP = "sdf/not-an-app", Error, "package" {
        what: "A VM-SDF file whose root is not a mapping of applications by id, or a generated `deployment-info` (USERDATA) document given where applications are read.",
        why: "`vitrina sdf` reads application manifests; a USERDATA document or a bare list has no application to compile.",
        example: "`deployment-info:` at the top of a file in the apps folder.",
        fix: "Keep only application manifests (`lnmp-10: {name: …, variables: …}`) in the folder.",
    }
    SDF_TOO_LARGE = "sdf/too-large", Error, "package" {
        what: "An app file over 1 MiB, or a folder with more than 10,000 app files.",
        why: "Real app files have a few kilobytes; the bound keeps a hostile folder from exhausting memory.",
        example: "A 5 MB YAML file in the apps folder.",
        fix: "Split the file, or build the catalog from a smaller folder.",
    }
    SDF_REQUIRED = "sdf/required", Error, "package" {
        what: "A required attribute is missing: an application's `name`, `version` or `source`; a variable's `type`; the `options` of `OneOf`/`Some`; the `sources` of `active-if`; the `default` of a localized text; a criterion of a service-offering filter.",
        why: "The catalog, the form or the deployment cannot do without it.",
        example: "A variable with a `description` but no `type`.",
        fix: "Add the attribute.",
    }
    SDF_UNKNOWN_TYPE = "sdf/unknown-type", Error, "package" {
        what: "A variable's `type` is not one of the seed's types (`Number`, `String`, `DomainName`, `IpAddress`, `URI`/`URL`, `Email`, `Password`, `OneOf`, `Some`, `ServiceOffering`, `Section`).",
        why: "The form has no widget and no validator for it. The drafts' names (`FQDN_DNS`, `PASSWORD`, `REGEX`, `INTEGER`, `BOOLEAN`, `SERVICE-OFFERING`) are mapped in the help.",
        example: "`type: FQDN_DNS`.",
        fix: "Write the seed's type (`type: DomainName`); the fix does it where the mapping is direct.",
    }
    SDF_BAD_VALUE = "sdf/bad-value", Error, "package" {
        what: "An enumerated attribute has a value it does not allow: `mode` (`raw`, `kvs`, `ota+kvs`), `engine` (`ansible`, `shell`), `predicate` (`and`, `or`), `visual-mode`, an IP `version` (4, 6), a network rule's `protocol`; or `source` is not an http(s)/ftp URL.",
        why: "The deployment system and the form act on these values; anything else has no meaning.",
        example: "`engine: ansible | docker-stack`.",
        fix: "Write one of the allowed values (the fix writes the closest one).",
    }
    SDF_UNSUPPORTED_SCHEMA = "sdf/unsupported-schema", Error, "package" {
        what: "`schema`/`manifest-schema` or `userdata-schema` names a schema this reader does not implement.",
        why: "The manifest would be read by rules it was not written for.",
        example: "`schema: /schemes/vm-sdf-2.0.yaml`.",
        fix: "Write `/schemes/vm-sdf-manifest-1.0.yaml` (or `/schemes/vm-sdf-1.0.yaml`) and `/schemes/vm-sdf-userdata-1.0.yaml`.",
    }
    SDF_UNSUPPORTED_SCHEME = "sdf/unsupported-scheme", Error, "package" {
        what: "A URI variable's `scheme` list holds something that is not a URI scheme (RFC 3986), or a scheme whose URIs have no `//host` part (`mailto`, `urn`, …).",
        why: "The field reads `scheme://host/…`; such a scheme can never be typed into it.",
        example: "`scheme: [https://]`.",
        fix: "Write the bare scheme name (`https`); the fix writes the closest common one.",
    }
    SDF_UNKNOWN_FEATURE = "sdf/unknown-feature", Error, "package" {
        what: "`features-requested` names a feature vitrina does not provide.",
        why: "The user consents to each feature and the deployment creates it; an unknown one can be neither.",
        example: "`private-key-value-store: true` (a draft's name).",
        fix: "Use `vm-key-value-storage`, `log-storage`, `use-ota` (seed) or `vm-db`, `logs`, `application-db`, `temporary-db`, `cloudstack-api` (later spec).",
    }
    SDF_UNKNOWN_SOURCE = "sdf/unknown-source", Error, "package" {
        what: "An `active-if` source names no variable of the application.",
        why: "The condition can never hold, so the variable would never be active.",
        example: "`sources: {mysql-php-admin-instal: true}`.",
        fix: "Name a declared variable (the fix writes the closest one).",
    }
    SDF_FORWARD_SOURCE = "sdf/forward-source", Warning, "package" {
        what: "An `active-if` source is declared after the variable it activates.",
        why: "The form still evaluates it first, but shows the controlled field above the field that controls it.",
        example: "`use-lets-encrypt` activated by `mysql-php-admin-install` declared below it.",
        fix: "Move the source above the variable it activates.",
    }
    SDF_ACTIVATION_CYCLE = "sdf/activation-cycle", Error, "package" {
        what: "`active-if` conditions go round: a variable is activated, directly or through others, by itself.",
        why: "No order of evaluation exists; the form cannot decide which fields are active.",
        example: "`a` active if `b: true` and `b` active if `a: true`.",
        fix: "Remove one source of the cycle.",
    }
    SDF_CONDITION_VALUE = "sdf/condition-value", Warning, "package" {
        what: "An `active-if` value that its source can never hold: not among a `OneOf`/`Some` source's options, or not a bool for a `Section`.",
        why: "That part of the condition never holds (with `and`, the variable is never active).",
        example: "`sources: {mysql-mode: instal}` where the options are `install` and `use`.",
        fix: "Use one of the source's values.",
    }
    SDF_BAD_DEFAULT = "sdf/bad-default", Error, "package" {
        what: "A `default` breaks its variable's own rules: outside `minimum`/`maximum`, not a whole number where `is-integer`, too short or long, not matching `regex`, not a domain name, IP address, URL (or of a scheme not allowed) or e-mail.",
        why: "The form would start with a value it then refuses.",
        example: "`default: 80` with `minimum: 1024`.",
        fix: "Change the default or the rule.",
    }
    SDF_DEFAULT_NOT_OPTION = "sdf/default-not-option", Error, "package" {
        what: "The `default` of a `OneOf`, or an item of the `defaults` of a `Some`, is not one of its options.",
        why: "The form could not show it selected.",
        example: "`defaults: [abc]` where the options are `abd` and `def`.",
        fix: "Use an option's key (the fix writes the closest one).",
    }
    SDF_BAD_REGEX = "sdf/bad-regex", Error, "package" {
        what: "A `regex`/`validator` (or a filter's `name-regex`) does not compile.",
        why: "Every value would be refused.",
        example: "`regex: '^[a-z'`.",
        fix: "Correct the expression (Rust `regex` syntax: no look-around or back-references).",
    }
    SDF_BAD_RANGE = "sdf/bad-range", Error, "package" {
        what: "A minimum above its maximum (numbers or lengths), a negative length or resource, or a `minimal-root-disk-size` not above 0.",
        why: "No value could satisfy the variable, or the size means nothing.",
        example: "`minimum: 10` with `maximum: 5`.",
        fix: "Make the bounds consistent.",
    }
    SDF_LEGACY_KEY = "sdf/legacy-key", Warning, "package" {
        what: "A draft spelling of an attribute that is read as the seed's: `integer_min`/`integer_max` (Number), `mimimum-length` (Password).",
        why: "The seed's own LNMP example writes `integer_min`; it keeps working, but other readers know only the documented names.",
        example: "`integer_min: 1024`.",
        fix: "Write `minimum: 1024` (the fix renames the key).",
    }
    SDF_DUPLICATE_APP = "sdf/duplicate-app", Error, "package" {
        what: "Two files of one folder define an application with the same id.",
        why: "The catalog holds each application once, by id.",
        example: "`lnmp-10:` in `a.yml` and in `b.yml`.",
        fix: "Give each application its own id.",
    }
    SDF_BAD_NETWORK_RULE = "sdf/bad-network-rule", Error, "package" {
        what: "A `network-security` rule with a port outside 1–65535 (or a reversed range), an ICMP type/code outside -1–255, or a `cidr` that is not a network.",
        why: "The security group cannot be created from it.",
        example: "`ports: [70000]`.",
        fix: "Write ports 1–65535 (`1025-5555` for a range) and networks as `ip/prefix`.",
    }
}

/// The codes one room emits.
pub fn of_room(room: &str) -> impl Iterator<Item = &'static CodeInfo> + '_ {
    REGISTRY.iter().filter(move |c| c.room == room)
}

/// The registered entry of a code.
pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    REGISTRY.iter().find(|c| c.code == code)
}

/// The reference of every code as Markdown (the content of `docs/CODES.md`).
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Diagnostic codes\n\nEvery code vitrina emits, generated from `crates/diagnostics/src/codes.rs` (a test fails when \
         this file is stale; regenerate with `UPDATE_CODES_MD=1 cargo test -p vitrina-diagnostics --test codes_doc`).\n",
    );
    for room in ["package", "hcl", "engine", "server"] {
        out.push_str(&format!("\n# Room `{room}`\n"));
        for c in of_room(room) {
            out.push_str(&format!(
                "\n## `{}` ({})\n\n{}\n\n- Why: {}\n- Example: {}\n- Fix: {}\n",
                c.code,
                c.severity.as_str(),
                c.what,
                c.why,
                c.example,
                c.fix
            ));
        }
    }
    out
}
