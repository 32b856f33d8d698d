"""Benchmark: voice synthesis and speech-driven motion speed.

Prints ms of compute per second of audio for ``synthesize`` (espeak-ng helper + warp/resample,
tilt, reverb, noise, loudness) and for ``speech_motion`` (visemes + behaviour), over varied
voices and languages. Usage: python benchmarks/voice_synth_speed.py [--n 60] [--backend zygote]
"""

import argparse
import time

import numpy as np

from see_the_speaker.data.synth import text
from see_the_speaker.data.synth.behaviour import speech_motion
from see_the_speaker.data.synth.voice import LANGUAGES, random_voice, synthesize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="utterances")
    ap.add_argument("--backend", default=None, help="zygote | spawn | inprocess (default: zygote)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    synthesize("Warm up.", seed=0, backend=args.backend)  # starts the helper process
    t_syn = t_mot = audio = 0.0
    for i in range(args.n):
        lang = LANGUAGES[i % len(LANGUAGES)]
        s = " ".join(text.sentences(lang, rng, 2))
        v = random_voice(rng, lang)
        t0 = time.perf_counter()
        u = synthesize(s, v, seed=i, backend=args.backend)
        t1 = time.perf_counter()
        speech_motion(u, fps=25, rng=np.random.default_rng(i))
        t2 = time.perf_counter()
        t_syn, t_mot, audio = t_syn + t1 - t0, t_mot + t2 - t1, audio + u.duration
    print(f"{args.n} utterances, {audio:.1f} s of 16 kHz audio, {audio / args.n:.2f} s each")
    print(f"synthesize:    {1000 * t_syn / audio:6.2f} ms per second of audio "
          f"({1000 * t_syn / args.n:.1f} ms per utterance)")
    print(f"speech_motion: {1000 * t_mot / audio:6.2f} ms per second of audio "
          f"({1000 * t_mot / args.n:.1f} ms per utterance)")


if __name__ == "__main__":
    main()
