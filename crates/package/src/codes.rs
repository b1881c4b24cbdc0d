//! The registry of diagnostic codes raised on service packages.
//!
//! Codes are stable: never renamed, never reused. Each constant documents what the rule checks,
//! why, an example, and the fix. [`ALL`] lists every code (tests check each has a case).

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal; )*) => {
        $( $(#[$doc])* pub const $name: &str = $code; )*
        /// Every code of this registry, in declaration order.
        pub const ALL: &[&str] = &[$($code),*];
    };
}

codes! {
    /// A required file is missing: `version.yaml`, `service.yaml`, `full_description.md`,
    /// `plans/<PLAN>/plan.yaml`, `plans/<PLAN>/display.yaml`, or any `.tf` in
    /// `plans/<PLAN>/deployment/`. Why: the marketplace rejects such an upload.
    /// Example: a package without `full_description.md`. Fix: add the file.
    PACKAGE_MISSING_FILE = "package/missing-file";
    /// A file or folder name with characters other than ASCII letters, digits, `_`, `-`, `.`.
    /// Why: the marketplace's storage refuses such names. Example: `images/my icon.png`.
    /// Fix: rename to e.g. `images/my_icon.png` (and the references to it).
    PACKAGE_BAD_NAME = "package/bad-name";
    /// The zip of the package would exceed 30 MB, the upload limit. Example: a 40 MB image in
    /// `images/`. Fix: remove large files that the package does not need.
    PACKAGE_TOO_LARGE = "package/too-large";
    /// A zip entry that could escape or explode: an absolute path, a `..` component, a link,
    /// or an expansion ratio above 100 (a zip bomb). Why: reading such a zip is an attack
    /// vector. Example: an entry `../evil`. Fix: pack the folder with `vitrina package pack`.
    PACKAGE_UNSAFE_ARCHIVE = "package/unsafe-archive";
    /// The validator itself failed on this package: a bug in vitrina, not in the package.
    /// Fix: report it.
    PACKAGE_INTERNAL_ERROR = "package/internal-error";
    /// A YAML file does not parse; the position is the parser's. Example: an unquoted `hint`
    /// containing `: `. Fix: quote the value.
    YAML_SYNTAX = "yaml/syntax";
    /// A field has the wrong YAML type. Example: `bindable: "true"` (a quoted string where a
    /// bool is required). Fix: write the value unquoted (`bindable: true`).
    YAML_TYPE = "yaml/type";
    /// (warning) A key this format does not define; often a typo. Example: `descripton:`.
    /// Fix: correct the key as suggested, or remove it.
    YAML_UNKNOWN_KEY = "yaml/unknown-key";
    /// The same key twice in one mapping: YAML forbids it and readers disagree on which wins.
    /// Example: `name:` twice in `service.yaml`. Fix: keep one.
    YAML_DUPLICATE_KEY = "yaml/duplicate-key";
    /// `version.yaml` names a generator version other than `0.0.1` or `1.0.0`.
    /// Example: `version: 2.0`. Fix: `version: 1.0.0`.
    VERSION_UNSUPPORTED = "version/unsupported";
    /// A required field of `service.yaml` is missing (`id`, `revision`, `name`,
    /// `short_description`, `bindable`, `plan_updateable`, `deactivatable`,
    /// `bindings_retrievable`, `instances_retrievable`, `plans`, `preview`), or one of them is
    /// empty. Fix: add it.
    SERVICE_REQUIRED = "service/required";
    /// The service `id` is not a UUID version 4 (version nibble 4, RFC 4122 variant).
    /// Example: `id: 72b70199-1823-10c8-aa7e-f43a23ddf380`. Fix: generate one with `uuidgen -r`.
    SERVICE_ID_NOT_UUID4 = "service/id-not-uuid4";
    /// A string of `service.yaml` is empty or longer than its limit (`short_description` 120,
    /// `name` and `revision` 255, `icon` and `help` 512). Fix: shorten it.
    SERVICE_TOO_LONG = "service/too-long";
    /// `bindable` is not `true`: image-based services are always bindable. Fix: `bindable: true`.
    SERVICE_BINDABLE_FALSE = "service/bindable-false";
    /// `plan_updateable` is not `false`: a deployed image-based service cannot change plan.
    /// Fix: `plan_updateable: false`.
    SERVICE_PLAN_UPDATEABLE = "service/plan-updateable";
    /// `plans[].name` names a plan with no `plans/<PLAN>/` folder. Example: `- name: basic`
    /// without `plans/basic/`. Fix: add the folder or correct the name.
    SERVICE_UNKNOWN_PLAN = "service/unknown-plan";
    /// `preview.parameters[].name` names no file in `parameters/`. Fix: add
    /// `parameters/<name>.yaml` or correct the name.
    SERVICE_UNKNOWN_PREVIEW_OPTION = "service/unknown-preview-option";
    /// The `icon` of `service.yaml` is not a file in `images/`. Fix: add `images/<icon>`.
    ICON_MISSING = "icon/missing";
    /// The icon is over 1 MiB. Fix: compress or resize it.
    ICON_TOO_LARGE = "icon/too-large";
    /// A PNG icon under 62×62 px (or not a readable PNG). Fix: use a larger image.
    ICON_TOO_SMALL = "icon/too-small";
    /// `schema.description`, `schema.hint` or `billing.unit.measurement` over 255 characters.
    /// Fix: shorten it.
    OPTION_TOO_LONG = "option/too-long";
    /// An option file lacks `actions`, `schema`, `schema.description` or `schema.type`.
    /// Fix: add the field.
    OPTION_REQUIRED = "option/required";
    /// An action other than `create`, `update`, `resource_usages`. Example: `- delete`.
    /// Fix: use one of the three.
    OPTION_BAD_ACTION = "option/bad-action";
    /// An unknown `schema.type`, or `number` outside a postpaid (`resource_usages`) option.
    /// Fix: `integer`, `string` or `boolean`.
    OPTION_BAD_TYPE = "option/bad-type";
    /// `const` with other value keys, or `enum` with `minimum`/`maximum`/`pattern`/length keys.
    /// Why: the subtype is decided by which keys are present. Fix: keep one subtype's keys.
    OPTION_CONFLICTING_KEYS = "option/conflicting-keys";
    /// `default` is not one of `enum`. Example: `enum: [3, 5, 7]` with `default: 4`.
    /// Fix: pick a listed value.
    OPTION_DEFAULT_NOT_IN_ENUM = "option/default-not-in-enum";
    /// `minimum` > `maximum`, `default` outside the range, a negative count, or bad string
    /// lengths (`0 < minLength ≤ maxLength`). Fix: correct the bounds.
    OPTION_RANGE = "option/range";
    /// `pattern` is not a valid regular expression. Example: `pattern: "[a-z"`. Fix: correct it.
    OPTION_BAD_PATTERN = "option/bad-pattern";
    /// A datasource with an unknown type, a `filter` or `default` not allowed for its type, or
    /// bad filter values (e.g. `kind: private` for a network). Fix: as the message says.
    OPTION_BAD_DATASOURCE = "option/bad-datasource";
    /// `billing` on a non-integer option (except a boolean on-price), a missing `cost` or
    /// `unit.size`, or `unit.size` ≠ 1 for a postpaid option. Fix: as the message says.
    OPTION_BILLING = "option/billing";
    /// A disk `tag` used by only one option: a disk is a `volume_type` datasource plus an
    /// integer size sharing one tag. Fix: add the other half or remove the tag.
    OPTION_UNPAIRED_TAG = "option/unpaired-tag";
    /// A required field of `plan.yaml` is missing (`id`, `revision`, `name`, `description`,
    /// `free`, `billing`, `billing.cost`). Fix: add it.
    PLAN_REQUIRED = "plan/required";
    /// A plan's `revision` or `description` is longer than 255 characters. Fix: shorten it.
    PLAN_TOO_LONG = "plan/too-long";
    /// A plan `id` that is not a UUID version 4. Fix: generate one with `uuidgen -r`.
    PLAN_ID_NOT_UUID4 = "plan/id-not-uuid4";
    /// A plan id equal to the service id or to another plan's id. Fix: a fresh UUID4.
    PLAN_DUPLICATE_ID = "plan/duplicate-id";
    /// The plan's `name` differs from its folder name, or has characters other than ASCII
    /// letters, digits and `_`. Fix: make them equal.
    PLAN_NAME_MISMATCH = "plan/name-mismatch";
    /// `free: true` with a non-zero `billing.cost`. Fix: cost 0, or `free: false`.
    PLAN_FREE_WITH_COST = "plan/free-with-cost";
    /// `billing_cycle_flat` does not parse. Example: `1 month`. Fix: `"1 mons 0 days"`.
    PLAN_BAD_BILLING_CYCLE = "plan/bad-billing-cycle";
    /// A `parameters_patch` for an unknown option, a section and a key inside it both patched,
    /// or a patch that makes the option invalid. Fix: as the message says.
    PLAN_BAD_PATCH = "plan/bad-patch";
    /// Postpaid options together with prepaid ones, or postpaid options in a paid plan.
    /// Fix: a separate free plan for postpaid options.
    PLAN_MIXED_BILLING = "plan/mixed-billing";
    /// More than 5 pages in `display.yaml`. Fix: merge pages.
    DISPLAY_TOO_MANY_PAGES = "display/too-many-pages";
    /// A page name over 32 characters or a group name over 255. Fix: shorten it.
    DISPLAY_TOO_LONG = "display/too-long";
    /// A group or entity names an option with no file in `parameters/`. Fix: add the file or
    /// correct the name.
    DISPLAY_UNKNOWN_OPTION = "display/unknown-option";
    /// An option in more than one group of a plan. Fix: keep it in one group.
    DISPLAY_DUPLICATE_OPTION = "display/duplicate-option";
    /// A malformed `when`, or a nested condition (an option shown in a conditional group used
    /// in another `when`). Fix: `{in|not_in: {key: {param: X}, values: [{const: V}]}}`.
    DISPLAY_BAD_WHEN = "display/bad-when";
    /// A `flavor` or `volume_type` option is used and `entities` is missing or has no disks.
    /// Fix: describe the VMs and disks in `entities` so the price can be computed.
    DISPLAY_MISSING_ENTITIES = "display/missing-entities";
    /// An unknown entity kind, both or neither of `const`/`param`, or a `param` of the wrong
    /// kind. Fix: as the message says.
    DISPLAY_BAD_ENTITY = "display/bad-entity";
    /// A `.tf` file of the manifest does not parse. Fix: correct the syntax at the position.
    MANIFEST_SYNTAX = "manifest/syntax";
    /// A `variable` without `type`, or with a type that is not valid. Fix: add `type = string`.
    MANIFEST_MISSING_TYPE = "manifest/missing-type";
    /// A variable without `default` that is neither special (`instance_uuid`, `email`) nor a
    /// plan option: nobody would fill it. Fix: add a default or an option of that name.
    MANIFEST_UNBOUND_VARIABLE = "manifest/unbound-variable";
    /// A plan option and its variable disagree on type (integer → number, string and
    /// datasource → string, boolean → bool). Fix: correct the variable's `type`.
    MANIFEST_TYPE_MISMATCH = "manifest/type-mismatch";
    /// (warning) A plan option that the manifest does not declare as a variable. Fix: declare
    /// `variable "<option>"` or remove the option from the plan.
    MANIFEST_UNUSED_OPTION = "manifest/unused-option";
    /// A reference to a variable, local, resource, data source or module not declared.
    /// Fix: declare it or correct the name.
    MANIFEST_UNKNOWN_REFERENCE = "manifest/unknown-reference";
    /// A resource or data source type from a provider vitrina does not serve (`vkcs`,
    /// `ivkcs`, `null`, `random`, `time`). Fix: use a served type.
    MANIFEST_UNKNOWN_RESOURCE_TYPE = "manifest/unknown-resource-type";
    /// (warning) A deprecated resource type (`ivkcs_agent_init`, `ivkcs_agent_status`).
    /// Fix: use `ivkcs_user_data` and `ivkcs_agent_check`.
    MANIFEST_DEPRECATED_RESOURCE = "manifest/deprecated-resource";
    /// An `ivkcs_agent_exec` step with a duplicate `index`, a `type` other than bash/python, a
    /// duration that does not parse, or an unknown option. Fix: as the message says.
    MANIFEST_BAD_AGENT_STEP = "manifest/bad-agent-step";
    /// An output whose value comes from a secret (`private_key`, `password`, `secret`,
    /// `random_password.*.result`) without `sensitive = true`. Fix: add `sensitive = true`.
    MANIFEST_SENSITIVE_OUTPUT = "manifest/sensitive-output";
    /// `settings.yaml` with an unknown `preset` (base_v2, base_v3, base_alpha) or `retry`
    /// (yes, no) value. Fix: one of those.
    SETTINGS_BAD_VALUE = "settings/bad-value";
}
