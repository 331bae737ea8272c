"""Moving the ``champion`` alias: the one hand-off from training to serving.

``promote`` is explicit and recorded: the version gets tags saying when, by whom, why, and which version it
replaced, so every change of the served model can be traced and rolled back (``promote`` the previous one).
The gated path (a challenger promoted only when it beats the champion) builds on this function.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
from dataclasses import dataclass

import mlflow
from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

CHAMPION = "champion"


@dataclass(frozen=True)
class Promotion:
    """What a promotion changed."""

    name: str
    version: str
    previous: str | None
    reason: str
    actor: str
    at: str


def current_version(name: str, alias: str) -> str | None:
    """The version ``alias`` points at, or None when the model or the alias does not exist."""
    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


#: Version tag the retraining job sets: ``pass`` or ``fail`` of its gate.
GATE_TAG = "retrain.gate"


class GateRejectedError(ValueError):
    """The version failed the retraining gate and the promotion was not forced."""


def promote(name: str, version: str, reason: str, actor: str | None = None, *, force: bool = False) -> Promotion:
    """Point ``champion`` at ``version`` (which must exist) and record why on the version's tags.

    A version the retraining gate rejected (tag ``retrain.gate = fail``) moves only with ``force``; a forced
    promotion is tagged and logged as such. Every consumer (CLI, comparison UI, retrain job) promotes through here.
    """
    if not reason.strip():
        raise ValueError("a promotion needs a reason")
    client = MlflowClient()
    mv = client.get_model_version(name, version)  # raises a clear MlflowException for an unknown version
    if (mv.tags or {}).get(GATE_TAG) == "fail" and not force:
        raise GateRejectedError(f"{name} version {version} failed the retraining gate; promoting it needs force")
    previous = current_version(name, CHAMPION)
    actor = actor or getpass.getuser()
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for key, value in {
        "promoted_at": at,
        "promoted_by": actor,
        "promotion_reason": reason,
        "replaced_version": previous or "",
        "promotion_forced": str(force).lower(),
    }.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHAMPION, version)
    if force:
        logger.warning("forced promotion: %s champion %s -> %s by %s (%s)", name, previous, version, actor, reason)
    else:
        logger.info("%s: champion %s -> %s by %s (%s)", name, previous, version, actor, reason)
    return Promotion(name, version, previous, reason, actor, at)
