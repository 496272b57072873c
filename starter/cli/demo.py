"""`hotline demo`: a realistic set of orders, driven so the Web UI shows every phase and path.

`run_demo` starts 29 orders (every tier, every category, all 16 districts, Chinese subjects as the
hotline writes them) and sends each the contract's actions as Updates, with actors that have
standing, until the set holds every phase (awaiting_receipt, received, in_review, in_handling,
result_review, awaiting_callback, rehandling, appeal_window, appealing, closed) and the interesting
paths: co-handling with a contribution and a released assisting unit, extension requests waiting at
the platform and at the city hotline, one declined by the platform and one forwarded and approved,
a unit's return within 8 hours and the re-proposal, a review sent back, a result sent back by the
platform's review, re-handling by every unit after a dissatisfied callback, appeals upheld (filed
while the re-handling's callback was awaited) and rejected, an order in its appeal window, and
orders that arrived late (their receipt window missed and flagged at once; the units' clock starts
at their own dispatch, so their completion is not late).

Every outcome that needs no waiting is reached: satisfied, basically_satisfied, appeal_upheld,
appeal_rejected, returned_to_hotline, withdrawn. The others only time brings, and the report says
when each demo order gets there by itself: dissatisfied (the appeal window, 3 working days),
appeal_unanswered (the appeal wait, 30 days), no_callback (the callback wait, 30 days); so do the
late flags (the units' clock, the review window) and the dispatch reminder. A dispatch in the past
makes only the receipt late, and the demo uses that.

Order numbers are ``<prefix><yyyymmdd><NNN>`` from ``now``: a rerun on the same day finds the
orders already there and starts nothing; ``--prefix`` starts a fresh set. ``--seed`` varies the
reporters' names and phones and the minutes of the recent dispatches.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, TextIO

from rich.console import Console
from rich.table import Table

from domain.calendar import SHANGHAI
from domain.contract import NAMESPACE, Flag, OrderAction, SearchAttribute, order_workflow_id
from domain.directory import DISTRICTS, ORGANISATIONS
from domain.models import (
    Actor,
    AppealDecision,
    Callback,
    Category,
    ContactMethod,
    ContactReporter,
    Contribute,
    DeadlineState,
    ExtensionDecision,
    FileAppeal,
    ForwardExtension,
    Location,
    NewOrder,
    OrderStatus,
    Outcome,
    Phase,
    Platform,
    Propose,
    Receive,
    ReleaseAssistingUnit,
    Reporter,
    RequestExtension,
    ReturnOrder,
    ReturnToHotline,
    Review,
    ReviewResult,
    Role,
    SubmitResult,
    Tier,
    Verdict,
    Withdraw,
    platform_for,
)
from domain.order import SUPERVISOR
from starter.cli.exits import EXIT_OK, CliError
from starter.client import HotlineClient
from starter.errors import ActionRefused, OrderAlreadyRunning
from starter.settings import Settings

#: A prefix leaves room for the 8-digit date and 3-digit number inside the 64 characters allowed.
PREFIX_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{1,53}$")

#: How many orders are driven at the same time (each order's actions stay in sequence).
CONCURRENCY: Final = 8

#: ``@d`` in a step stands for the order's own district commission.
HERE: Final = "@d"

#: One step of a scenario: an action name and its arguments (see `_Driver.step`).
Step = tuple[str, ...]


@dataclass(frozen=True)
class Scenario:
    """One demo order: what the hotline transferred, what we do with it, where it should end."""

    tier: Tier
    category: Category
    district: str
    address: str
    subject: str
    description: str
    demands: str
    ago: timedelta
    story: str
    phase: Phase
    outcome: Outcome | None = None
    steps: tuple[Step, ...] = ()
    result: str = "已按诉求处理完毕，并电话告知市民处理结果"
    confidential: bool = False
    late: bool = False
    flags: tuple[str, ...] = ()


def _min(m: int) -> timedelta:
    return timedelta(minutes=m)


def _h(h: float) -> timedelta:
    return timedelta(hours=h)


def _days(d: int) -> timedelta:
    return timedelta(days=d)


_PHASE, _FLAGS = SearchAttribute.ORDER_PHASE, SearchAttribute.ORDER_FLAGS


def _ui_eq(attribute: SearchAttribute, value: str) -> str:
    """``Attr = "value"``, as one types it into the Web UI's workflow list."""
    return f'{attribute.value} = "{value}"'


#: The flag of an order that arrived after its receipt window closed. Its completion cannot be late
#: yet: the units' clock starts at their dispatch (lifecycle 2).
ARRIVED_LATE: Final = (Flag.RECEIPT_LATE,)

N, U, VU, XU = Tier.NORMAL, Tier.URGENT, Tier.VERY_URGENT, Tier.EXTRA_URGENT
GEN, HEAT, GAS, RB = Category.GENERAL, Category.HEATING, Category.GAS, Category.ROAD_BRIDGE

#: The first handling up to the platform's approval of the lead unit's result: the order awaits its callback.
_REPLIED: Final[tuple[Step, ...]] = (
    ("receive",),
    ("propose", HERE),
    ("approve",),
    ("contact", HERE),
    ("result",),
    ("accept",),
)

#: The demo set, in order-number order. Every step must be accepted: the demo hits no refusal.
SCENARIOS: Final[tuple[Scenario, ...]] = (
    # -- awaiting_receipt -------------------------------------------------------------------------
    Scenario(
        N, GEN, "nankai", "鞍山西道与南丰路交口东侧工地", "夜间施工噪音扰民",
        "鞍山西道与南丰路交口附近工地连续多晚22点后仍在施工，电锯和渣土车声音很大，影响周边居民休息。",
        "要求夜间停止施工，依法查处", _min(10),
        "just transferred: the center platform has not checked it in (timer `receipt window`)",
        Phase.AWAITING_RECEIPT,
    ),
    Scenario(
        XU, GAS, "hedong", "十一经路某小区3号楼2门", "楼道内燃气泄漏气味",
        "3号楼2门一至三楼楼道内有明显燃气味，已持续半天，居民担心发生危险。",
        "立即派人检查燃气管道，排除隐患", _days(2),
        "ARRIVED LATE (dispatched 2 days ago): the receipt window missed and flagged at once",
        Phase.AWAITING_RECEIPT, late=True, flags=ARRIVED_LATE,
    ),
    Scenario(
        U, HEAT, "hebei", "金钟河大街某小区5号楼", "供热温度不达标",
        "供暖已开始半个月，家中室温只有14℃左右，老人孩子受冻，找过换热站未解决。",
        "要求尽快排查管网，室温达到18℃", _min(40),
        "waits for the utilities platform's receipt; urgent tier; a confidential reporter",
        Phase.AWAITING_RECEIPT, confidential=True,
    ),
    # -- received ---------------------------------------------------------------------------------
    Scenario(
        N, GEN, "hongqiao", "西青道与丁字沽三号路交口", "垃圾清运不及时",
        "路口垃圾收集点已三天无人清运，垃圾堆到路边，气味很大，招来蚊蝇。",
        "要求及时清运并增加清运频次", _h(2),
        "checked in by the center; a proposal is next (timer `dispatch reminder`: a reminder, not lateness)",
        Phase.RECEIVED, steps=(("receive",),),
    ),
    Scenario(
        VU, RB, "dongli", "津塘公路跨新地河桥", "桥梁伸缩缝破损异响",
        "津塘公路新地河桥伸缩缝钢板翘起，车辆经过时声响很大，有安全隐患。",
        "尽快维修伸缩缝", _days(14),
        "ARRIVED LATE (dispatched 14 days ago), then checked in: the receipt lateness stays",
        Phase.RECEIVED, steps=(("receive",),), late=True, flags=ARRIVED_LATE,
    ),
    # -- in_review --------------------------------------------------------------------------------
    Scenario(
        U, GEN, "heping", "滨江道步行街与和平路交口", "广告牌松动",
        "滨江道商场外墙一块大型广告牌一角松动，刮风时晃动，下方行人很多。",
        "立即加固或拆除，消除坠落隐患", _h(1),
        "a proposal (lead dept-landscape, assisted by the landscape centre) waits for dept-hotline",
        Phase.IN_REVIEW,
        steps=(("receive",), ("propose", "dept-landscape", "unit-landscape-center")),
    ),
    Scenario(
        N, HEAT, "xiqing", "杨柳青镇某小区12号楼", "暖气片不热",
        "家中暖气片上热下凉，邻居家也一样，物业说是管网问题不归他们管。",
        "要求供热单位上门排查", _h(3),
        "review SENT BACK by the utilities supervisor, re-proposed to the district: in review again",
        Phase.IN_REVIEW, confidential=True,
        steps=(
            ("receive",),
            ("propose", "dept-planning"),
            ("send_back", "供热问题应由属地区城管委督促供热单位办理，请重新拟办"),
            ("propose", HERE),
        ),
    ),
    # -- in_handling ------------------------------------------------------------------------------
    Scenario(
        N, GEN, "binhai", "塘沽解放路与新华路交口", "渣土车遗撒",
        "夜间渣土车经过后路面遗撒大量泥土，白天尘土飞扬，下雨后一片泥泞。",
        "清扫路面，查处遗撒车辆", _h(5),
        "CO-HANDLED: district-binhai contributed, the enforcement corps still owes its part",
        Phase.IN_HANDLING,
        steps=(
            ("receive",),
            ("propose", "dept-sanitation", HERE, "unit-enforcement-corps"),
            ("approve",),
            ("contact", "dept-sanitation"),
            ("contribute", HERE, "已安排洗扫车连夜冲洗路面，恢复路容"),
        ),
    ),
    Scenario(
        U, GEN, "hexi", "友谊路与围堤道交口", "路灯不亮",
        "友谊路围堤道口往南约200米连续三盏路灯不亮，夜间行人过路很危险。",
        "尽快修复路灯", _min(90),
        "co-handled: the lighting centre contributed, district-hexi was RELEASED by the platform",
        Phase.IN_HANDLING,
        steps=(
            ("receive",),
            ("propose", "dept-lighting", "unit-lighting-center", HERE),
            ("approve",),
            ("contribute", "unit-lighting-center", "已派抢修车排查，确认为电缆接头故障"),
            ("release", HERE, "经核实为照明设施故障，不涉及属地职责"),
            ("contact", "dept-lighting"),
        ),
    ),
    Scenario(
        U, GEN, "jinnan", "咸水沽镇津沽路某小区门口", "井盖缺失",
        "小区门口人行道上一个井盖丢失，只用树枝挡着，晚上看不见，已有人崴脚。",
        "立即补装井盖", _days(15),
        f"ARRIVED LATE and in handling (`{_ui_eq(_PHASE, Phase.IN_HANDLING)} AND "
        f"{_ui_eq(_FLAGS, Flag.RECEIPT_LATE)}`): the district's completion clock started at its dispatch",
        Phase.IN_HANDLING, late=True, flags=ARRIVED_LATE,
        steps=(("receive",), ("propose", HERE), ("approve",), ("contact", HERE)),
    ),
    Scenario(
        N, RB, "beichen", "北辰道与京津公路交口人行道", "人行道砖松动",
        "人行道方砖大面积松动翘起，雨后踩上去溅水，老人容易绊倒。",
        "重新铺装人行道", _h(6),
        "EXTENSION REQUEST waits at the utilities platform (Art. 8.6): forward it or decline it",
        Phase.IN_HANDLING, flags=(Flag.EXTENSION_PENDING,),
        steps=(
            ("receive",), ("propose", "unit-roads-center"), ("approve",),
            ("contact", "unit-roads-center"), ("extend", "冬季低温不具备铺装条件，需待气温回升后施工"),
        ),
    ),
    Scenario(
        N, GAS, "wuqing", "杨村泉州路某小区8号楼", "燃气管道锈蚀",
        "楼外立管燃气管道锈蚀严重，有掉漆和锈斑，担心漏气。",
        "更换锈蚀管道", _h(4),
        "EXTENSION forwarded by the platform and APPROVED by the city hotline: the completion deadline moved",
        Phase.IN_HANDLING, confidential=True,
        steps=(
            ("receive",), ("propose", HERE), ("approve",), ("contact", HERE),
            ("extend", "需燃气公司制定停气换管方案并提前通知住户"), ("forward",), ("approve_extension",),
        ),
    ),
    Scenario(
        N, GEN, "nankai", "长江道与南开三马路交口", "违章占道经营",
        "长江道路口每天傍晚有十几个摊贩占用人行道经营，行人只能走机动车道。",
        "清理占道摊贩，恢复通行", _h(3),
        "dept-enforcement RETURNED it within 8 h; re-proposed to district-nankai and in handling",
        Phase.IN_HANDLING,
        steps=(
            ("receive",), ("propose", "dept-enforcement"), ("approve",),
            ("unit_return", "占道经营属属地综合执法事项，不属本处直接办理", "《天津市城市管理综合执法事项目录》"),
            ("propose", HERE, "unit-enforcement-corps"), ("approve",),
        ),
    ),
    Scenario(
        N, GEN, "heping", "南市食品街周边", "餐馆油烟直排",
        "几家餐馆油烟未经净化直接排放，楼上住户不敢开窗。",
        "督促安装油烟净化设施", _h(4),
        "extension FORWARDED by the platform: waits for the city hotline's decision",
        Phase.IN_HANDLING, flags=(Flag.EXTENSION_PENDING,),
        steps=(
            ("receive",), ("propose", HERE), ("approve",), ("contact", HERE),
            ("extend", "净化设施需定制安装，需十个工作日"), ("forward",),
        ),
    ),
    Scenario(
        N, GEN, "dongli", "万新街某小区东门", "绿化带杂草丛生",
        "小区东门外绿化带杂草长到半人高，蚊虫很多。",
        "清理杂草", _h(5),
        "extension DECLINED by the platform (reason given): the deadline stands",
        Phase.IN_HANDLING,
        steps=(
            ("receive",), ("propose", HERE), ("approve",), ("contact", HERE),
            ("extend", "人手不足"), ("decline", "清理杂草无需延期，请按期办结"),
        ),
    ),
    Scenario(
        U, GAS, "wuqing", "下朱庄街某小区", "燃气表箱门损坏",
        "楼道燃气表箱门脱落，表具外露，孩子经常去摸。",
        "修复表箱门", _h(3),
        "result SENT BACK by the platform's review (a photo missing): in handling again, the unit's clock runs on",
        Phase.IN_HANDLING,
        steps=(
            ("receive",), ("propose", HERE), ("approve",), ("contact", HERE), ("result",),
            ("send_back_result", "缺少修复后的现场照片，请补充后重新提交"),
        ),
        result="已修复表箱门并加锁",
    ),
    # -- result_review ----------------------------------------------------------------------------
    Scenario(
        N, GEN, "hongqiao", "光荣道与大丰路交口", "路面井盖异响",
        "路口井盖松动，车辆压过时咣当作响，夜里吵得睡不着。",
        "固定井盖", _h(3),
        "result submitted: waits for the center's review (timer `result review`), then the reply",
        Phase.RESULT_REVIEW,
        steps=(("receive",), ("propose", HERE), ("approve",), ("contact", HERE), ("result",)),
        result="已更换井盖胶垫并固定",
    ),
    # -- awaiting_callback ------------------------------------------------------------------------
    Scenario(
        VU, HEAT, "heping", "南京路与营口道交口某小区", "楼道供热管道漏水",
        "楼道内供热管道接口漏水，地面积水结冰，邻居已滑倒。",
        "立即维修漏点", _h(1),
        "result reviewed and replied by the platform: waits for the callback (timer `callback wait`, 30 days)",
        Phase.AWAITING_CALLBACK, steps=_REPLIED,
        result="供热单位已更换漏水接口，清理楼道积冰，并电话告知市民",
    ),
    Scenario(
        XU, RB, "hexi", "解放南路与黑牛城道交口", "道路塌陷",
        "解放南路辅路出现约一米见方的塌陷坑，已有电动车掉进去。",
        "立即设置围挡并修复", _min(8),
        "extra_urgent (30 min from its dispatch to the unit): fenced off in time, waits for the callback",
        Phase.AWAITING_CALLBACK,
        steps=(("receive",), ("propose", "unit-roads-center"), ("approve",), ("contact", "unit-roads-center"),
               ("result",), ("accept",)),
        result="已设置围挡和警示灯，塌陷坑回填，待天亮后修复路面",
    ),
    # -- rehandling -------------------------------------------------------------------------------
    Scenario(
        N, GEN, "hedong", "津塘路某商业街", "露天烧烤油烟扰民",
        "商业街几家烧烤店在店外露天烧烤到凌晨，油烟和噪音都很大。",
        "取缔露天烧烤", _h(7),
        "callback DISSATISFIED: re-handling round 1 by every unit; the enforcement corps contributed again",
        Phase.REHANDLING, flags=(Flag.DISSATISFIED,),
        steps=(
            ("receive",), ("propose", HERE, "unit-enforcement-corps"), ("approve",), ("contact", HERE),
            ("contribute", "unit-enforcement-corps", "已联合执法检查，责令撤回室内经营"), ("result",), ("accept",),
            ("callback", "dissatisfied", "市民表示当晚又有露天烧烤"),
            ("contribute", "unit-enforcement-corps", "连续三晚夜查，未再发现露天烧烤"),
        ),
        result="已责令商户撤回室内经营并签订承诺书",
    ),
    # -- appeal_window ----------------------------------------------------------------------------
    Scenario(
        N, GEN, "baodi", "宝坻城区南关大街某小区", "小区周边违建",
        "小区围墙外有人私搭彩钢房，堵住消防通道。",
        "拆除违建", _h(9),
        "dissatisfied after re-handling: the platform may APPEAL until the window closes, else it closes dissatisfied",
        Phase.APPEAL_WINDOW, flags=(Flag.DISSATISFIED,),
        steps=(
            *_REPLIED, ("callback", "dissatisfied", "违建仍在"), ("contact", HERE), ("result", "限期拆除通知书"),
            ("accept",), ("callback", "dissatisfied", "还没拆"),
        ),
        result="已下达限期拆除通知书",
    ),
    # -- appealing --------------------------------------------------------------------------------
    Scenario(
        N, HEAT, "nankai", "红旗南路某小区21号楼", "供热温度不达标",
        "室温白天16℃，夜间更低，多次反映未解决。",
        "室温达标或退还部分采暖费", _h(8),
        "dissatisfied twice, the utilities platform FILED AN APPEAL in the appeal window: waits for the decision",
        Phase.APPEALING, flags=(Flag.DISSATISFIED, Flag.APPEALED),
        steps=(
            *_REPLIED, ("callback", "dissatisfied", "市民认为室温仍偏低"), ("contact", HERE),
            ("result", "入户测温记录"), ("accept",), ("callback", "dissatisfied", "市民要求退费"),
            ("appeal", "经第三方入户检测室温18.5℃，符合供热标准；退费诉求超出职责", "入户测温记录", "检测报告"),
        ),
        result="供热单位已对管网排气，入户测温18℃",
    ),
    # -- closed -----------------------------------------------------------------------------------
    Scenario(
        VU, GEN, "baodi", "宝坻城区南关大街公厕", "公厕无人保洁",
        "南关大街公厕连续几天无人打扫，地面脏污，洗手池堵塞。",
        "恢复日常保洁", _h(2),
        "closed SATISFIED: the straight path from transfer to callback",
        Phase.CLOSED, Outcome.SATISFIED,
        steps=(*_REPLIED, ("callback", "satisfied", "")),
        result="已恢复专人保洁，疏通洗手池",
    ),
    Scenario(
        N, RB, "binhai", "开发区第三大街跨河桥", "桥梁护栏损坏",
        "桥上一段护栏被车撞坏，缺口一直没修，旁边就是河。",
        "尽快修复护栏", _h(5),
        "closed BASICALLY SATISFIED after co-handling with district-binhai",
        Phase.CLOSED, Outcome.BASICALLY_SATISFIED,
        steps=(
            ("receive",), ("propose", "dept-roads", HERE), ("approve",), ("contact", "dept-roads"),
            ("contribute", HERE, "已在缺口处设置临时围挡"), ("result",), ("accept",),
            ("callback", "basically_satisfied", "市民认为修复较慢"),
        ),
        result="已更换受损护栏12米",
    ),
    Scenario(
        N, GEN, "jinghai", "静海镇某小区", "小区电梯长期停运",
        "小区物业不作为，电梯停运两个月无人维修。",
        "督促物业维修电梯", _h(2),
        "closed RETURNED TO THE HOTLINE: not the commission's remit",
        Phase.CLOSED, Outcome.RETURNED_TO_HOTLINE, confidential=True,
        steps=(("receive",), ("return_to_hotline", "物业管理及电梯维修属住房城乡建设部门职责，非城管职责")),
    ),
    Scenario(
        U, GAS, "jizhou", "蓟州城区渔阳南路某小区", "燃气表故障",
        "家中燃气表不走字，燃气公司说要排队，已经两天没法做饭。",
        "尽快更换燃气表", _h(3),
        "closed WITHDRAWN by the city hotline while in handling",
        Phase.CLOSED, Outcome.WITHDRAWN,
        steps=(("receive",), ("propose", HERE), ("approve",), ("withdraw", "市民来电撤诉：燃气公司已上门更换燃气表")),
    ),
    Scenario(
        N, GEN, "hebei", "中山路地铁站B口", "共享单车乱停放",
        "地铁站出口共享单车堆成一片，占满盲道和人行道。",
        "清理并规范停放", _h(6),
        "dissatisfied, re-handled with appeal materials, APPEALED while the callback was awaited (Art. 7.2), upheld",
        Phase.CLOSED, Outcome.APPEAL_UPHELD,
        steps=(
            *_REPLIED, ("callback", "dissatisfied", "站口仍有单车"), ("contact", HERE), ("result", "现场照片"),
            ("accept",), ("appeal", "已多次清理并划设停放区，市民要求取消站口停放区超出职责", "现场照片"),
            ("appeal_decision", "upheld", "经核实，承办单位已履职"),
        ),
        result="已清理单车并通知运营企业加强调度",
    ),
    Scenario(
        U, RB, "ninghe", "芦台镇光明路", "道路坑洼积水",
        "光明路路面多处坑洼，下雨后积水，车辆经过溅到行人身上。",
        "修补路面", _h(4),
        "dissatisfied twice, appeal REJECTED: the dissatisfaction stands",
        Phase.CLOSED, Outcome.APPEAL_REJECTED,
        steps=(
            ("receive",), ("propose", "dept-roads"), ("approve",), ("contact", "dept-roads"), ("result",),
            ("accept",), ("callback", "dissatisfied", ""), ("contact", "dept-roads"), ("result",), ("accept",),
            ("callback", "dissatisfied", ""),
            ("appeal", "路面大修已列入明年计划", "大修计划"),
            ("appeal_decision", "rejected", "坑洼仍未修补，申诉不成立"),
        ),
        result="已对坑洼处进行冷补",
    ),
    Scenario(
        N, GEN, "beichen", "果园新村街某小区门口", "垃圾桶满溢无人清运",
        "小区门口垃圾桶天天满溢，周末更严重，垃圾散落一地。",
        "增加清运频次", _h(9),
        "dissatisfied once, re-handled, then closed SATISFIED",
        Phase.CLOSED, Outcome.SATISFIED,
        steps=(
            *_REPLIED, ("callback", "dissatisfied", "周末仍然满溢"), ("contact", HERE), ("result",), ("accept",),
            ("callback", "satisfied", ""),
        ),
        result="已将清运改为每日两次，周末加派车辆",
    ),
)  # fmt: skip

_SURNAMES: Final = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任"
_GIVEN: Final = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英霞平刚桂兰建华玉兰淑珍志强海燕红梅春生德胜国庆"
_MOBILE: Final = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "158", "186", "187", "189")

#: Who acts for each org kind (names only: a demo).
_OPERATOR: Final[dict[Platform, str]] = {Platform.CENTER: "王工", Platform.UTILITIES: "赵工"}
_SUPERVISOR_PERSON: Final[dict[Platform, str]] = {Platform.CENTER: "李处", Platform.UTILITIES: "周科长"}


def _handler_person(org: str) -> str:
    return {"dept": "张科", "unit": "刘工", "district": "陈科"}.get(org.split("-", 1)[0], "承办员")


def _org_name(org: str) -> str:
    return ORGANISATIONS[org][1]


@dataclass
class DemoOrder:
    """One order of the demo: what it should end as, and what it is."""

    order_no: str
    tier: Tier
    category: Category
    district: str
    subject: str
    story: str
    phase: Phase
    outcome: Outcome | None
    flags: tuple[str, ...]
    late: bool
    started: bool = False
    actual_phase: Phase | None = None
    actual_outcome: Outcome | None = None
    actual_flags: list[str] = field(default_factory=list)
    status: OrderStatus | None = None

    def observe(self, status: OrderStatus) -> None:
        """Keep what the order said about itself."""
        self.status = status
        self.actual_phase = status.phase
        self.actual_outcome = status.outcome
        self.actual_flags = list(status.flags)


@dataclass
class DemoReport:
    """What `run_demo` did: every order with its expected and (when known) actual state."""

    prefix: str
    day: str
    orders: list[DemoOrder]

    @property
    def rows(self) -> list[tuple[str, Phase, Outcome | None]]:
        """(order_no, expected phase, expected outcome or None) per order."""
        return [(o.order_no, o.phase, o.outcome) for o in self.orders]

    @property
    def started(self) -> list[str]:
        """Order numbers this run started."""
        return [o.order_no for o in self.orders if o.started]

    @property
    def existing(self) -> list[str]:
        """Order numbers that were there already (a rerun): not started, not driven."""
        return [o.order_no for o in self.orders if not o.started]


def order_numbers(prefix: str, now: datetime) -> list[str]:
    """The demo's order numbers for ``prefix`` on ``now``'s day (Asia/Shanghai)."""
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    return [f"{prefix}{day}{i:03d}" for i in range(1, len(SCENARIOS) + 1)]


def build_orders(prefix: str, now: datetime, *, seed: int = 0) -> list[tuple[NewOrder, Scenario]]:
    """The demo's `NewOrder`s: reporters and recent dispatch minutes vary with ``seed``."""
    rng = random.Random(seed)
    out = []
    for order_no, sc in zip(order_numbers(prefix, now), SCENARIOS, strict=True):
        name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
        phone = rng.choice(_MOBILE) + "".join(str(rng.randrange(10)) for _ in range(8))
        # recent orders: a few minutes either way; late ones keep their days
        jitter = timedelta(0) if sc.late or sc.ago < _min(30) else _min(rng.randrange(0, 10))
        dispatched = (now - sc.ago - jitter).astimezone(SHANGHAI).replace(microsecond=0)
        order = NewOrder(
            order_no=order_no,
            tier=sc.tier,
            category=sc.category,
            dispatched_at=dispatched,
            reporter=Reporter(name=name, phone=phone, confidential=sc.confidential),
            location=Location(district=sc.district, address=f"{DISTRICTS[sc.district]}{sc.address}"),
            subject=sc.subject,
            description=sc.description,
            demands=sc.demands,
        )
        out.append((order, sc))
    return out


class _Driver:
    """Sends one scenario's steps to its order as Updates, with actors that have standing."""

    def __init__(self, client: HotlineClient, order: NewOrder, sc: Scenario, now: datetime) -> None:
        self.client = client
        self.order = order
        self.sc = sc
        self.now = now
        self.platform = platform_for(order.category)
        self.operator = Actor(org=self.platform.value, person=_OPERATOR[self.platform], role=Role.OPERATOR)
        self.supervisor = Actor(
            org=SUPERVISOR[self.platform], person=_SUPERVISOR_PERSON[self.platform], role=Role.SUPERVISOR
        )
        self.hotline = Actor(org="hotline", person="12345坐席", role=Role.HOTLINE)
        self.lead: str | None = None
        self.status: OrderStatus | None = None

    def _unit(self, org: str) -> str:
        return f"district-{self.order.location.district}" if org == HERE else org

    def _handler(self, org: str) -> Actor:
        return Actor(org=org, person=_handler_person(org), role=Role.HANDLER)

    def _completion_due(self) -> datetime:
        assert self.status is not None
        key = f"rehandling_{self.status.rehandling_round}" if self.status.rehandling_round else "completion"
        return self.status.deadlines[key].due

    async def run(self) -> OrderStatus:
        for step in self.sc.steps:
            try:
                self.status = await self.step(step)
            except ActionRefused as err:
                raise CliError(f"{self.order.order_no} ({self.sc.subject}): {step[0]} refused: {err}") from None
        return self.status if self.status is not None else await self.client.status(self.order.order_no)

    def _instant(self) -> datetime:
        """A reported instant (a contact, the reporter told): the present, never before what the order
        already recorded (the workflow refuses one before the unit's dispatch or the round's start)."""
        return max(self.now, datetime.now(SHANGHAI))

    async def step(self, step: Step) -> OrderStatus:
        c, no = self.client, self.order.order_no
        name, args = step[0], step[1:]
        match name:
            case "receive":
                return await c.receive(no, Receive(actor=self.operator))
            case "propose":
                lead, *assisting = (self._unit(u) for u in args)
                self.lead = lead
                opinion = f"拟由{_org_name(lead)}牵头办理" + (
                    f"，{'、'.join(_org_name(u) for u in assisting)}协办" if assisting else ""
                )
                return await c.propose(
                    no, Propose(actor=self.operator, lead_unit=lead, assisting_units=assisting, opinion=opinion)
                )
            case "approve":
                return await c.review(no, Review(actor=self.supervisor, approved=True, comment="同意拟办意见"))
            case "send_back":
                return await c.review(no, Review(actor=self.supervisor, approved=False, comment=args[0]))
            case "contact":
                unit = self._unit(args[0])
                again = self.status is not None and self.status.rehandling_round > 0
                return await c.contact_reporter(
                    no,
                    ContactReporter(
                        actor=self._handler(unit),
                        at=self._instant(),
                        method=ContactMethod.VISIT if again else ContactMethod.PHONE,
                        note="上门回访，重新核实诉求" if again else "已电话联系市民，约定现场查看",
                    ),
                )
            case "contribute":
                unit = self._unit(args[0])
                return await c.contribute(no, Contribute(actor=self._handler(unit), content=args[1]))
            case "release":
                unit = self._unit(args[0])
                return await c.release_assisting_unit(
                    no, ReleaseAssistingUnit(actor=self.operator, unit=unit, reason=args[1])
                )
            case "unit_return":
                assert self.lead is not None
                return await c.return_order(
                    no, ReturnOrder(actor=self._handler(self.lead), reason=args[0], basis=args[1])
                )
            case "extend":
                assert self.lead is not None
                due = (self._completion_due() + timedelta(days=7)).astimezone(SHANGHAI)
                return await c.request_extension(
                    no,
                    RequestExtension(
                        actor=self._handler(self.lead),
                        reason=args[0],
                        requested_due=due,
                        reporter_notified_at=self._instant(),
                        written_reply=f"{args[0]}，申请延期至{due:%m月%d日}，已电话告知市民",
                    ),
                )
            case "forward":
                return await c.act(
                    no,
                    OrderAction.FORWARD_EXTENSION,
                    ForwardExtension(actor=self.operator, forward=True, note="已核实，同意报请延期"),
                )
            case "decline":
                decline = ForwardExtension(actor=self.operator, forward=False, note=args[0])
                return await c.act(no, OrderAction.FORWARD_EXTENSION, decline)
            case "approve_extension":
                assert self.status is not None
                pending = next(e for e in self.status.extensions if e.decision is None)
                return await c.extension_decision(
                    no,
                    ExtensionDecision(
                        actor=self.hotline, approved=True, approved_due=pending.requested_due, note="同意延期"
                    ),
                )
            case "result":
                assert self.lead is not None
                again = self.status is not None and self.status.rehandling_round > 0
                return await c.submit_result(
                    no,
                    SubmitResult(
                        actor=self._handler(self.lead),
                        result=("再次上门核实并处理：" if again else "") + self.sc.result,
                        reporter_informed_at=self._instant(),
                        appeal_materials=list(args),
                    ),
                )
            case "accept":
                return await c.act(
                    no, OrderAction.REVIEW_RESULT, ReviewResult(actor=self.operator, approved=True, comment="同意回复")
                )
            case "send_back_result":
                return await c.act(
                    no, OrderAction.REVIEW_RESULT, ReviewResult(actor=self.operator, approved=False, comment=args[0])
                )
            case "callback":
                return await c.callback(no, Callback(actor=self.hotline, verdict=Verdict(args[0]), note=args[1]))
            case "appeal":
                return await c.file_appeal(
                    no, FileAppeal(actor=self.operator, reason=args[0], materials=list(args[1:]))
                )
            case "appeal_decision":
                return await c.appeal_decision(
                    no, AppealDecision(actor=self.hotline, upheld=args[0] == "upheld", note=args[1])
                )
            case "withdraw":
                return await c.withdraw(no, Withdraw(actor=self.hotline, reason=args[0]))
            case "return_to_hotline":
                return await c.return_to_hotline(no, ReturnToHotline(actor=self.operator, reason=args[0]))
        raise ValueError(f"unknown demo step {name!r}")


async def _current(client: HotlineClient, demo: DemoOrder) -> None:
    """Ask an order that was there already how it stands (best effort: it needs a worker)."""
    try:
        demo.observe(await asyncio.wait_for(client.status(demo.order_no), timeout=10))
    except Exception:  # the report says "?" rather than failing a rerun
        return


async def run_demo(client: HotlineClient, *, prefix: str, now: datetime, seed: int = 0) -> DemoReport:
    """Start the demo set for ``prefix`` on ``now``'s day and drive each new order to its place.

    ``now`` must be the present (dispatches and reported instants are derived from it, and the
    workflow refuses instants more than 5 minutes ahead). An order number that exists already
    (any run, open or closed) is neither started nor driven: a rerun on the same day starts nothing.

    Raises:
        CliError: an action was refused (every other order is still driven first).
    """
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError(f"prefix {prefix!r}: allowed 1-53 of A-Z a-z 0-9 - _")
    planned = build_orders(prefix, now, seed=seed)
    report = DemoReport(
        prefix=prefix,
        day=now.astimezone(SHANGHAI).strftime("%Y-%m-%d"),
        orders=[
            DemoOrder(
                order_no=o.order_no,
                tier=o.tier,
                category=o.category,
                district=o.location.district,
                subject=o.subject,
                story=sc.story,
                phase=sc.phase,
                outcome=sc.outcome,
                flags=sc.flags,
                late=sc.late,
            )
            for o, sc in planned
        ],
    )
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(order: NewOrder, sc: Scenario, demo: DemoOrder) -> None:
        async with gate:
            if await client.exists(order.order_no):
                await _current(client, demo)
                return
            try:
                await client.start_order(order)
            except OrderAlreadyRunning:
                await _current(client, demo)
                return
            demo.started = True
            demo.observe(await _Driver(client, order, sc, now).run())

    results = await asyncio.gather(
        *(one(o, sc, d) for (o, sc), d in zip(planned, report.orders, strict=True)), return_exceptions=True
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    for e in errors:
        if not isinstance(e, Exception):
            raise e
    if errors:
        raise CliError("hotline demo: " + "; ".join(str(e) for e in errors)) from errors[0]
    return report


# -- printing ---------------------------------------------------------------------------------------


#: Visibility queries worth pasting into the Web UI's workflow list, with what each finds.
VISIBILITY_QUERIES: Final = (
    (_ui_eq(_PHASE, Phase.RESULT_REVIEW), "results waiting for the platform's review"),
    (_ui_eq(_PHASE, Phase.REHANDLING), "re-handling after a dissatisfied callback"),
    (_ui_eq(_PHASE, Phase.APPEAL_WINDOW), "dissatisfied after re-handling: the platform may still appeal"),
    (_ui_eq(_FLAGS, Flag.RECEIPT_LATE), "every order that missed its receipt window"),
    (f"{_ui_eq(_PHASE, Phase.IN_HANDLING)} AND {_ui_eq(_FLAGS, Flag.RECEIPT_LATE)}", "arrived late, now in handling"),
    (_ui_eq(_FLAGS, Flag.EXTENSION_PENDING), "an extension waiting for the platform or the city hotline"),
    (
        f"{_ui_eq(SearchAttribute.ORDER_PLATFORM, Platform.UTILITIES)} AND {_ui_eq(_PHASE, Phase.AWAITING_RECEIPT)}",
        "the utilities platform's inbox",
    ),
    (_ui_eq(_PHASE, Phase.CLOSED), "closed orders (the workflow's result is the final status)"),
)


@dataclass(frozen=True)
class Waiting:
    """What only time brings: an outcome or a flag, the phase an order waits in for it, the deadline."""

    what: str
    phase: tuple[Phase, ...]
    deadline: Callable[[OrderStatus], str | None]
    instant: Callable[[DeadlineState], datetime | None]
    words: str


def _key(prefix: str) -> Callable[[OrderStatus], str | None]:
    def pick(s: OrderStatus) -> str | None:
        keys = [k for k, d in s.deadlines.items() if k.startswith(prefix) and d.met_at is None and d.closed_at is None]
        return max(keys, default=None)

    return pick


def _due(d: DeadlineState) -> datetime | None:
    return d.due


def _warn(d: DeadlineState) -> datetime | None:
    return d.warn_at


#: The outcomes and flags the demo cannot reach without days (or hours) passing, and where they come
#: from: each demo order in that phase gets there by itself while the stack runs.
NEEDS_TIME: Final[tuple[Waiting, ...]] = (
    Waiting(
        f"outcome {Outcome.DISSATISFIED}", (Phase.APPEAL_WINDOW,), _key("appeal_window"), _due,
        "when the appeal window (3 working days) closes without an appeal",
    ),
    Waiting(
        f"outcome {Outcome.APPEAL_UNANSWERED}", (Phase.APPEALING,), _key("appeal_wait"), _due,
        "when the appeal wait (30 days) ends without the city hotline's decision",
    ),
    Waiting(
        f"outcome {Outcome.NO_CALLBACK}", (Phase.AWAITING_CALLBACK,), _key("callback_"), _due,
        "when the callback wait (30 days) ends without a callback",
    ),
    Waiting(
        f"flag {Flag.COMPLETION_LATE} / {Flag.REHANDLING_LATE}", (Phase.IN_HANDLING, Phase.REHANDLING),
        lambda s: f"rehandling_{s.rehandling_round}" if s.rehandling_round else "completion", _due,
        "if no accepted result by then (the units' clock starts at their dispatch, so no demo order is late yet)",
    ),
    Waiting(
        f"flag {Flag.RESULT_REVIEW_LATE}", (Phase.RESULT_REVIEW,), _key("result_review_"), _due,
        "if the platform has not reviewed the result by then",
    ),
    Waiting(
        "dispatch reminder (then escalation)", (Phase.RECEIVED, Phase.IN_REVIEW), _key("dispatch"), _warn,
        "if the order is not dispatched to a unit by then (a reminder, not lateness)",
    ),
)  # fmt: skip


def waiting_for_time(report: DemoReport) -> list[tuple[str, str, datetime | None, str]]:
    """(what, order, when, why) for each of `NEEDS_TIME`: the demo order that gets there first."""
    out = []
    for w in NEEDS_TIME:
        found: list[tuple[datetime, str]] = []
        for o in report.orders:
            s = o.status
            if s is None or s.phase not in w.phase:
                continue
            key = w.deadline(s)
            d = s.deadlines.get(key) if key else None
            when = w.instant(d) if d is not None else None
            if when is not None:
                found.append((when, o.order_no))
        first = min(found, default=None)
        out.append((w.what, first[1] if first else "-", first[0] if first else None, w.words))
    return out


def _state(phase: Phase | None, outcome: Outcome | None) -> str:
    if phase is None:
        return "?"
    return phase.value + (f" ({outcome.value})" if outcome else "")


def render_report(
    report: DemoReport,
    *,
    ui_url: str,
    namespace: str = NAMESPACE,
    out: TextIO | None = None,
    width: int | None = None,
) -> None:
    """The short report: what was started, a table of the orders, where to look in the Web UI."""
    console = Console(file=out or sys.stdout, highlight=False, soft_wrap=True, width=width)
    started, existing = report.started, report.existing
    console.print(
        f"[bold]hotline demo[/bold] prefix {report.prefix}, {report.day}: started {len(started)} order(s)"
        + (f", {len(existing)} already existed (not driven again)" if existing else "")
    )
    table = Table(show_lines=False, expand=False)
    for col in ("order", "tier · category · district", "subject", "phase (outcome)", "flags", "what it shows"):
        table.add_column(col, overflow="fold")
    for o in report.orders:
        state = _state(o.actual_phase, o.actual_outcome)
        if o.actual_phase is not None and (o.actual_phase, o.actual_outcome) != (o.phase, o.outcome):
            state += f" [yellow](demo left it {_state(o.phase, o.outcome)})[/yellow]"
        table.add_row(
            o.order_no + ("" if o.started else " [dim](existed)[/dim]"),
            f"{o.tier.value} · {o.category.value} · {o.district}",
            o.subject,
            state,
            ", ".join(o.actual_flags),
            o.story,
        )
    console.print(table)
    reached = {o.actual_outcome for o in report.orders if o.actual_outcome is not None}
    console.print(
        "\nOutcomes reached now: " + (", ".join(sorted(o.value for o in reached)) or "?") + ". "
        "Only time brings the rest (the orders get there by themselves while the stack runs):"
    )
    for what, order_no, when, why in waiting_for_time(report):
        at = when.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if when else "?"
        console.print(f"  {what:<46} {order_no:<20} at {at}  {why}")
    first = report.orders[0].order_no if report.orders else ""
    console.print(
        f"\nOpen the Temporal Web UI at [bold]{ui_url}[/bold] (namespace {namespace}) and filter the workflow list:"
    )
    for query, what in VISIBILITY_QUERIES:
        console.print(f"  {query:<66} {what}")
    console.print(
        f"Open an order (workflow id {order_workflow_id(first)} …) for its summary, its current details (what it waits "
        "for), its named timers (`receipt window`, `dispatch reminder`, `completion warning`, `return window: …`, "
        "`result review`, `callback wait`, `appeal window`, `appeal wait`) and its history of updates and "
        "`record_order` activities.\n"
        "A rerun today starts nothing new; `hotline demo --prefix DEMO2` starts a fresh set."
    )


# -- the command -------------------------------------------------------------------------------------


def _prefix_arg(value: str) -> str:
    if not PREFIX_PATTERN.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r}: allowed 1-53 of A-Z a-z 0-9 - _ (the order number's alphabet)")
    return value


def cmd_demo(args: argparse.Namespace) -> int:
    """`hotline demo`."""
    settings = Settings.from_env()

    async def main() -> int:
        client = await HotlineClient.connect(settings)
        now = datetime.now(SHANGHAI).replace(microsecond=0)
        report = await run_demo(client, prefix=args.prefix, now=now, seed=args.seed)
        render_report(report, ui_url=f"http://localhost:{settings.ui_port}", namespace=settings.namespace)
        return EXIT_OK

    return asyncio.run(main())


def configure(command: str, p: argparse.ArgumentParser) -> None:
    """The arguments of `hotline demo [--prefix DEMO] [--seed N]`."""
    p.description = __doc__.split("\n\n")[0] if __doc__ else None
    p.add_argument(
        "--prefix",
        default="DEMO",
        type=_prefix_arg,
        help="order numbers are <prefix><yyyymmdd><NNN> (default DEMO); a new prefix starts a fresh set",
    )
    p.add_argument("--seed", type=int, default=0, help="varies reporters and dispatch minutes (default 0)")
    p.set_defaults(func=cmd_demo)
