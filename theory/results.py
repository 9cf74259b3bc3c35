"""What every certified result of the package has in common.

A solver of modgate returns a frozen dataclass with, wherever they make sense,
the same fields: ``value`` (the number the user asked for), ``lower`` and
``upper`` (a certified interval: in exact arithmetic lower ≤ true value ≤
upper), ``gap`` (= upper − lower), ``converged`` (whether the solver reached its
tolerance before its iteration budget) and ``iterations``.

The bounds are computed in floating point, so on an instance solved to full
precision they can cross by a few ulps. :func:`certified_interval` settles
that in one place, when the result is built: a crossing within rounding is
closed (lower is lowered to upper); a larger crossing means an arithmetic
failure, is reported by a ``RuntimeWarning`` and the result is marked
``converged=False``.
"""

from __future__ import annotations

import math
import warnings

__all__ = ["CROSS_RTOL", "certified_interval", "Certified"]

#: A lower bound above its upper bound by at most this much (relative to the
#: larger magnitude, and at least absolute) is rounding, not a contradiction.
CROSS_RTOL = 1e-10


def certified_interval(lower: float, upper: float) -> tuple[float, float, bool]:
    """``(lower, upper, consistent)`` with a rounding crossing closed.

    ``consistent`` is False when ``lower`` exceeds ``upper`` by more than
    rounding (then both are returned as ``upper``, and a warning is issued).
    """
    lower, upper = float(lower), float(upper)
    if not lower > upper:
        return lower, upper, True
    scale = max(1.0, abs(lower), abs(upper)) if math.isfinite(lower) else math.inf
    if lower - upper <= CROSS_RTOL * scale:
        return upper, upper, True
    warnings.warn(
        f"certified bounds cross: lower {lower!r} > upper {upper!r}; the result is "
        "reported with lower = upper and converged=False",
        RuntimeWarning,
        stacklevel=3,
    )
    return upper, upper, False


class Certified:
    """Mixin for frozen result dataclasses with ``lower``/``upper``/``converged`` fields.

    Closes rounding crossings of the bounds when the result is built
    (:func:`certified_interval`) and provides :attr:`gap`.
    """

    def __post_init__(self) -> None:
        lower, upper, consistent = certified_interval(self.lower, self.upper)
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)
        if not consistent and hasattr(self, "converged"):
            object.__setattr__(self, "converged", False)

    @property
    def gap(self) -> float:
        """The width upper − lower of the certified interval (≥ 0)."""
        return self.upper - self.lower
