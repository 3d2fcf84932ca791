"""The three NOF league tables ("peer groups") and how the published files name them.

Belongs here: constants and look-ups shared by readers, the generator, SQL, sources and outputs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PeerGroup:
    id: str  # used in table rows, file names, CLI flags
    trust_type: str  # the published ``Trust_type`` value
    file_stem: str  # NHS England file-name stem, e.g. ``acute`` in ...-acute-trust-data.csv
    label: str

    @property
    def source_kind(self) -> str:
        """The source kind of the group's NOF trust-data file (``nof_trust_data_acute``)."""
        return f"nof_trust_data_{self.id}"


ACUTE = PeerGroup("acute", "Acute trust", "acute", "Acute trusts")
MHC = PeerGroup(
    "mental_health_community",
    "Mental health and community trust",
    "mental-health-and-community",
    "Mental health and community trusts",
)
AMBULANCE = PeerGroup("ambulance", "Ambulance trust", "ambulance", "Ambulance trusts")

PEER_GROUPS: tuple[PeerGroup, ...] = (ACUTE, MHC, AMBULANCE)
BY_ID = {g.id: g for g in PEER_GROUPS}
# the NOF trust-data source kinds, one per group, and the group of each
NOF_SOURCE_KINDS: tuple[str, ...] = tuple(g.source_kind for g in PEER_GROUPS)
BY_SOURCE_KIND = {g.source_kind: g for g in PEER_GROUPS}
BY_TRUST_TYPE = {g.trust_type: g for g in PEER_GROUPS}
# Q1 2025/26 called the non-acute group "non-acute hospital trust"
BY_TRUST_TYPE["Non-acute hospital trust"] = MHC


def peer_group(value: str) -> PeerGroup:
    """Look a peer group up by id (``acute``), alias (``mh``, ``mhc``) or published Trust_type."""
    aliases = {"mh": MHC, "mhc": MHC, "mental-health-and-community": MHC, "amb": AMBULANCE}
    key = value.strip()
    group = BY_ID.get(key) or BY_TRUST_TYPE.get(key) or aliases.get(key.lower())
    if group is None:
        choices = ", ".join(g.id for g in PEER_GROUPS)
        raise ValueError(f"unknown peer group '{value}': choose one of {choices}")
    return group
