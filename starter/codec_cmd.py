"""`hotline codec-server` and `hotline codec rotate-key | keys | new-key`: payload encryption.

``starter/cli.py`` wires this in with ``codec_cmd.register(sub)``. Exit codes: 0 done, 1 failed
(one line on stderr naming the fault).

- ``hotline codec-server`` serves the codec (see `workers.codec_server`) on
  ``HOTLINE_CODEC_HOST:HOTLINE_CODEC_PORT`` until SIGINT/SIGTERM. Off loopback it demands bearer
  tokens of an operator or supervisor, checked against the gateway's tokens in
  ``HOTLINE_DATABASE_URL``.
- ``hotline codec rotate-key`` appends a fresh key to the key file and prints its id: new payloads
  use it, the older keys keep decrypting what they wrote.
- ``hotline codec keys`` lists the ring's key ids, oldest first (never the keys).
- ``hotline codec new-key`` prints a fresh ``id:base64key`` entry to append to
  ``HOTLINE_CODEC_KEYS`` (the production way to rotate).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import signal
import sys
from typing import Any

EXIT_OK, EXIT_FAILED = 0, 1


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_FAILED


def cmd_codec_server(args: argparse.Namespace) -> int:
    """Run the codec server until SIGINT/SIGTERM."""
    from workers.codec import KeyRingError, load_keyring
    from workers.codec_server import CodecServerError
    from workers.logging import configure
    from workers.settings import Settings

    settings = Settings.from_env()
    configure(fmt=settings.log_format, level=settings.log_level)
    try:
        keyring = load_keyring(settings)
    except KeyRingError as err:
        return _fail(f"hotline codec-server: {err}")
    try:
        return asyncio.run(_serve(settings, keyring, args.ui_origin or None))
    except CodecServerError as err:
        return _fail(f"hotline codec-server: {err}")


async def _serve(settings: Any, keyring: Any, ui_origin: list[str] | None) -> int:
    from activities.db import create_pool
    from workers.codec_server import gateway_token_verifier, is_loopback, run_codec_server

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pool = None
    verify = None
    if not is_loopback(settings.codec_host):
        try:
            pool = await asyncio.wait_for(create_pool(settings.database_url, max_size=4), timeout=30)
        except Exception as err:  # refused, unreachable, bad password, timeout: all one answer
            return _fail(
                f"hotline codec-server: the token store (HOTLINE_DATABASE_URL) does not answer: {err}; "
                "off loopback the codec server checks every request's token there"
            )
        verify = gateway_token_verifier(pool)
    try:
        await run_codec_server(settings, keyring, stop=stop, verify_token=verify, ui_origin=ui_origin)
    finally:
        if pool is not None:
            await pool.close()
    return EXIT_OK


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Append a fresh key to the key file; print its id."""
    from workers.codec import KeyRingError, add_key, key_file_path
    from workers.settings import Settings

    settings = Settings.from_env()
    if settings.codec_keys.strip():
        return _fail(
            "hotline codec rotate-key: HOTLINE_CODEC_KEYS is set, so the key file is not used; "
            "append the entry `hotline codec new-key` prints to HOTLINE_CODEC_KEYS instead"
        )
    path = key_file_path(settings)
    try:
        key_id = add_key(path)
    except KeyRingError as err:
        return _fail(f"hotline codec rotate-key: {err}")
    except OSError as err:
        return _fail(f"hotline codec rotate-key: cannot write {path}: {err.strerror}")
    print(key_id)
    print(
        f"{path}: new payloads now use {key_id}; the older keys still decrypt. Processes that read this "
        "file pick the key up when they meet it; restart workers and codec servers to encrypt with it.",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_keys(args: argparse.Namespace) -> int:
    """List the ring's key ids, oldest first; the newest encrypts."""
    from workers.codec import KeyRingError, load_keyring
    from workers.settings import Settings

    try:
        ring = load_keyring(Settings.from_env())
    except KeyRingError as err:
        return _fail(f"hotline codec keys: {err}")
    for key_id in ring:
        print(f"{key_id}{'   (current: encrypts new payloads)' if key_id == ring.newest else ''}")
    print(f"from {ring.origin}", file=sys.stderr)
    return EXIT_OK


def cmd_new_key(args: argparse.Namespace) -> int:
    """Print a fresh ``id:base64key`` entry (nothing is written)."""
    from workers.codec import new_key

    key_id, key = new_key()
    print(f"{key_id}:{base64.b64encode(key).decode()}")
    return EXIT_OK


def register(sub: Any) -> None:
    """Add `codec-server` and `codec …` to the `hotline` command's subparsers."""
    p = sub.add_parser(
        "codec-server",
        help="serve the payload codec for the Web UI and the temporal CLI (HOTLINE_CODEC_HOST:HOTLINE_CODEC_PORT)",
    )
    p.add_argument(
        "--ui-origin",
        action="append",
        metavar="URL",
        help="the Web UI's origin, allowed by CORS (repeatable; default http://localhost:$HOTLINE_UI_PORT)",
    )
    p.set_defaults(func=cmd_codec_server)

    codec = sub.add_parser("codec", help="payload encryption keys: rotate-key, keys, new-key")
    csub = codec.add_subparsers(dest="codec_command", required=True, metavar="ACTION")
    p = csub.add_parser("rotate-key", help="append a fresh key to the key file (new payloads use it); print its id")
    p.set_defaults(func=cmd_rotate_key)
    p = csub.add_parser("keys", help="list the key ids of the ring, oldest first (never the keys)")
    p.set_defaults(func=cmd_keys)
    p = csub.add_parser("new-key", help="print a fresh `id:base64key` entry for HOTLINE_CODEC_KEYS")
    p.set_defaults(func=cmd_new_key)
