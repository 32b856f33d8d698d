"""The pack loads in the real server and every node follows the pack's public-surface rules."""

from see_the_speaker.harness.server import PACK_LINK_NAME

EXPECTED_NODES = {"STS_LoadSpeech", "STS_LoadPortraitModel", "STS_SpeechEncode", "STS_SpeechToPortrait",
                  "STS_LoadMotionModel", "STS_MotionDiffusion", "STS_LipRefine", "STS_PreviewMotion",
                  "STS_RendererLoader", "STS_HRCodebookDecode", "STS_MotionFromVideo", "STS_FaceAlign", "STS_PasteBack"}


def _pack_nodes(info):
    return {name: spec for name, spec in info.items()
            if spec.get("python_module", "").startswith(f"custom_nodes.{PACK_LINK_NAME}")}


def test_pack_imports_without_error(comfy):
    log = comfy.log()
    assert "IMPORT FAILED" not in log
    assert PACK_LINK_NAME in log  # listed among the loaded custom nodes


def test_every_node_listed_with_prefix_category_and_tooltips(client):
    nodes = _pack_nodes(client.object_info())
    assert EXPECTED_NODES <= set(nodes), sorted(nodes)
    for name, spec in nodes.items():
        assert name.startswith("STS_"), name
        assert spec["category"].startswith("See the Speaker/"), (name, spec["category"])
        assert spec.get("description"), name
        for section in ("required", "optional"):
            for inp, definition in spec["input"].get(section, {}).items():
                opts = definition[1] if len(definition) > 1 else {}
                assert opts.get("tooltip"), f"{name}.{inp} has no tooltip"
