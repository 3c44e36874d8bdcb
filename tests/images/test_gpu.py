"""GPUs in image jobs, without a GPU: the bwrap arguments bind exactly the placed devices, found by NVML's index
(PCI bus order) through each bus id's device minor, and mask every other GPU's /proc entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from aicc.images.gpu import gpu_args, gpus_by_index

# bus id -> minor; the minors are deliberately not in PCI order
FAKE = {"0000:c1:00.0": 0, "0000:1b:00.0": 3, "0000:41:00.0": 1, "0000:9a:00.0": 2}


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    for bus, minor in FAKE.items():
        (tmp_path / bus).mkdir()
        (tmp_path / bus / "information").write_text(f"Model: NVIDIA H100\nIRQ: 1\nDevice Minor: {minor}\n")
    return tmp_path


def test_gpus_are_numbered_in_pci_bus_order_with_their_device_minors(proc: Path) -> None:
    assert gpus_by_index(proc) == [("0000:1b:00.0", 3), ("0000:41:00.0", 1), ("0000:9a:00.0", 2),
                                   ("0000:c1:00.0", 0)]


def test_only_the_placed_gpus_device_nodes_and_proc_entries_are_bound(proc: Path) -> None:
    args, env = gpu_args([1, 3], proc)
    devs = [args[i + 1] for i, a in enumerate(args) if a == "--dev-bind" and args[i + 1].startswith("/dev/nvidia")
            and args[i + 1][11:].isdigit()]
    assert devs == ["/dev/nvidia1", "/dev/nvidia0"]  # index 1 -> 41:00.0 (minor 1), index 3 -> c1:00.0 (minor 0)
    mask = args.index("--tmpfs")
    assert args[mask + 1] == str(proc)
    shown = [args[i + 2] for i, a in enumerate(args) if a == "--ro-bind" and args[i + 1].startswith(str(proc))]
    assert shown == [str(proc / "0000:41:00.0"), str(proc / "0000:c1:00.0")]
    assert all(i > mask for i, a in enumerate(args) if a == "--ro-bind" and args[i + 1].startswith(str(proc)))
    assert env == {"LD_LIBRARY_PATH": "/aicc/driver/lib", "PATH": "/aicc/driver/bin"}


def test_a_placement_on_a_gpu_the_node_lacks_is_refused(proc: Path) -> None:
    with pytest.raises(RuntimeError, match="GPU index 4 was placed but this node has 4"):
        gpu_args([4], proc)
