"""QR codes: payload formats, symbols read back by an independent decoder (zxing-cpp), damage,
DIVOC's way of reading, hostile payloads, and the commands."""

from __future__ import annotations

import io
import json
import random
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import segno
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from vccore import Ed25519Key, Verifier, bundled_entity_types, qr
from vccore.cli import main
from vccore.issuer import Issuer
from vccore.store import SQLiteStore

HP = bundled_entity_types()["HealthProfessional"]
KEY = Ed25519Key.from_seed(bytes(range(32)))
NOW = datetime(2023, 9, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The seed payload, signed: VC 2.0 + eddsa-rdfc-2022 and VC 1.1 + Ed25519Signature2020."""
    out = {}
    for version, suite in (("2.0", "eddsa-rdfc-2022"), ("1.1", "Ed25519Signature2020")):
        folder = tmp_path_factory.mktemp(suite)
        issuer = Issuer(signer=KEY, store=SQLiteStore(folder / "s.db", status_base_url="https://issuer.example/status/"), vc_version=version, suite=suite)
        assert HP.example is not None
        out[suite] = issuer.certify(HP, HP.example, now=NOW).credential
    return out


def read(image: Image.Image) -> bytes:
    """The bytes of the one QR code zxing-cpp finds in ``image``."""
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    assert len(found) == 1, f"zxing-cpp found {len(found)} QR codes"
    return bytes(found[0].bytes)


def png(symbol: qr.Symbol, tmp_path: Path, name: str = "qr.png") -> Image.Image:
    path = symbol.save(tmp_path / name)
    return Image.open(path)


# --- base45 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text"),
    [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"), (b"ietf!", "QED8WEX0"), (b"", "")],
)
def test_base45_rfc9285_examples(data: bytes, text: str) -> None:
    assert qr.b45encode(data) == text
    assert qr.b45decode(text) == data


@pytest.mark.parametrize(("text", "why"), [("GGW", "more than two bytes"), ("ZZ", "more than a byte"), ("abc", "not a base45 character"), ("ABCD", "left over")])
def test_base45_refuses_what_rfc9285_refuses(text: str, why: str) -> None:
    with pytest.raises(qr.QRError, match=why):
        qr.b45decode(text)


@given(st.binary(max_size=300))
def test_base45_round_trips(data: bytes) -> None:
    text = qr.b45encode(data)
    assert set(text) <= set(qr._B45) and qr.b45decode(text) == data


# --- the seed credential -------------------------------------------------------------------------


def test_the_seed_credential_fits_version_23_at_m(seeds: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    report = []
    for suite, credential in seeds.items():
        compact = qr.make(credential)
        divoc = qr.make(credential, format="divoc")
        report.append(f"{suite}: compact v{compact.version} {compact.ecc} ({len(compact.text)} chars), divoc v{divoc.version} {divoc.ecc}")
        assert compact.ecc == "M" and compact.version <= 23
        assert divoc.version <= 40
    with capsys.disabled():
        print("\n" + "\n".join(report))


@pytest.mark.parametrize(("version", "suite"), [("2.0", "eddsa-rdfc-2022"), ("1.1", "Ed25519Signature2020")])
def test_the_seed_credential_fits_version_23_at_m_wherever_its_status_sits(tmp_path: Path, version: str, suite: str) -> None:
    """The seed credential's size depends on its status position (up to 6 digits, 4 times) and
    on its signature's base58: the longest positions still fit (VC 1.1 with Ed25519Signature2020
    has only a few characters to spare: 1,245 of 1,248 at the most in 300 issued here)."""
    issuer = Issuer(signer=KEY, store=SQLiteStore(tmp_path / "s.db", status_base_url="https://issuer.example/status/"), vc_version=version, suite=suite)
    assert HP.example is not None
    for position in [(0, 0), (0, 131071), (99, 131071), (999, 131071)]:
        symbol = qr.make(issuer.make_credential(HP, HP.example, position, NOW), ecc="M")
        assert symbol.version <= 23, (position, symbol.version, len(symbol.text))


@pytest.mark.parametrize("fmt", ["compact", "divoc"])
@pytest.mark.parametrize("ecc", ["M", "Q"])
def test_every_symbol_reads_back_to_the_encoded_bytes(seeds: dict[str, dict[str, Any]], tmp_path: Path, fmt: str, ecc: str) -> None:
    for credential in seeds.values():
        symbol = qr.make(credential, format=fmt, ecc=ecc)
        assert symbol.ecc == ecc
        raw = read(png(symbol, tmp_path))
        assert raw == symbol.text.encode("utf-8")  # byte mode: the ZIP's bytes as UTF-8, as DIVOC wrote them
        decoded = qr.decode_text(raw)
        assert decoded.credential == credential and decoded.format == fmt
        assert Verifier.create().verify(decoded.text, now=NOW).verified


def _blanked(symbol: qr.Symbol, tmp_path: Path, share: float) -> Image.Image:
    """The symbol's PNG with ``share`` of its side painted white at the corner without a finder
    pattern."""
    scale, border, size = 6, 4, len(symbol.qr.matrix)
    image = png(symbol, tmp_path).convert("L")
    blank, end = round(share * size), (border + size) * scale
    ImageDraw.Draw(image).rectangle([end - blank * scale, end - blank * scale, end - 1, end - 1], fill=255)
    return image


def test_a_third_of_a_side_blanked_at_a_corner_still_reads(seeds: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """30% of the symbol's side painted white: ECC M restores it. Half the side is more than any
    error correction restores: that it no longer reads shows the damage is real."""
    for credential in seeds.values():
        symbol = qr.make(credential, ecc="M")
        assert read(_blanked(symbol, tmp_path, 0.3)) == symbol.text.encode("utf-8")
        assert zxingcpp.read_barcodes(_blanked(symbol, tmp_path, 0.5), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)) == []


def test_svg_renders_the_same_symbol(seeds: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    symbol = qr.make(seeds["eddsa-rdfc-2022"])
    svg = symbol.save(tmp_path / "qr.svg").read_text()
    # version 23: 109 modules and a quiet zone of 4 on each side, 0.5 mm a module
    assert svg.startswith("<svg") and 'width="58.5mm"' in svg and 'viewBox="0 0 58.5 58.5"' in svg
    assert symbol.svg().startswith("<svg") and 'viewBox="0 0 117 117"' in symbol.svg()


# --- the DIVOC format ----------------------------------------------------------------------------


def test_divoc_qr_reads_the_way_divocs_verifier_reads_it(seeds: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """DIVOC's verifier: the QR's text (UTF-8) -> Latin-1 bytes -> a ZIP -> certificate.json."""
    credential = seeds["Ed25519Signature2020"]
    symbol = qr.make(credential, format="divoc")
    text = read(png(symbol, tmp_path)).decode("utf-8")
    with zipfile.ZipFile(io.BytesIO(text.encode("latin-1"))) as archive:
        assert archive.namelist() == ["certificate.json"]
        inside = archive.read("certificate.json").decode("utf-8")
    assert json.loads(inside) == credential
    # and a ZIP written by another program (DIVOC's own, say) reads too, as does plain JSON
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("certificate.json", json.dumps(credential, indent=2))
    assert qr.decode_text(buffer.getvalue().decode("latin-1")).credential == credential
    plain = qr.decode_text(json.dumps(credential))
    assert plain.format == "json" and plain.credential == credential


def test_the_same_credential_makes_the_same_symbol(seeds: dict[str, dict[str, Any]]) -> None:
    for fmt in ("compact", "divoc"):
        assert qr.make(seeds["eddsa-rdfc-2022"], format=fmt).qr.matrix == qr.make(seeds["eddsa-rdfc-2022"], format=fmt).qr.matrix


# --- what is refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code", "words"),
    [
        ("HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEMWK4MI6UOS03CR83KLBKAVD0E5", "QR_FORMAT_UNSUPPORTED", "EU Digital COVID Certificate"),
        ("shc:/5676290952432060346029243740446031222959532654603460292540772804336028702864", "QR_FORMAT_UNSUPPORTED", "SMART Health Card"),
        ("VC2:ABC", "QR_MALFORMED", "format version 2"),
        ("VC1:" + qr.b45encode(zlib.compress(b"\x00" * (2 << 20))), "QR_MALFORMED", "inflates to more than"),
        ("VC1:" + qr.b45encode(zlib.compress(b'{"a":1}')[:-3]), "QR_MALFORMED", "cut short"),
        ("VC1:" + qr.b45encode(b"not zlib"), "QR_MALFORMED", "not zlib"),
        ("VC1:" + qr.b45encode(zlib.compress(b"[1, 2]")), "QR_MALFORMED", "not an object"),
        ("VC1:" + qr.b45encode(zlib.compress(b'{"a": 1, "a": 2}')), "QR_MALFORMED", "duplicate key"),
        ("hello", "QR_MALFORMED", "not JSON text"),
    ],
)
def test_payloads_that_are_refused_say_why(payload: str, code: str, words: str) -> None:
    with pytest.raises(qr.QRError, match=words) as caught:
        qr.decode_text(payload)
    assert caught.value.code == code


def _zip(name: str, data: bytes) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue().decode("latin-1")


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (_zip("other.json", b"{}"), "not certificate.json"),
        (_zip("certificate.json", b"\x00" * (2 << 20)), "larger than"),
        (_zip("certificate.json", b"{}")[:40], "cannot be read"),
    ],
)
def test_divoc_zips_that_are_refused_say_why(payload: str, words: str) -> None:
    with pytest.raises(qr.QRError, match=words):
        qr.decode_text(payload)


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200), st.text(max_size=200).map(lambda t: "VC1:" + t), st.binary(max_size=200).map(lambda b: "VC1:" + qr.b45encode(b))))
def test_decoding_anything_returns_a_credential_or_a_qr_error(payload: str | bytes) -> None:
    try:
        decoded = qr.decode_text(payload)
    except qr.QRError as exc:
        assert exc.message
    else:
        assert isinstance(decoded.credential, dict)


def test_error_correction_policy(seeds: dict[str, dict[str, Any]]) -> None:
    small = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"]}
    assert qr.make(small).ecc == "Q"  # fits in version 25 at Q
    seed = seeds["eddsa-rdfc-2022"]
    assert qr.make(seed).ecc == "M"  # Q would need more than version 25
    assert qr.make(seed, ecc="Q").ecc == "Q"
    with pytest.raises(qr.QRError, match="M or Q"):
        qr.make(seed, ecc="L")
    rng = random.Random(7)
    huge = {**seed, "noise": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8000))}
    with pytest.raises(qr.QRError) as caught:
        qr.make(huge)
    assert caught.value.code == "QR_TOO_LARGE" and "version 40" in caught.value.message and caught.value.details["characters"] > 4000


# --- masks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [10, 120, 700, 1400])
@pytest.mark.parametrize("ecc", ["m", "q"])
def test_every_mask_gives_segnos_symbol(length: int, ecc: str) -> None:
    """The symbol vccore builds for each mask is segno's symbol with that mask, module for
    module (format information included); the chosen one has the lowest penalty."""
    rng = random.Random(length)
    text = "VC1:" + "".join(rng.choice(qr._B45) for _ in range(length))
    base = segno.make(text, error=ecc, mode="alphanumeric", mask=0, boost_error=False, micro=False)
    unmasked = qr._unmasked(base)
    size = len(base.matrix)
    layout = qr._layout(base.version)
    scores = []
    for mask in range(8):
        reference = segno.make(text, error=ecc, mode="alphanumeric", mask=mask, boost_error=False, micro=False)
        rows, columns = qr._masked(base, unmasked, mask)
        assert qr._unpack(rows, size) == tuple(reference.matrix)
        assert qr._unpack(columns, size) == tuple(bytearray(c) for c in zip(*reference.matrix))
        stride = size + 4
        scores.append(qr._penalty(rows, layout.modules[0], stride, size * size) + qr._penalty(columns, layout.modules[1], stride, 0))
    qr._apply_best_mask(base)
    assert base.mask == scores.index(min(scores))


def test_the_penalty_rules_on_a_hand_made_symbol() -> None:
    """N1-N4 on a 4 x 8 grid, by rows, worked out by hand:

    N1: row 0 holds seven dark in a row (3 + 2), row 1 eight light (3 + 3); N2: no 2 x 2 block of
    one colour; N3: row 2 is 1011101 with light after it (the edge counts as light): 40;
    N4: 15 dark of 32 is 46.9%, within 5% of half: 0.
    """
    rows = ["11111110", "00000000", "10111010", "00001011"]
    assert qr._penalty(qr._pack(rows), qr._pack(["1" * 8] * 4), 8 + 4, 32) == 5 + 6 + 0 + 40 + 0


# --- the commands --------------------------------------------------------------------------------


def test_qr_commands_and_verify_read_images_and_text(seeds: dict[str, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    credential = seeds["eddsa-rdfc-2022"]
    source = tmp_path / "cred.json"
    source.write_text(json.dumps(credential, indent=2), encoding="utf-8")
    now = ["--now", "2024-01-01T00:00:00Z"]
    for fmt in ("compact", "divoc"):
        image = tmp_path / f"{fmt}.png"
        assert main(["qr", "encode", str(source), "-o", str(image), "--format", fmt]) == 0
        assert "QR version" in capsys.readouterr().err
        out = tmp_path / f"{fmt}.json"
        assert main(["qr", "decode", str(image), "-o", str(out)]) == 0
        assert json.loads(out.read_text(encoding="utf-8")) == credential
        assert main(["verify", str(image), *now]) == 0
        assert capsys.readouterr().out.startswith("verified")
    text = tmp_path / "qr.txt"
    text.write_text(qr.encode_text(credential) + "\n", encoding="utf-8")
    assert main(["verify", str(text), *now]) == 0
    assert capsys.readouterr().out.startswith("verified")
    assert main(["qr", "decode", "--text", qr.encode_text(credential)]) == 0
    assert json.loads(capsys.readouterr().out) == credential
    # what cannot be made or read says so
    assert main(["qr", "encode", str(source), "-o", str(tmp_path / "x.gif")]) == 2
    assert "write .png or .svg" in capsys.readouterr().err
    assert main(["qr", "decode", "--text", "HC1:NCFOXN"]) == 1
    assert "EU Digital COVID Certificate" in capsys.readouterr().err
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    assert main(["qr", "decode", str(blank)]) == 1
    assert "QR_NOT_FOUND" in capsys.readouterr().err
    svg = tmp_path / "qr.svg"
    assert main(["qr", "encode", str(source), "-o", str(svg), "--ecc", "Q"]) == 0
    assert "ECC Q" in capsys.readouterr().err and svg.read_text().startswith("<svg")
