"""See the Speaker for ComfyUI: speech -> portrait -> lip-synced talking-face video.

Two ways in, one code base:

* ComfyUI imports this folder from ``custom_nodes/`` and calls :func:`comfy_entrypoint`.
* ``pip install -e .`` maps this folder to the package ``see_the_speaker`` for the CLI,
  training, data and tests. Importing the package never imports ComfyUI; only
  ``host.py`` and ``nodes/`` touch the host.
"""

__version__ = "0.1.0"

# Frontend extensions (js/*.js), served by ComfyUI at /extensions/<pack>/.
WEB_DIRECTORY = "./js"

async def comfy_entrypoint():
    """V3 entry point, called by ComfyUI's custom-node loader."""
    from .nodes import SeeTheSpeakerExtension

    return SeeTheSpeakerExtension()
