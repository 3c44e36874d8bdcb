"""The inventory parser: what operators write, and how their mistakes are reported."""

from __future__ import annotations

import pytest

from aicc.core.inventory import InventoryError, parse_inventory
from tests.world import INVENTORY


def test_parses_flavors_nodes_and_expands_counts() -> None:
    inv = parse_inventory(INVENTORY, "center.toml")
    assert inv.site.name == "test-site"
    assert set(inv.flavors) == {"h100", "a100", "cpu"}
    assert [n.name for n in inv.nodes] == ["h100-node-01", "h100-node-02", "a100-node", "cpu-node"]
    assert inv.flavors["h100"].device_env == "CUDA_VISIBLE_DEVICES"  # the default for accelerators
    assert inv.flavors["cpu"].device_env is None and inv.flavors["cpu"].is_cpu
    assert inv.capacity() == {"h100": 8, "a100": 4, "cpu": 16}


@pytest.mark.parametrize(
    ("edit", "line", "field", "message"),
    [
        (("su_rate = 2.0", "su_rate = -1"), 9, "flavors[0].su_rate", "greater than 0"),
        (('flavor = "a100"', 'flavor = "v100"'), 32, "nodes[1].flavor", "unknown flavor 'v100'"),
        (("accelerators = 0", "accelerators = 2"), 40, "nodes[2].accelerators", "must be 0 on a CPU node"),
        (("su_rate = 1.0", "su_rate = 1.0\ncolour = 1"), 16, "flavors[1].colour", "unknown field"),
        (("cpus = 16", "cpus = \"many\""), 41, "nodes[2].cpus", "must be an integer"),
        (('name = "a100-node"', 'name = "A100_node"'), 31, "nodes[1].name", "lowercase"),
    ],
)
def test_errors_name_file_line_and_field(edit: tuple[str, str], line: int, field: str, message: str) -> None:
    text = INVENTORY.replace(*edit, 1) if edit[0] != "accelerators = 0" else INVENTORY.replace(*edit)
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "center.toml")
    err = caught.value
    assert err.source == "center.toml"
    assert err.field_path == field
    assert message in err.detail
    assert err.line == line, err.detail
    assert err.detail.startswith(f"center.toml:{line}: {field}:")


def test_syntax_error_reports_the_line() -> None:
    with pytest.raises(InventoryError) as caught:
        parse_inventory("[site]\nname = \"x\"\n\n[[flavors]]\nname = \n", "broken.toml")
    assert caught.value.line == 5
    assert "not valid TOML" in caught.value.detail


def test_duplicate_names_and_missing_tables_are_rejected() -> None:
    with pytest.raises(InventoryError, match="duplicate flavor"):
        parse_inventory(INVENTORY.replace('name = "a100"\n', 'name = "h100"\n', 1), "c.toml")
    with pytest.raises(InventoryError, match="at least one"):
        parse_inventory('[site]\nname = "x"\n', "c.toml")
    with pytest.raises(InventoryError, match="unknown table"):
        parse_inventory(INVENTORY + "\n[extras]\nx = 1\n", "c.toml")
    doubled = INVENTORY + '\n[[nodes]]\nname = "cpu-node"\nflavor = "cpu"\naccelerators = 0\ncpus = 1\nmemory_gb = 1\n'
    with pytest.raises(InventoryError, match="duplicate or too long node name 'cpu-node'"):
        parse_inventory(doubled, "c.toml")


def test_keep_tables_passes_extra_tables_through() -> None:
    inv = parse_inventory(INVENTORY + '\n[[projects]]\nname = "p"\n', "c.toml", keep_tables=("projects",))
    assert inv.extra["projects"] == [{"name": "p"}]


TOPOLOGY = """
[[flavors]]
name = "h100"
vendor = "nvidia"
su_rate = 2.0

[[nodes]]
name = "a"
flavor = "h100"
accelerators = 8
cpus = 64
memory_gb = 512
count = 2
switch = "leaf-1"

[[nodes]]
name = "b"
flavor = "h100"
accelerators = 8
cpus = 64
memory_gb = 512
"""


def test_a_topology_label_on_some_nodes_of_a_flavor_but_not_others_names_the_line() -> None:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(TOPOLOGY, "center.toml")
    assert caught.value.line == 16 and "nodes[1]" in str(caught.value)
    assert "label all of them or none" in str(caught.value)
    inv = parse_inventory(TOPOLOGY.rstrip() + '\nswitch = "leaf-2"\n', "center.toml")
    assert [(n.name, n.switch) for n in inv.nodes] == [("a-01", "leaf-1"), ("a-02", "leaf-1"), ("b", "leaf-2")]


SLICES = """
[[flavors]]
name = "h100"
vendor = "nvidia"
su_rate = 2.0

[[flavors]]
name = "h100.1g.10gb"
vendor = "nvidia"
memory_gb = 10
su_rate = 0.3
slice_of = "h100"

[[nodes]]
name = "gpu01-mig"
flavor = "h100.1g.10gb"
accelerators = 2
cpus = 8
memory_gb = 64
devices = ["MIG-aaaa1111-0000-5000-8000-000000000000", "MIG-bbbb2222-0000-5000-8000-000000000000"]
"""


def test_a_node_declares_its_slices_as_a_flavor_of_their_own() -> None:
    inv = parse_inventory(SLICES, "mig.toml")
    assert inv.flavors["h100.1g.10gb"].slice_of == "h100" and inv.flavors["h100.1g.10gb"].su_rate == 0.3
    assert inv.capacity() == {"h100": 0, "h100.1g.10gb": 2}
    assert inv.nodes[0].devices[1].startswith("MIG-bbbb")


@pytest.mark.parametrize(("edit", "message"), [
    (('slice_of = "h100"', 'slice_of = "a100"'), "must name a declared accelerator flavor"),
    (('"MIG-bbbb2222-0000-5000-8000-000000000000"', '"MIG-aaaa1111-0000-5000-8000-000000000000"'), "twice"),
    ((', "MIG-bbbb2222-0000-5000-8000-000000000000"', ""), "names 1 devices for 2 accelerators"),
    (('"MIG-aaaa1111', '"/dev/nvidia0;'), "is not a device selector"),
])
def test_bad_slices_are_refused_with_the_field(edit: tuple[str, str], message: str) -> None:
    with pytest.raises(InventoryError, match=message):
        parse_inventory(SLICES.replace(*edit), "mig.toml")


def test_storage_has_a_rate_per_gib_month_like_a_flavor_and_its_name_is_reserved() -> None:
    assert parse_inventory(INVENTORY, "c.toml").storage_su_per_gb_month == 0.0  # metered, free by default
    priced = parse_inventory(INVENTORY + "\n[storage]\nsu_per_gb_month = 0.5\n", "c.toml")
    assert priced.storage_su_per_gb_month == 0.5
    with pytest.raises(InventoryError) as caught:
        parse_inventory(INVENTORY + "\n[storage]\nsu_per_gb_month = -1\n", "c.toml")
    assert caught.value.field_path == "storage.su_per_gb_month" and caught.value.line == 45
    with pytest.raises(InventoryError, match="unknown field"):
        parse_inventory(INVENTORY + "\n[storage]\nsu_per_tb = 1\n", "c.toml")
    with pytest.raises(InventoryError, match="'storage' is reserved"):
        parse_inventory(INVENTORY.replace('name = "a100"\n', 'name = "storage"\n', 1), "c.toml")
