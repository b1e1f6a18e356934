"""Peers in the aggregator's TOML: ``[[peers]]`` with url and vkey, ``[federation]`` interval; mistakes are E_CONFIG."""

from __future__ import annotations

import pytest
from conftest import make_key

from notrain.aggregator.config import ConfigError, load
from notrain.core.note import COSIGNATURE_V1, NoteSigner

VKEY = NoteSigner("peer.test/log", make_key("peer log")).verifier.to_vkey()


def write(tmp_path, text: str):
    path = tmp_path / "notrain.toml"
    path.write_text('[log]\norigin = "me.test/log"\n' + text)
    return path


def test_peers_are_read_with_their_origin_from_the_key(tmp_path):
    config = load(write(tmp_path, f'[federation]\ninterval = 0.5\n\n[[peers]]\nurl = "https://peer.test/"\nvkey = "{VKEY}"\n'))
    [peer] = config.peers
    assert (peer.url, peer.origin, config.federation.interval) == ("https://peer.test/", "peer.test/log", 0.5)
    assert load(write(tmp_path, "")).peers == ()


@pytest.mark.parametrize(
    "text",
    [
        f'[[peers]]\nurl = "ftp://peer.test"\nvkey = "{VKEY}"\n',
        '[[peers]]\nurl = "https://peer.test"\nvkey = "peer.test/log+00000000+AQ"\n',
        '[[peers]]\nurl = "https://peer.test"\nvkey = "' + NoteSigner("peer.test/log", make_key("peer log"), COSIGNATURE_V1).verifier.to_vkey() + '"\n',
        f'[[peers]]\nurl = "https://peer.test"\nvkey = "{VKEY}"\n\n[[peers]]\nurl = "https://mirror.test"\nvkey = "{VKEY}"\n',
        '[[peers]]\nurl = "https://me.test"\nvkey = "' + NoteSigner("me.test/log", make_key("me")).verifier.to_vkey() + '"\n',
        f'[[peers]]\nurl = "https://peer.test"\nvkey = "{VKEY}"\ncolour = "blue"\n',
        'peers = "https://peer.test"\n',
        "[federation]\ninterval = 0\n",
    ],
    ids=["scheme", "vkey", "cosigner key", "twice", "itself", "unknown key", "not tables", "interval"],
)
def test_a_wrong_peer_is_a_config_error(tmp_path, text):
    with pytest.raises(ConfigError) as refused:
        load(write(tmp_path, text))
    assert refused.value.code == "E_CONFIG"
