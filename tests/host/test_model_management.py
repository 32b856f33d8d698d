"""host.py against the real ComfyUI modules: models folder, ModelPatcher placement, dtype, progress."""

import os
import subprocess
import sys
import textwrap

from see_the_speaker.harness.provision import ensure_comfyui


def test_models_folder_registered_and_extra_paths_honoured(comfy, client):
    user = comfy.models_dir
    open(os.path.join(user, "user_bundle.safetensors"), "wb").close()
    open(os.path.join(user, "readme.txt"), "w").close()
    open(os.path.join(comfy.extra_models_dir, "shared_bundle.safetensors"), "wb").close()
    listed = client.get_json("/models/see_the_speaker")
    assert "user_bundle.safetensors" in listed and "shared_bundle.safetensors" in listed, listed
    assert "readme.txt" not in listed


def test_model_patcher_path_inside_comfy(tmp_path):
    comfy_dir = ensure_comfyui()
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {comfy_dir!r})
        sys.argv = ["main.py", "--cpu"]  # as the server is started
        import comfy.options
        comfy.options.enable_args_parsing()
        import torch
        import see_the_speaker.host as h
        assert h.IN_COMFY
        m = h.ManagedModel.wrap(torch.nn.Linear(4, 2), "test", "linear", h.choose_dtype("auto", h.torch_device(), 10))
        assert m.patcher is not None and type(m.patcher).__name__ == "ModelPatcher"
        net = m.load()
        assert next(net.parameters()).device.type == "cpu" and m.dtype == torch.float32
        assert h.choose_dtype("bf16", h.torch_device()) == torch.bfloat16
        p = h.Progress(2)
        p.update()
        import comfy.model_management as mm
        mm.interrupt_current_processing(True)
        try:
            p.update()
            raise SystemExit("interrupt was not raised")
        except mm.InterruptProcessingException:
            pass
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(tmp_path))
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr
