//! Manifest checks (`manifest/*`) on a plan's `deployment/*.tf`, through the `hcl` room.

use std::collections::BTreeMap;

use vitrina_diagnostics::Diagnostics;

use crate::option::OptionDef;
use crate::validate::PlanModel;
use crate::yaml::Node;

/// Checks the plan's manifest files against its options.
pub fn check_manifest(
    _diags: &mut Diagnostics,
    _plan: &PlanModel,
    _options: &BTreeMap<String, (Node, Option<OptionDef>)>,
) {
}
