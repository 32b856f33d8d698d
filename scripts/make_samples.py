"""Regenerate the bundled sample speech in samples/ (espeak-ng through the pack's voice module).

    python scripts/make_samples.py

The samples are synthetic on purpose: no recording of a real person is shipped. They are the
inputs of the README demo and of the shipped workflows.
"""

import os

import soundfile as sf

from see_the_speaker.data.synth.voice import VoiceParams, synthesize

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(os.path.dirname(HERE), "samples")

SPEECH = {
    "speech_en.flac": ("The quick brown fox jumps over the lazy dog. "
                       "Please remember to bring my maps back by Monday.",
                       VoiceParams(language="en-us", variant="m3", pitch=45, rate=150)),
}

if __name__ == "__main__":
    os.makedirs(SAMPLES, exist_ok=True)
    for name, (text, voice) in SPEECH.items():
        u = synthesize(text, voice, seed=1)
        path = os.path.join(SAMPLES, name)
        sf.write(path, u.wave, u.sample_rate, format="FLAC", subtype="PCM_16")
        print(f"{path}: {u.duration:.2f} s, {os.path.getsize(path) / 1024:.0f} KiB")
