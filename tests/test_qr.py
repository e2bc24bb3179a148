"""QR codes: payload formats, symbols read back by an independent decoder (zxing-cpp), damage,
DIVOC's way of reading, hostile payloads, and the commands."""

from __future__ import annotations

import io
import json
import random
import struct
import subprocess
import sys
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
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
from vccore.qr import formats, images, symbols
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
        issuer = Issuer(
            signer=KEY,
            store=SQLiteStore(folder / "s.db", status_url="https://issuer.example/status/"),
            vc_version=version,
            suite=suite,
        )
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


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("GGW", "more than two bytes"),
        ("ZZ", "more than a byte"),
        ("abc", "not a base45 character"),
        ("ABCD", "left over"),
    ],
)
def test_base45_refuses_what_rfc9285_refuses(text: str, why: str) -> None:
    with pytest.raises(qr.QRError, match=why):
        qr.b45decode(text)


@given(st.binary(max_size=300))
def test_base45_round_trips(data: bytes) -> None:
    text = qr.b45encode(data)
    assert set(text) <= set(formats._B45) and qr.b45decode(text) == data


# --- the seed credential -------------------------------------------------------------------------


def test_the_seed_credential_fits_version_23_at_m(
    seeds: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    report = []
    for suite, credential in seeds.items():
        compact = qr.make(credential)
        divoc = qr.make(credential, format="divoc")
        report.append(
            f"{suite}: compact v{compact.version} {compact.ecc} ({len(compact.text)} chars), divoc v{divoc.version} {divoc.ecc}"
        )
        assert compact.ecc == "M" and compact.version <= 23
        assert divoc.version <= 40
    with capsys.disabled():
        print("\n" + "\n".join(report))


@pytest.mark.parametrize(("version", "suite"), [("2.0", "eddsa-rdfc-2022"), ("1.1", "Ed25519Signature2020")])
def test_the_seed_credential_fits_version_23_at_m_wherever_its_status_sits(
    tmp_path: Path, version: str, suite: str
) -> None:
    """The seed credential's size depends on its status position (up to 6 digits, 4 times) and
    on its signature's base58: the longest positions still fit (VC 1.1 with Ed25519Signature2020
    has only a few characters to spare: 1,245 of 1,248 at the most in 300 issued here)."""
    issuer = Issuer(
        signer=KEY,
        store=SQLiteStore(tmp_path / "s.db", status_url="https://issuer.example/status/"),
        vc_version=version,
        suite=suite,
    )
    assert HP.example is not None
    for position in [(0, 0), (0, 131071), (99, 131071), (999, 131071)]:
        symbol = qr.make(issuer.make_credential(HP, HP.example, position, NOW), ecc="M")
        assert symbol.version <= 23, (position, symbol.version, len(symbol.text))


@pytest.mark.parametrize("fmt", ["compact", "divoc"])
@pytest.mark.parametrize("ecc", ["M", "Q"])
def test_every_symbol_reads_back_to_the_encoded_bytes(
    seeds: dict[str, dict[str, Any]], tmp_path: Path, fmt: str, ecc: str
) -> None:
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
    """30% of the symbol's side painted white: ECC M restores it. 70% of the side (half the area)
    is more than any error correction restores: that it no longer reads shows the damage is real.
    (Half the side, a quarter of the area, was the control until a CI run on 2026-12-01 read it:
    about half of a painted area's modules were white already, so about an eighth of the symbol
    changed, which ECC M restores now and then.)"""
    for credential in seeds.values():
        symbol = qr.make(credential, ecc="M")
        assert read(_blanked(symbol, tmp_path, 0.3)) == symbol.text.encode("utf-8")
        assert (
            zxingcpp.read_barcodes(
                _blanked(symbol, tmp_path, 0.7), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
            )
            == []
        )


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
        assert (
            qr.make(seeds["eddsa-rdfc-2022"], format=fmt).qr.matrix
            == qr.make(seeds["eddsa-rdfc-2022"], format=fmt).qr.matrix
        )


# --- what is refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code", "words"),
    [
        (
            "HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEMWK4MI6UOS03CR83KLBKAVD0E5",
            "QR_FORMAT_UNSUPPORTED",
            "EU Digital COVID Certificate",
        ),
        (
            "shc:/5676290952432060346029243740446031222959532654603460292540772804336028702864",
            "QR_FORMAT_UNSUPPORTED",
            "SMART Health Card",
        ),
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
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: "VC1:" + t),
        st.binary(max_size=200).map(lambda b: "VC1:" + qr.b45encode(b)),
    )
)
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
    assert (
        caught.value.code == "QR_TOO_LARGE"
        and "version 40" in caught.value.message
        and caught.value.details["characters"] > 4000
    )


def test_formats_and_levels_are_enums_that_take_their_values() -> None:
    """make and encode_text take a QRFormat or QRErrorCorrection, or its value; what they give
    back is the enum member, equal to the value; an unknown one is refused by name."""
    small = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"]}
    for fmt in qr.QRFormat.COMPACT, qr.QRFormat.DIVOC:
        assert qr.encode_text(small, fmt) == qr.encode_text(small, fmt.value)
        by_member = qr.make(small, format=fmt, ecc=qr.QRErrorCorrection.M)
        by_value = qr.make(small, format=fmt.value, ecc="m")
        assert by_member.text == by_value.text and by_member.qr.matrix == by_value.qr.matrix
        assert by_member.format is fmt and by_member.ecc is qr.QRErrorCorrection.M and by_member.ecc == "M"
        assert qr.decode_text(by_member.text).format is fmt
    assert qr.decode_text(json.dumps(small)).format is qr.QRFormat.JSON
    for unknown in ("qr", qr.QRFormat.JSON):
        with pytest.raises(qr.QRError) as caught:
            qr.make(small, format=unknown)
        assert caught.value.message == f"unknown QR format {str(unknown)!r} (known: compact, divoc)"
        assert caught.value.code == "QR_MALFORMED" and caught.value.details == {"format": str(unknown)}
    for refused in (qr.QRErrorCorrection.L, qr.QRErrorCorrection.H, "x"):
        with pytest.raises(qr.QRError) as caught:
            qr.make(small, ecc=refused)
        assert caught.value.message.startswith(f"error correction {str(refused).upper()!r}: vccore makes M or Q")


# --- masks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [10, 120, 700, 1400])
@pytest.mark.parametrize("ecc", ["m", "q"])
def test_every_mask_gives_segnos_symbol(length: int, ecc: str) -> None:
    """The symbol vccore builds for each mask is segno's symbol with that mask, module for
    module (format information included); the chosen one has the lowest penalty."""
    rng = random.Random(length)
    text = "VC1:" + "".join(rng.choice(formats._B45) for _ in range(length))
    base = segno.make(text, error=ecc, mode="alphanumeric", mask=0, boost_error=False, micro=False)
    unmasked = symbols._unmasked(base)
    size = len(base.matrix)
    layout = symbols._layout(base.version)
    scores = []
    for mask in range(8):
        reference = segno.make(text, error=ecc, mode="alphanumeric", mask=mask, boost_error=False, micro=False)
        rows, columns = symbols._masked(base, unmasked, mask)
        assert symbols._unpack(rows, size) == tuple(reference.matrix)
        assert symbols._unpack(columns, size) == tuple(bytearray(c) for c in zip(*reference.matrix, strict=True))
        stride = size + 4
        scores.append(
            symbols._penalty(rows, layout.modules[0], stride, size * size)
            + symbols._penalty(columns, layout.modules[1], stride, 0)
        )
    symbols._apply_best_mask(base)
    assert base.mask == scores.index(min(scores))


def test_the_penalty_rules_on_a_hand_made_symbol() -> None:
    """N1-N4 on a 4 x 8 grid, by rows, worked out by hand:

    N1: row 0 holds seven dark in a row (3 + 2), row 1 eight light (3 + 3); N2: no 2 x 2 block of
    one colour; N3: row 2 is 1011101 with light after it (the edge counts as light): 40;
    N4: 15 dark of 32 is 46.9%, within 5% of half: 0.
    """
    rows = ["11111110", "00000000", "10111010", "00001011"]
    assert symbols._penalty(symbols._pack(rows), symbols._pack(["1" * 8] * 4), 8 + 4, 32) == 5 + 6 + 0 + 40 + 0


# --- the commands --------------------------------------------------------------------------------


def test_qr_commands_and_verify_read_images_and_text(
    seeds: dict[str, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
    assert main(["qr", "decode", "--text", "HC1:NCFOXN"]) == 2  # unusable input (issue 18, item 5)
    assert "EU Digital COVID Certificate" in capsys.readouterr().err
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    assert main(["qr", "decode", str(blank)]) == 2
    assert "QR_NOT_FOUND" in capsys.readouterr().err
    svg = tmp_path / "qr.svg"
    assert main(["qr", "encode", str(source), "-o", str(svg), "--ecc", "Q"]) == 0
    assert "ECC Q" in capsys.readouterr().err and svg.read_text().startswith("<svg")


# --- images too large or unreadable --------------------------------------------------------------
#
# Issue 16, point 6: a 518 KB PNG of 13,000 x 13,000 white pixels took 1.2 GB to read (and ended
# in QR_NOT_FOUND, exit 1, after Pillow's two-line warning); a larger one ended in Pillow's
# DecompressionBombError, a traceback and exit 1.

IMAGE_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "BMP": ".bmp", "WEBP": ".webp"}


def _white_png(path: Path, width: int, height: int, *, colour_type: int = 2, depth: int = 8) -> Path:
    """A white PNG written row by row, never a whole image in memory (colour type 2: RGB, 0: grey)."""
    channels = {0: 1, 2: 3}[colour_type]
    row = b"\x00" + b"\xff" * ((width * channels * depth + 7) // 8)  # filter type 0, then the row
    compressor = zlib.compressobj(9)
    data = [compressor.compress(row * 64) for _ in range(height // 64)]
    data += [compressor.compress(row * (height % 64)), compressor.flush()]
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(data)) + _chunk(b"IEND", b"")
    )
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The issue's PNG (13,000 x 13,000 RGB: over Pillow's 89 M pixel warning) and a larger one
    (20,000 x 20,000 bilevel: over twice that, where Pillow raises)."""
    folder = tmp_path_factory.mktemp("bombs")
    found = {
        "13000": _white_png(folder / "13000.png", 13000, 13000),
        "20000": _white_png(folder / "20000.png", 20000, 20000, colour_type=0, depth=1),
    }
    assert 500_000 < found["13000"].stat().st_size < 550_000  # the issue's 518 KB
    return found


def _run_measured(*args: str) -> tuple[int, str, float]:
    """Run ``python -m vccore.cli ARGS`` in a child of a fresh process: its exit status, its
    standard error, and its peak resident memory in MB (RUSAGE_CHILDREN of that process counts
    only this command, not every child the test run ever had)."""
    measure = (
        "import json, resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([done.returncode, done.stderr, peak / (1 << 20 if sys.platform == 'darwin' else 1 << 10)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", measure, sys.executable, "-m", "vccore.cli", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    status, stderr, peak = json.loads(done.stdout)
    return status, stderr, peak


@pytest.mark.parametrize(("name", "pixels"), [("13000", "169,000,000"), ("20000", "400,000,000")])
@pytest.mark.parametrize("warnings_are_errors", [False, True])
def test_a_huge_image_is_refused_from_its_header(
    bombs: dict[str, Path], name: str, pixels: str, warnings_are_errors: bool
) -> None:
    """Refused before a pixel is decoded (in milliseconds), with an error naming the file, its
    size and the bound; Pillow's warning neither escapes nor, made an error, goes uncaught."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("error" if warnings_are_errors else "always")
        started = time.perf_counter()
        with pytest.raises(qr.QRError) as caught:
            qr.read_image(bombs[name])
        seconds = time.perf_counter() - started
    assert seconds < 0.5, seconds
    assert seen == []
    error = caught.value
    assert error.code == "QR_IMAGE_TOO_LARGE" and error.details["path"] == str(bombs[name])
    assert (
        f"{name}.png" in error.message
        and pixels in error.message
        and f"at most {error.details['limit']:,} pixels" in error.message
    )


@pytest.mark.parametrize("name", ["13000", "20000"])
@pytest.mark.parametrize("command", [("qr", "decode"), ("verify",)])
def test_the_commands_refuse_a_huge_image_with_exit_2_in_one_line_and_little_memory(
    bombs: dict[str, Path], name: str, command: tuple[str, ...]
) -> None:
    status, stderr, peak = _run_measured(*command, str(bombs[name]))
    assert status == 2, stderr
    assert len(stderr.splitlines()) == 1 and stderr.startswith(f"vccore: QR_IMAGE_TOO_LARGE: {bombs[name]}: "), stderr
    assert peak < 300, f"{peak:.0f} MB"  # the pixels are never decoded: about 55 MB, the interpreter's own


def test_a_50_megapixel_phone_photo_still_reads_within_the_memory_bound(
    seeds: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """A photo from a 50-megapixel phone camera (8160 x 6120), the QR code a small part of it."""
    symbol = qr.make(seeds["eddsa-rdfc-2022"])
    photo = Image.new("L", (8160, 6120), 230)
    photo.paste(png(symbol, tmp_path).convert("L"), (3100, 2200))
    photo.save(tmp_path / "photo.jpg", quality=90)
    status, stderr, peak = _run_measured("qr", "decode", str(tmp_path / "photo.jpg"), "-o", str(tmp_path / "out.json"))
    assert status == 0, stderr
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8")) == seeds["eddsa-rdfc-2022"]
    assert peak < 300, f"{peak:.0f} MB"  # about 200 MB: 3 bytes a pixel for a JPEG


def _claiming(data: bytes, fmt: str, width: int, height: int) -> bytes:
    """A small image's file with its header changed to claim ``width`` x ``height`` pixels (the
    pixels that follow are too few: a reader that decodes them before checking fails otherwise)."""
    out = bytearray(data)
    if fmt == "PNG":
        out[16:24] = struct.pack(">II", width, height)
        out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])))
    elif fmt == "JPEG":
        at = min(i for i in (out.find(b"\xff\xc0"), out.find(b"\xff\xc2")) if i >= 0)  # the frame header
        out[at + 5 : at + 9] = struct.pack(">HH", height, width)
    elif fmt == "GIF":
        out[6:10] = struct.pack("<HH", width, height)  # the logical screen
    elif fmt == "BMP":
        out[18:26] = struct.pack("<ii", width, height)
    elif fmt == "WEBP":  # lossy: the VP8 frame header's 14-bit sizes
        assert out[12:16] == b"VP8 "
        out[26:30] = struct.pack("<HH", width, height)
    return bytes(out)


@pytest.mark.parametrize(
    ("fmt", "mode", "options", "side", "kind"),
    [
        ("PNG", "RGB", {}, 5700, "colour images"),  # 32.5 M pixels; RGB, RGBA: 5 bytes a pixel
        ("PNG", "L", {}, 7400, "grey, bilevel and palette images"),  # 54.8 M; 3 bytes a pixel
        ("GIF", "P", {}, 7400, "grey, bilevel and palette images"),
        ("BMP", "RGB", {}, 5700, "colour images"),
        ("JPEG", "RGB", {}, 7400, "JPEG images"),  # decoded straight to grey: 3 bytes a pixel
        ("JPEG", "RGB", {"progressive": True}, 3700, "progressive JPEG images"),  # 13.7 M; 12
        ("JPEG", "CMYK", {}, 4300, "CMYK images"),  # 18.5 M; 9
        ("WEBP", "RGB", {}, 3100, "WebP images"),  # 9.6 M; 17
    ],
)
def test_each_kind_of_image_has_its_own_pixel_bound(
    tmp_path: Path,
    fmt: str,
    mode: str,
    options: dict[str, Any],
    side: int,
    kind: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The bound is on memory (MAX_IMAGE_MEMORY): what a pixel costs depends on how the image is
    stored. Each image here is just over its bound and under Pillow's own."""
    buffer = io.BytesIO()
    Image.new(mode, (64, 64), "white").save(buffer, fmt, **options)
    path = tmp_path / f"big{IMAGE_SUFFIXES[fmt]}"
    path.write_bytes(_claiming(buffer.getvalue(), fmt, side, side))
    limit = qr.MAX_IMAGE_MEMORY // images._BYTES_PER_PIXEL[kind]
    assert limit < side * side < Image.MAX_IMAGE_PIXELS
    with pytest.raises(qr.QRError) as caught:
        qr.read_image(path)
    assert caught.value.code == "QR_IMAGE_TOO_LARGE" and caught.value.details["limit"] == limit
    assert (
        f"{side:,} x {side:,} pixels" in caught.value.message
        and f"vccore reads {kind} of at most {limit:,} pixels" in caught.value.message
    )
    assert main(["qr", "decode", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"vccore: QR_IMAGE_TOO_LARGE: {path}: ")


def test_an_image_file_over_the_size_bound_is_refused_unread(
    seeds: dict[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = qr.make(seeds["eddsa-rdfc-2022"]).save(tmp_path / "qr.png")
    monkeypatch.setattr(images, "MAX_IMAGE_FILE_BYTES", 1000)
    with pytest.raises(
        qr.QRError, match=r"qr\.png: an image file of [0-9,]+ bytes; vccore reads QR images of at most 1,000 bytes"
    ) as caught:
        qr.read_image(path)
    assert caught.value.code == "QR_IMAGE_TOO_LARGE" and caught.value.details["bytes"] == path.stat().st_size


@pytest.mark.parametrize(
    ("fmt", "mode", "options"),
    [
        ("PNG", "L", {}),
        ("PNG", "1", {}),
        ("PNG", "RGBA", {}),
        ("PNG", "P", {}),
        ("GIF", "L", {}),
        ("BMP", "RGB", {}),
        ("JPEG", "RGB", {"quality": 95}),
        ("JPEG", "RGB", {"quality": 95, "progressive": True}),
        ("JPEG", "CMYK", {"quality": 95}),
        ("WEBP", "RGB", {"lossless": True}),
    ],
)
def test_a_qr_image_reads_in_every_format_and_mode(
    seeds: dict[str, dict[str, Any]], tmp_path: Path, fmt: str, mode: str, options: dict[str, Any]
) -> None:
    symbol = qr.make(seeds["eddsa-rdfc-2022"])
    path = tmp_path / f"qr{IMAGE_SUFFIXES[fmt]}"
    png(symbol, tmp_path).convert(mode).save(path, fmt, **options)
    assert qr.read_image(path) == symbol.text


def test_only_the_first_frame_of_an_animation_is_read(seeds: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """A GIF of 1,000 frames: the QR code is the first, and nothing after it is decoded."""
    symbol = qr.make(seeds["eddsa-rdfc-2022"])
    first = png(symbol, tmp_path).convert("L")
    second = first.copy()
    second.putpixel((0, 0), 0)
    buffer = io.BytesIO()
    first.save(buffer, "GIF", save_all=True, append_images=[second], duration=10)
    two = buffer.getvalue()
    frame = two[two.index(b"\x21\xf9\x04", two.index(b"\x21\xf9\x04") + 1) : -1]  # the second frame: one pixel
    (tmp_path / "many.gif").write_bytes(two[:-1] + frame * 998 + b";")
    with Image.open(tmp_path / "many.gif") as many:
        assert many.n_frames == 1000
    started = time.perf_counter()
    assert qr.read_image(tmp_path / "many.gif") == symbol.text
    assert time.perf_counter() - started < 0.5


def _qr_png_bytes(seeds: dict[str, dict[str, Any]]) -> bytes:
    return qr.make(seeds["eddsa-rdfc-2022"]).png()


@pytest.mark.parametrize(
    ("name", "make", "why"),
    [
        ("text.png", lambda png: b"not an image\n", "not an image vccore reads"),
        ("empty.png", lambda png: b"", "not an image vccore reads"),
        ("half.png", lambda png: png[: len(png) // 2], "truncated"),
        (
            "corrupt.png",
            lambda png: png.replace(png[png.index(b"IDAT") : png.index(b"IDAT") + 6], b"IDAT\0\0"),
            "broken data stream",
        ),  # no zlib header
        ("qr.tif", None, "not an image vccore reads"),  # TIFF: a format vccore does not read
        ("missing.png", None, "No such file"),
        ("folder.png", None, "Is a directory"),
    ],
)
def test_what_is_not_a_readable_image_is_unusable_input(
    seeds: dict[str, dict[str, Any]],
    tmp_path: Path,
    name: str,
    make: Callable[[bytes], bytes] | None,
    why: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / name
    if make is not None:
        path.write_bytes(make(_qr_png_bytes(seeds)))
    elif name == "qr.tif":
        png(qr.make(seeds["eddsa-rdfc-2022"]), tmp_path).save(path)
    elif name == "folder.png":
        path.mkdir()
    with pytest.raises(qr.QRError, match=why) as caught:
        qr.read_image(path)
    assert caught.value.code == "QR_IMAGE_UNREADABLE" and str(path) in caught.value.message
    # verify takes a file for an image by its first bytes (else it is QR text or JSON to it)
    for command in (["qr", "decode"], ["verify"]) if name in ("half.png", "corrupt.png") else (["qr", "decode"],):
        assert main([*command, str(path)]) == 2
        err = capsys.readouterr().err
        assert (
            err.startswith(f"vccore: QR_IMAGE_UNREADABLE: cannot read the image {path}: ")
            and len(err.splitlines()) == 1
        ), err


_FUZZ_SEEDS: dict[str, bytes] = {}


def _fuzz_seeds() -> dict[str, bytes]:
    """Small QR images of each format read (and an animated GIF), to be damaged."""
    if not _FUZZ_SEEDS:
        symbol = Image.open(io.BytesIO(qr.make({"a": 1}).png(scale=2))).convert("L")
        for name, fmt, image, options in [
            ("png", "PNG", symbol, {}),
            ("rgba", "PNG", symbol.convert("RGBA"), {}),
            ("gif", "GIF", symbol, {}),
            ("animated", "GIF", symbol, {"save_all": True, "append_images": [symbol.point(lambda v: 255 - v)] * 3}),
            ("bmp", "BMP", symbol, {}),
            ("jpeg", "JPEG", symbol, {}),
            ("progressive", "JPEG", symbol, {"progressive": True}),
            ("webp", "WEBP", symbol, {}),
            ("lossless", "WEBP", symbol, {"lossless": True}),
        ]:
            buffer = io.BytesIO()
            image.save(buffer, fmt, **options)
            _FUZZ_SEEDS[name] = buffer.getvalue()
    return _FUZZ_SEEDS


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(sorted(["png", "rgba", "gif", "animated", "bmp", "jpeg", "progressive", "webp", "lossless"])),
    st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255), st.sampled_from(["set", "cut", "end"])),
        min_size=1,
        max_size=8,
    ),
)
def test_a_damaged_image_reads_or_gives_a_qr_error(
    tmp_path_factory: pytest.TempPathFactory, name: str, damage: list[tuple[float, int, str]]
) -> None:
    """Whatever the damage, reading returns the text or raises QRError: never Pillow's errors."""
    data = bytearray(_fuzz_seeds()[name])
    for where, value, how in damage:
        if not data:
            break
        at = int(where * len(data))
        if how == "set":
            data[at] = value
        elif how == "cut":
            del data[at : at + value % 64 + 1]
        else:
            del data[at:]
    path = tmp_path_factory.mktemp("fuzz") / "damaged"
    path.write_bytes(bytes(data))
    try:
        text = qr.read_image(path)
    except qr.QRError as exc:
        assert exc.code in ("QR_IMAGE_TOO_LARGE", "QR_IMAGE_UNREADABLE", "QR_NOT_FOUND"), exc.code
    else:
        assert isinstance(text, str)
