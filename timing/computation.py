"""The payout computation: loss → minus recovered → percentage → caps.

Each stage is recorded as a ``Step`` citing the clause ID the caller supplies,
so a claims lead can read exactly how the amount was reached::

    loss: ¥1,500,000 → ¥1,500,000
    minus recovered [HNB-A1]: ¥1,500,000 → ¥1,200,000 (recovered ¥300,000)
    cap customer:42/year:2026 [HNB-L1]: ¥1,200,000 → ¥1,000,000 (...; binding)
    payable: ¥1,000,000
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from timing.caps import Cap, apply_caps
from timing.money import (
    PercentLike,
    format_yen,
    minus_recovered,
    percentage_floor,
    require_yen,
)
from timing.trace import Step

__all__ = ["Computation", "compute_payout"]


@dataclass(frozen=True, slots=True)
class Computation:
    """The result of ``compute_payout``: every step and the final payable yen."""

    loss: int
    payable: int
    steps: tuple[Step, ...]
    binding_cap: str | None = None

    def explain(self) -> str:
        """One line per step, ending with the payable amount."""
        lines = [step.describe() for step in self.steps]
        lines.append(f"payable: {format_yen(self.payable)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


def compute_payout(
    loss: int,
    *,
    loss_clause: str = "",
    recovered: int = 0,
    recovered_clause: str = "",
    percent: PercentLike | None = None,
    percent_clause: str = "",
    caps: Sequence[Cap] = (),
) -> Computation:
    """Compute the payable amount in the fixed order loss → recovered → percent → caps.

    * ``recovered``: yen recovered or compensated elsewhere (HNB-A1, DCM-A2,
      KDN clause 7); deducted first and floored at zero. Always recorded.
    * ``percent``: the covered share (KDN-A1 ``90``, ISA-A2 ``70``), rounded
      down to the yen; ``None`` skips the step (100%).
    * ``caps``: applied in order by ``apply_caps``; each cap cites its own
      ``cap_id``.
    """
    require_yen(loss, "loss")
    steps = [Step("loss", loss_clause, loss, loss)]

    net = minus_recovered(loss, recovered)
    steps.append(
        Step("minus recovered", recovered_clause, loss, net, f"recovered {format_yen(recovered)}")
    )

    amount = net
    if percent is not None:
        amount = percentage_floor(net, percent)
        steps.append(
            Step("percentage", percent_clause, net, amount, f"{percent}% rounded down to the yen")
        )

    capped = apply_caps(amount, caps)
    steps.extend(capped.steps)
    return Computation(loss, capped.payable, tuple(steps), capped.binding_cap)
