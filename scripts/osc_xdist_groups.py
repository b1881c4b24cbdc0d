"""pytest plugin for scripts/osc-functional.sh: tests of python-openstackclient's functional suite
that use the same fixed resource name run on one xdist worker (`--dist loadgroup`), so parallel
workers do not create and delete each other's resource. Every other test is spread as usual.
"""

import pytest

# xdist group -> test function names that share a fixed resource name.
GROUPS = {
    # Both create and delete a key pair named `tmpkey`.
    "keypair-tmpkey": {
        "test_keypair_create_public_key",
        "test_keypair_create_private_key",
    },
    # Each creates (and deletes) a flavor with the ID `qaz`.
    "flavor-qaz": {
        "test_flavor_delete",
        "test_flavor_list",
        "test_flavor_properties",
    },
}


def pytest_collection_modifyitems(items):
    for item in items:
        name = getattr(item, "originalname", None) or item.name
        for group, names in GROUPS.items():
            if name in names:
                item.add_marker(pytest.mark.xdist_group(group))
