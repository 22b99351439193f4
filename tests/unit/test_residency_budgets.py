"""Memory budgets: CPU mode with a RAM budget when there is no GPU, stated plainly."""

from __future__ import annotations

from localforge.models.gpu import CPU, probe_budgets, total_ram_bytes
from localforge.settings import ResidencySettings

MIB = 1024 * 1024


def test_configured_ram_budget_is_used_and_said() -> None:
    budgets = probe_budgets(ResidencySettings(ram_budget_mb=1234))
    cpu = next(device for device in budgets.devices if device.key == CPU)
    assert cpu.budget_bytes == 1234 * MIB
    assert "residency.ram_budget_mb" in budgets.detail
    if budgets.mode == "cpu":
        assert budgets.detail.startswith("CPU mode (")
        assert budgets.as_dict() == {CPU: 1234 * MIB}


def test_default_ram_budget_is_sixty_percent_of_ram() -> None:
    budgets = probe_budgets(ResidencySettings())
    cpu = next(device for device in budgets.devices if device.key == CPU)
    assert cpu.budget_bytes == int(total_ram_bytes() * 0.6)
    assert "60% of" in budgets.detail
