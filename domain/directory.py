"""The organisation directory as the contract names it (reference data, seeded into PostgreSQL).

Org ids: ``center`` (the Digital City Management Assessment Center's platform), ``utilities`` (the
Public Utilities Bureau and its platform), ``dept-*`` divisions of the commission (``dept-hotline``
supervises the center's platform, Article 4.3), ``unit-*`` commission-owned units, ``district-*``
the 16 district commissions of Tianjin, and ``hotline`` (the city hotline itself).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class OrgKind(StrEnum):
    """What kind of organisation an org id names."""

    PLATFORM = "platform"
    DIVISION = "division"
    COMMISSION_UNIT = "commission_unit"
    DISTRICT_COMMISSION = "district_commission"
    CITY_HOTLINE = "city_hotline"


#: District ids used bare in ``location.district`` (contract), with their Chinese names.
DISTRICTS: Final[dict[str, str]] = {
    "heping": "和平区",
    "hedong": "河东区",
    "hexi": "河西区",
    "nankai": "南开区",
    "hebei": "河北区",
    "hongqiao": "红桥区",
    "dongli": "东丽区",
    "xiqing": "西青区",
    "jinnan": "津南区",
    "beichen": "北辰区",
    "wuqing": "武清区",
    "baodi": "宝坻区",
    "binhai": "滨海新区",
    "ninghe": "宁河区",
    "jinghai": "静海区",
    "jizhou": "蓟州区",
}

_DIVISIONS: Final[dict[str, str]] = {
    "dept-hotline": "便民服务专线业务主管处室（巡查考核处）",
    "dept-office": "办公室",
    "dept-law": "法制处",
    "dept-planning": "规划发展处",
    "dept-roads": "道路桥梁管理处",
    "dept-sanitation": "环境卫生管理处",
    "dept-landscape": "市容景观处",
    "dept-lighting": "城市照明管理处",
    "dept-enforcement": "执法监督处",
    "dept-waste": "生活垃圾管理处",
}

_COMMISSION_UNITS: Final[dict[str, str]] = {
    "unit-enforcement-corps": "市城市管理综合行政执法总队",
    "unit-lighting-center": "市城市照明管理中心",
    "unit-sanitation-center": "市环境卫生管理中心",
    "unit-roads-center": "市道路桥梁管理事务中心",
    "unit-landscape-center": "市市容环境管理中心",
}

#: Every org id with (kind, Chinese name), in a stable order.
ORGANISATIONS: Final[dict[str, tuple[OrgKind, str]]] = {
    "hotline": (OrgKind.CITY_HOTLINE, "市便民服务专线"),
    "center": (OrgKind.PLATFORM, "市数字化城市管理考核中心"),
    "utilities": (OrgKind.PLATFORM, "市公用事业局"),
    **{k: (OrgKind.DIVISION, v) for k, v in _DIVISIONS.items()},
    **{k: (OrgKind.COMMISSION_UNIT, v) for k, v in _COMMISSION_UNITS.items()},
    **{f"district-{k}": (OrgKind.DISTRICT_COMMISSION, f"{v}城市管理委员会") for k, v in DISTRICTS.items()},
}

#: Orgs that may be assigned to handle an order (Article 7): divisions, commission units, the
#: Public Utilities Bureau, and the district commissions.
HANDLING_KINDS: Final[frozenset[OrgKind]] = frozenset(
    {OrgKind.DIVISION, OrgKind.COMMISSION_UNIT, OrgKind.DISTRICT_COMMISSION}
)


def can_handle(org: str) -> bool:
    """Whether ``org`` may be assigned as a lead or assisting unit (Article 7)."""
    entry = ORGANISATIONS.get(org)
    return entry is not None and (entry[0] in HANDLING_KINDS or org == "utilities")
