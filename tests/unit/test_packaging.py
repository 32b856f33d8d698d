"""Two ways in, one code base: the package imports without ComfyUI and the CLI entry point works."""

import os
import subprocess
import sys
import tomllib

import see_the_speaker

ROOT = os.path.dirname(os.path.abspath(see_the_speaker.__file__))


def test_pyproject_lists_every_subpackage():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    found = {"see_the_speaker"}
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in ("tests", "scripts", "docs", "build")]
        if "__init__.py" in filenames and dirpath != ROOT:
            rel = os.path.relpath(dirpath, ROOT).replace(os.sep, ".")
            if not any(part.endswith(".egg-info") or part == "__pycache__" for part in rel.split(".")):
                found.add(f"see_the_speaker.{rel}")
    assert found == listed, {"missing from pyproject": found - listed, "listed but absent": listed - found}


def test_plain_import_does_not_touch_comfy():
    code = ("import sys, see_the_speaker, see_the_speaker.host as h, see_the_speaker.checkpoint, "
            "see_the_speaker.audio.decode; assert not h.IN_COMFY; "
            "assert not any(m == 'comfy' or m.startswith('comfy.') or m == 'folder_paths' for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


def test_cli_entry_point_lists_jobs():
    exe = os.path.join(os.path.dirname(sys.executable), "see-the-speaker")
    out = subprocess.run([exe, "--help"], check=True, capture_output=True, text=True).stdout
    for job in ("corpus", "comfy", "demo"):
        assert job in out


def test_host_fallbacks_outside_comfy(tmp_path, monkeypatch):
    from see_the_speaker import host
    monkeypatch.setenv("STS_MODELS_DIR", str(tmp_path))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "user_model.safetensors").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a model")
    names = host.list_checkpoints()
    assert names[-1] == os.path.join("sub", "user_model.safetensors") and "notes.txt" not in names
    assert host.resolve_checkpoint(os.path.join("sub", "user_model.safetensors")).endswith("user_model.safetensors")
    assert host.safe_join(str(tmp_path), "../etc/passwd") is None
    assert str(host.torch_device()) == "cpu"
    p = host.Progress(3)
    p.update()
    host.request_interrupt()
    import pytest
    with pytest.raises(host.InterruptedByUser):
        p.update()


def test_bundled_checkpoints_listed_first(tmp_path, monkeypatch):
    from see_the_speaker import host
    bundled, user = tmp_path / "bundled", tmp_path / "user"
    bundled.mkdir()
    user.mkdir()
    for name in ("scfp_default.safetensors", "renderer_default.safetensors"):
        (bundled / name).write_bytes(b"x")
    for name in ("aaa_first_alphabetically.safetensors", "scfp_finetuned.safetensors", "scfp_default.safetensors"):
        (user / name).write_bytes(b"y")
    monkeypatch.setattr(host, "BUNDLED_WEIGHTS_DIR", str(bundled))
    monkeypatch.setenv("STS_MODELS_DIR", str(user))
    assert host.list_checkpoints() == ["renderer_default.safetensors", "scfp_default.safetensors",
                                       "aaa_first_alphabetically.safetensors", "scfp_finetuned.safetensors"]
    assert host.list_checkpoints("scfp") == ["scfp_default.safetensors", "scfp_finetuned.safetensors"]
    assert host.resolve_checkpoint("scfp_default.safetensors") == str(bundled / "scfp_default.safetensors")


def test_requirements_txt_matches_pyproject_and_leaves_torch_alone():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        reqs = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    assert sorted(reqs) == sorted(deps)
    assert not any(r.split("=")[0].split(">")[0].split("<")[0].strip() in ("torch", "torchvision", "torchaudio")
                   for r in reqs + deps)
