"""Payload encryption: the codec, its key ring and key file, and what Temporal ends up storing."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import stat
import subprocess
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.worker import Replayer

from domain.calendar import SHANGHAI
from domain.contract import STATUS_QUERY, WORK_ORDER, SearchAttribute, order_workflow_id
from domain.models import NewOrder, OrderStatus, Phase
from starter.cli import run
from starter.client import HotlineClient
from starter.codec import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA,
    CodecError,
    EncryptionCodec,
    KeyRing,
    KeyRingError,
    UnknownKeyError,
    add_key,
    ensure_dev_keyfile,
    key_file_path,
    load_keyring,
    parse_keys,
    read_keyfile,
)
from starter.connection import data_converter
from starter.settings import Settings
from tests.support.workflows import PLATFORM, Driver, new_order, running_worker
from workers.dev import TemporalDevServer, venv_binary
from workflows.work_order import LIFECYCLE_2_PATCH, WorkOrder

#: The name under which the SDK core records a `workflow.patched` marker (its details bypass the codec).
PATCH_MARKER = "core_patch"
MARKER_FIELD = "marker_recorded_event_attributes"

K1 = bytes(range(32))
K2 = bytes(range(100, 132))


def _plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text, ensure_ascii=False).encode())


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"HOTLINE_DATA_DIR": str(tmp_path / "data"), **env})


class TestCodec:
    async def test_round_trip(self) -> None:
        """Encoded: marked encrypted under the newest key, no plaintext left; decoded: the original."""
        codec = EncryptionCodec(KeyRing([("k1", K1), ("k2", K2)]))
        original = _plain("保密人王五 13912345678")
        [enc] = await codec.encode([original])
        assert enc.metadata["encoding"] == ENCRYPTED_ENCODING
        assert enc.metadata[KEY_ID_METADATA] == b"k2"
        assert set(enc.metadata) == {"encoding", KEY_ID_METADATA}  # json/plain is hidden too
        assert b"13912345678" not in enc.data
        assert "王五".encode() not in enc.data
        [dec] = await codec.decode([enc])
        assert dec == original

    async def test_every_payload_gets_its_own_nonce(self) -> None:
        """The same payload twice encrypts to two different ciphertexts."""
        codec = EncryptionCodec(KeyRing([("k1", K1)]))
        a, b = await codec.encode([_plain("x"), _plain("x")])
        assert a.data[:12] != b.data[:12]
        assert a.data != b.data

    async def test_plain_payloads_pass_through(self) -> None:
        """A payload not marked encrypted (older histories, plain CLI input) comes back unchanged."""
        codec = EncryptionCodec(KeyRing([("k1", K1)]))
        plain = [_plain("张三"), Payload(metadata={"encoding": b"binary/null"})]
        assert await codec.decode(plain) == plain

    async def test_an_older_key_still_decrypts_after_rotation(self) -> None:
        """Written under k1; the ring [k1, k2] reads it, and writes new payloads under k2."""
        [old] = await EncryptionCodec(KeyRing([("k1", K1)])).encode([_plain("旧")])
        rotated = EncryptionCodec(KeyRing([("k1", K1), ("k2", K2)]))
        assert await rotated.decode([old]) == [_plain("旧")]
        [new] = await rotated.encode([_plain("新")])
        assert new.metadata[KEY_ID_METADATA] == b"k2"

    async def test_unknown_key_id_is_named(self) -> None:
        """A payload under a key the ring lacks: an error naming that key id and the ring's."""
        [enc] = await EncryptionCodec(KeyRing([("k2", K2)])).encode([_plain("x")])
        with pytest.raises(UnknownKeyError, match=r"key 'k2', which this key ring does not hold \(it holds 'k1'\)"):
            await EncryptionCodec(KeyRing([("k1", K1)])).decode([enc])

    async def test_the_key_id_is_bound_to_the_ciphertext(self) -> None:
        """Relabelled to another id, even one with the same key material, a payload fails."""
        ring = KeyRing([("a", K1), ("b", K1)])
        codec = EncryptionCodec(ring)
        [enc] = await codec.encode([_plain("x")])
        enc.metadata[KEY_ID_METADATA] = b"a"
        with pytest.raises(CodecError, match="under key 'a' fails authentication"):
            await codec.decode([enc])

    async def test_altered_or_broken_payloads_fail(self) -> None:
        """A flipped byte, a truncated payload, a missing key id: each refused with its reason."""
        codec = EncryptionCodec(KeyRing([("k1", K1)]))
        [enc] = await codec.encode([_plain("x")])
        flipped = Payload(metadata=enc.metadata, data=enc.data[:-1] + bytes([enc.data[-1] ^ 1]))
        with pytest.raises(CodecError, match="fails authentication"):
            await codec.decode([flipped])
        with pytest.raises(CodecError, match="truncated"):
            await codec.decode([Payload(metadata=enc.metadata, data=enc.data[:20])])
        with pytest.raises(CodecError, match="carries no 'encryption-key-id'"):
            await codec.decode([Payload(metadata={"encoding": ENCRYPTED_ENCODING}, data=enc.data)])

    async def test_the_project_converter_encrypts_models(self) -> None:
        """`data_converter`: a NewOrder goes out encrypted and comes back as the same model."""
        conv = data_converter(KeyRing([("k1", K1)]))
        order = NewOrder.model_validate(new_order("C1", reporter={"name": "王五", "phone": "13912345678"}))
        [payload] = await conv.encode([order])
        assert payload.metadata["encoding"] == ENCRYPTED_ENCODING
        assert b"13912345678" not in payload.data
        [back] = await conv.decode([payload], [NewOrder])
        assert back == order

    def test_the_ring_never_shows_its_keys(self) -> None:
        """repr names the ids only."""
        ring = KeyRing([("k1", K1)], origin="test")
        assert _b64(K1) not in repr(ring)
        assert K1.hex() not in repr(ring)
        assert "k1" in repr(ring)


class TestKeyMaterial:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("", "the key ring is empty"),
            (" , ", "the key ring is empty"),
            (f"k1{_b64(K1)}", "entry 1 is not `id:base64key`"),
            ("k1:not base64!", "key 'k1' is not valid base64"),
            (f"k1:{_b64(K1[:16])}", "key 'k1' is 16 bytes; AES-256 needs 32"),
            (f"k1:{_b64(K1)},k1:{_b64(K2)}", "key id 'k1' appears twice"),
            (f"k 1:{_b64(K1)}", "key 1 has id 'k 1'"),
            (f"k1:{_b64(K1)},:{_b64(K2)}", "key 2 has id ''"),
        ],
    )
    def test_bad_keys_in_the_environment(self, value: str, expected: str) -> None:
        """HOTLINE_CODEC_KEYS: each fault named, with where it is."""
        with pytest.raises(KeyRingError, match="^HOTLINE_CODEC_KEYS: .*" + _re(expected)):
            parse_keys(value)

    def test_good_keys_in_the_environment(self) -> None:
        """`id:base64` entries, newest last, spaces tolerated."""
        ring = parse_keys(f" old:{_b64(K1)} , new:{_b64(K2)} ")
        assert list(ring) == ["old", "new"]
        assert ring.newest == "new"
        assert ring["old"] == K1

    @pytest.mark.parametrize(
        ("content", "expected"),
        [
            ("{not json", "not JSON"),
            ('{"k": []}', 'expected {"keys"'),
            ('{"keys": []}', "the key ring is empty"),
            ('{"keys": [{"id": "k1"}]}', "key 1 needs a string `id` and a string `key`"),
            (json.dumps({"keys": [{"id": "k1", "key": _b64(K1[:31])}]}), "key 'k1' is 31 bytes"),
            (json.dumps({"keys": [{"id": "k1", "key": "%%"}]}), "key 'k1' is not valid base64"),
        ],
    )
    def test_bad_key_files(self, tmp_path: Path, content: str, expected: str) -> None:
        """A key file's faults are named with the file's path."""
        path = tmp_path / "keys.json"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(KeyRingError, match=_re(str(path)) + ".*" + _re(expected)):
            read_keyfile(path)

    def test_no_keys_anywhere(self, tmp_path: Path) -> None:
        """Neither HOTLINE_CODEC_KEYS nor a key file: one message saying both and how to get one."""
        with pytest.raises(KeyRingError, match=r"HOTLINE_CODEC_KEYS is not set and the key file .*codec-keys\.json"):
            load_keyring(_settings(tmp_path))

    def test_the_environment_wins_over_the_file(self, tmp_path: Path) -> None:
        """With HOTLINE_CODEC_KEYS set the key file is not read."""
        ensure_dev_keyfile(tmp_path / "data" / "codec-keys.json")
        ring = load_keyring(_settings(tmp_path, HOTLINE_CODEC_KEYS=f"env1:{_b64(K1)}"))
        assert list(ring) == ["env1"]
        assert ring.source is None

    @pytest.mark.parametrize(
        ("args", "prefix", "code"),
        [
            (["order", "show", "TJ1"], "hotline: ", 1),
            (["worker"], "hotline worker: ", 2),  # a settings fault, as a bad port
            (["codec", "keys"], "hotline codec keys: ", 1),
        ],
    )
    def test_commands_without_keys_say_so_in_one_line(
        self, tmp_path: Path, args: list[str], prefix: str, code: int
    ) -> None:
        """No keys: the command stops before talking to anything, with one line naming what is missing."""
        env = {k: v for k, v in os.environ.items() if k != "HOTLINE_CODEC_KEYS"}
        env |= {"HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_TEMPORAL_ADDRESS": "127.0.0.1:1"}
        r = subprocess.run([str(venv_binary("hotline")), *args], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == code
        assert r.stderr.strip() == (
            f"{prefix}no payload encryption keys: HOTLINE_CODEC_KEYS is not set and the key file "
            f"{tmp_path / 'codec-keys.json'} (HOTLINE_CODEC_KEY_FILE) does not exist; "
            "`hotline dev` creates it on its first start"
        )


class TestKeyFile:
    def test_created_once_then_reused(self, tmp_path: Path) -> None:
        """The dev key file: created with one key, mode 0600; the next start reuses it unchanged."""
        path = tmp_path / "data" / "codec-keys.json"
        first = ensure_dev_keyfile(path)
        assert len(first) == 1
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        again = ensure_dev_keyfile(path)
        assert path.read_text() == text
        assert dict(again) == dict(first)
        entry = json.loads(text)["keys"][0]
        assert entry["id"] == first.newest
        assert base64.b64decode(entry["key"]) == first[first.newest]
        assert datetime.fromisoformat(entry["created_at"]).tzinfo is not None

    def test_a_broken_file_is_never_overwritten(self, tmp_path: Path) -> None:
        """A key file that does not parse stops everything; its content stays."""
        path = tmp_path / "codec-keys.json"
        path.write_text('{"keys": [{"id": "k1", "key": "short"}]}')
        with pytest.raises(KeyRingError):
            ensure_dev_keyfile(path)
        with pytest.raises(KeyRingError):
            add_key(path)
        assert path.read_text() == '{"keys": [{"id": "k1", "key": "short"}]}'

    def test_rotation_appends_a_newest_key(self, tmp_path: Path) -> None:
        """add_key: the old keys stay in order, the new one is newest, the mode stays 0600."""
        path = tmp_path / "codec-keys.json"
        old = ensure_dev_keyfile(path)
        new_id = add_key(path)
        ring = read_keyfile(path)
        assert list(ring) == [*old, new_id]
        assert ring.newest == new_id
        assert ring[old.newest] == old[old.newest]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_the_file_follows_the_data_dir_unless_set(self, tmp_path: Path) -> None:
        """Default: codec-keys.json in HOTLINE_DATA_DIR; HOTLINE_CODEC_KEY_FILE moves it."""
        assert key_file_path(_settings(tmp_path)) == tmp_path / "data" / "codec-keys.json"
        elsewhere = tmp_path / "vault" / "keys.json"
        assert key_file_path(_settings(tmp_path, HOTLINE_CODEC_KEY_FILE=str(elsewhere))) == elsewhere

    async def test_a_file_backed_codec_learns_a_rotated_key(self, tmp_path: Path) -> None:
        """A running process whose ring came from the file decrypts a key added after it started."""
        path = tmp_path / "codec-keys.json"
        running = EncryptionCodec(ensure_dev_keyfile(path))
        add_key(path)
        [enc] = await EncryptionCodec(read_keyfile(path)).encode([_plain("新")])
        assert await running.decode([enc]) == [_plain("新")]
        assert len(running.keyring) == 2

    def test_hotline_codec_rotate_key(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`hotline codec rotate-key` prints the new id; with HOTLINE_CODEC_KEYS set it refuses."""
        monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.delenv("HOTLINE_CODEC_KEYS")
        assert run(["codec", "rotate-key"]) == 0
        assert run(["codec", "rotate-key"]) == 0
        ids = capsys.readouterr().out.split()
        assert ids == list(read_keyfile(tmp_path / "data" / "codec-keys.json"))

        monkeypatch.setenv("HOTLINE_CODEC_KEYS", f"k1:{_b64(K1)}")
        assert run(["codec", "rotate-key"]) == 1
        assert "HOTLINE_CODEC_KEYS is set, so the key file is not used" in capsys.readouterr().err


def _re(text: str) -> str:

    return re.escape(text)


# -- on a real Temporal --------------------------------------------------------------------------


SECRET_REPORTER = {"name": "保密人王五", "phone": "13912345678", "confidential": True}
SECRET_ADDRESS = "卫津路92号保密小区3门"
SECRET_DESCRIPTION = "楼道灯坏了三个月无人修理，保密描述"


def _visible_text(output: str) -> str:
    """Everything a reader of the JSON sees: every string, and every base64 string decoded."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                found.append(str(k))
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str):
            found.append(node)
            with contextlib.suppress(ValueError):
                found.append(base64.b64decode(node, validate=True).decode("utf-8", errors="ignore"))
        else:
            found.append(json.dumps(node))

    walk(json.loads(output))
    return "\n".join(found)


@pytest.mark.integration
class TestOnTemporal:
    async def test_history_is_ciphertext(
        self,
        dev_server: TemporalDevServer,
        dev_client: Client,
        pool: asyncpg.Pool,
        task_queue: str,
        codec_endpoint: str,
    ) -> None:
        """`temporal workflow show` of an order shows no name, phone, address, description or
        subject; its workflow id and search attributes stay plain. Through the codec server the
        same command shows them (so the check can see them when they are there)."""
        no = f"SEC{uuid.uuid4().hex[:10]}"
        now = datetime.now(SHANGHAI).replace(microsecond=0).isoformat()
        order = NewOrder.model_validate(
            new_order(
                no,
                dispatched_at=now,
                reporter=SECRET_REPORTER,
                location={"district": "hexi", "address": SECRET_ADDRESS},
                description=SECRET_DESCRIPTION,
                subject="保密主题灯不亮",
            )
        )
        client = HotlineClient(dev_client, task_queue=task_queue)
        async with running_worker(dev_client, pool, task_queue):
            await client.start_order(order)
            driver = Driver(dev_client.get_workflow_handle(order_workflow_id(no)))
            await driver.status()
            status = await driver.do("receive", PLATFORM)
            assert status.phase is Phase.RECEIVED

            def show(*extra: str) -> subprocess.CompletedProcess[str]:
                env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
                return subprocess.run(
                    [str(venv_binary("temporal")), "workflow", "show", "--address", dev_server.address,
                     "--workflow-id", order_workflow_id(no), "--output", "json", *extra],
                    env=env, capture_output=True, text=True, timeout=60,
                )  # fmt: skip

            raw = await asyncio.to_thread(show)
            decoded = await asyncio.to_thread(show, "--codec-endpoint", codec_endpoint)
            await dev_client.get_workflow_handle(order_workflow_id(no)).terminate("test over")
        assert raw.returncode == 0, raw.stderr
        assert decoded.returncode == 0, decoded.stderr
        seen = _visible_text(raw.stdout)
        for secret in ("保密人王五", "13912345678", SECRET_ADDRESS, "保密描述", "保密主题"):
            assert secret not in seen, f"{secret} is readable in the history"
        assert "binary/encrypted" in seen
        assert "test-k1" in seen  # the key id is plain: a reader must know which key to use
        # what the codec does not cover: the workflow id and the search attributes
        assert order_workflow_id(no) in seen
        upserts = [e for e in json.loads(raw.stdout)["events"] if "upsertWorkflowSearchAttributes" in str(e.keys())]
        assert upserts, "the order sets its search attributes"
        attrs = _visible_text(json.dumps(upserts))
        for plain in (
            SearchAttribute.ORDER_TIER,
            "normal",
            SearchAttribute.ORDER_PHASE,
            "received",
            SearchAttribute.ORDER_DISTRICT,
            "hexi",
        ):
            assert plain in attrs
        # the control: through the codec server the same history reads in clear
        clear = _visible_text(decoded.stdout)
        for secret in ("保密人王五", "13912345678", SECRET_ADDRESS, "保密描述"):
            assert secret in clear

    async def test_rotation_keeps_running_orders_going(
        self, dev_server: TemporalDevServer, pool: asyncpg.Pool, task_queue: str
    ) -> None:
        """An order started under k1 is read and driven after k2 becomes current; its history then
        holds both keys; a process still on [k1] cannot read what k2 wrote, and says so."""
        suffix = uuid.uuid4().hex[:6]
        k1, k2 = f"rot1-{suffix}", f"rot2-{suffix}"
        ring1 = KeyRing([(k1, os.urandom(32))])
        ring2 = KeyRing([(k1, ring1[k1]), (k2, os.urandom(32))])
        old = await Client.connect(dev_server.address, data_converter=data_converter(ring1))
        new = await Client.connect(dev_server.address, data_converter=data_converter(ring2))
        no = f"ROT{uuid.uuid4().hex[:10]}"
        wid = order_workflow_id(no)
        now = datetime.now(SHANGHAI).replace(microsecond=0).isoformat()

        async with running_worker(old, pool, task_queue):
            handle = await old.start_workflow(
                WORK_ORDER, new_order(no, dispatched_at=now), id=wid, task_queue=task_queue
            )
            await Driver(handle).status()
            assert (await Driver(handle).do("receive", PLATFORM)).phase is Phase.RECEIVED

        async with running_worker(new, pool, task_queue):  # k2 is current from now on
            driver = Driver(new.get_workflow_handle(wid))
            status = await driver.status()
            assert status.phase is Phase.RECEIVED
            status = await driver.do(
                "propose", PLATFORM, lead_unit="dept-roads", assisting_units=[], opinion="转道桥处"
            )
            assert status.phase is Phase.IN_REVIEW
            with pytest.raises(UnknownKeyError, match=k2):
                await old.get_workflow_handle(wid).query(STATUS_QUERY, result_type=OrderStatus)
            history = await driver.handle.fetch_history()
            await driver.handle.terminate("test over")

        ids = {bytes(p.metadata.get(KEY_ID_METADATA, b"")).decode() for p in _payloads(history.events)}
        assert {k1, k2} <= ids
        assert "" not in ids, "every payload of the history is encrypted"
        # the one plain payload: the SDK core writes the lifecycle-2 patch marker itself, past the codec
        # (the patch's id and nothing of the order)
        markers = [e.marker_recorded_event_attributes for e in history.events if e.HasField(MARKER_FIELD)]
        plain = [p for m in markers for p in _payloads(list(m.details.values()))]
        assert [json.loads(p.data) for p in plain] == [{"id": LIFECYCLE_2_PATCH, "deprecated": False}]

        # the replayer needs the ring too: with it the history replays, without k2 it cannot
        replayed = await Replayer(workflows=[WorkOrder], data_converter=data_converter(ring2)).replay_workflow(
            history, raise_on_replay_failure=False
        )
        assert replayed.replay_failure is None
        short = await Replayer(workflows=[WorkOrder], data_converter=data_converter(ring1)).replay_workflow(
            history, raise_on_replay_failure=False
        )
        assert short.replay_failure is not None
        assert k2 in str(short.replay_failure)


def _payloads(node: Any) -> list[Payload]:
    """Every Payload inside protobuf messages, except search attributes (plain by design)."""

    if isinstance(node, list | tuple):
        return [p for item in node for p in _payloads(item)]
    if isinstance(node, Payload):
        return [node]
    found: list[Payload] = []
    if isinstance(node, Message):
        for field, value in node.ListFields():
            if field.message_type is None or field.name == "search_attributes":
                continue
            if field.message_type.GetOptions().map_entry:
                if field.message_type.fields_by_name["value"].message_type is not None:
                    found += _payloads(list(value.values()))
            elif field.name == MARKER_FIELD and value.marker_name == PATCH_MARKER:
                continue  # written by the SDK core, not through the data converter: checked apart
            elif field.is_repeated:
                found += _payloads(list(value))
            else:
                found += _payloads(value)
    return found
