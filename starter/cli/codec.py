"""`hotline codec-server` and `hotline codec rotate-key | keys | new-key`: payload encryption.

Exit codes (`starter.cli.exits`): 0 done, 1 failed (one line on stderr naming the fault).

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
import sys

from starter.cli.exits import EXIT_OK, CliError
from starter.codec import KeyRingError, add_key, key_file_path, load_keyring, new_key
from starter.settings import Settings
from workers.codec_server import CodecServerError, run_codec_process
from workers.logging import configure as configure_logging


def cmd_codec_server(args: argparse.Namespace) -> int:
    """Run the codec server until SIGINT/SIGTERM."""
    settings = Settings.from_env()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    try:
        keyring = load_keyring(settings)
        asyncio.run(run_codec_process(settings, keyring, ui_origin=args.ui_origin or None))
    except (KeyRingError, CodecServerError) as err:
        raise CliError(f"hotline codec-server: {err}") from None
    return EXIT_OK


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Append a fresh key to the key file; print its id."""
    settings = Settings.from_env()
    if settings.codec_keys.strip():
        raise CliError(
            "hotline codec rotate-key: HOTLINE_CODEC_KEYS is set, so the key file is not used; "
            "append the entry `hotline codec new-key` prints to HOTLINE_CODEC_KEYS instead"
        )
    path = key_file_path(settings)
    try:
        key_id = add_key(path)
    except KeyRingError as err:
        raise CliError(f"hotline codec rotate-key: {err}") from None
    except OSError as err:
        raise CliError(f"hotline codec rotate-key: cannot write {path}: {err.strerror}") from None
    print(key_id)
    print(
        f"{path}: new payloads now use {key_id}; the older keys still decrypt. Processes that read this "
        "file pick the key up when they meet it; restart workers and codec servers to encrypt with it.",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_keys(args: argparse.Namespace) -> int:
    """List the ring's key ids, oldest first; the newest encrypts."""
    try:
        ring = load_keyring(Settings.from_env())
    except KeyRingError as err:
        raise CliError(f"hotline codec keys: {err}") from None
    for key_id in ring:
        print(f"{key_id}{'   (current: encrypts new payloads)' if key_id == ring.newest else ''}")
    print(f"from {ring.origin}", file=sys.stderr)
    return EXIT_OK


def cmd_new_key(args: argparse.Namespace) -> int:
    """Print a fresh ``id:base64key`` entry (nothing is written)."""
    key_id, key = new_key()
    print(f"{key_id}:{base64.b64encode(key).decode()}")
    return EXIT_OK


def _codec_server(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ui-origin",
        action="append",
        metavar="URL",
        help="the Web UI's origin, allowed by CORS (repeatable; default http://localhost:$HOTLINE_UI_PORT)",
    )
    p.set_defaults(func=cmd_codec_server)


def _codec(codec: argparse.ArgumentParser) -> None:
    csub = codec.add_subparsers(dest="codec_command", required=True, metavar="ACTION")
    p = csub.add_parser("rotate-key", help="append a fresh key to the key file (new payloads use it); print its id")
    p.set_defaults(func=cmd_rotate_key)
    p = csub.add_parser("keys", help="list the key ids of the ring, oldest first (never the keys)")
    p.set_defaults(func=cmd_keys)
    p = csub.add_parser("new-key", help="print a fresh `id:base64key` entry for HOTLINE_CODEC_KEYS")
    p.set_defaults(func=cmd_new_key)


def configure(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of `hotline codec-server` and `hotline codec`."""
    {"codec-server": _codec_server, "codec": _codec}[command](parser)
