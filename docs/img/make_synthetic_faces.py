"""Regenerate docs/img/synthetic_faces.png (12 identities covering the hair styles and facial hair,
varied poses and mouth shapes, 144 px tiles): python docs/img/make_synthetic_faces.py"""

import os

import cv2
import numpy as np

from see_the_speaker.data.synth.face import (
    MOTION_INDEX, FaceIdentity, Scene, facial_hair_name, hair_style_name, neutral_motion, render_face,
)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "synthetic_faces.png")
rng = np.random.default_rng(2026)
want_styles = ["short", "long", "bald", "fringe", "curly", "long_fringe", "receding", "bob", "buzz", "short", "long", "short"]
want_beard = ["none", "none", "beard", "none", "none", "none", "moustache", "none", "goatee", "stubble", "none", "none"]
ids = []
for st, bd in zip(want_styles, want_beard):
    while True:
        idn = FaceIdentity.random(rng)
        if hair_style_name(idn) == st and facial_hair_name(idn) == bd:
            ids.append(idn); break
I = MOTION_INDEX
def mo(**kw):
    m = neutral_motion()
    for k, v in kw.items(): m[I[k]] = v
    return m
motions = [mo(), mo(jaw_open=0.8, teeth=0.5, yaw=12), mo(yaw=-22, smile=0.8, teeth=0.7, jaw_open=0.15),
           mo(pitch=10, roll=-8, lip_round=1, jaw_open=0.35), mo(yaw=20, pitch=-8, blink_l=1, blink_r=1, brow_raise=1),
           mo(roll=10, lip_press=1, gaze_x=-0.8, brow_raise=-0.8), mo(jaw_open=0.5, tongue=1, mouth_width=0.5, yaw=-8),
           mo(smile=1, teeth=1, jaw_open=0.2, yaw=5), mo(yaw=25, jaw_open=0.3), mo(pitch=-12, smile=0.4),
           mo(yaw=-15, jaw_open=0.6, lip_round=0.6), mo(roll=-12, smile=-0.5, gaze_y=0.5)]
tiles = [render_face(idn, motions[k], 144, Scene.random(rng))[0] for k, idn in enumerate(ids)]
grid = np.vstack([np.hstack(tiles[r * 6:(r + 1) * 6]) for r in range(2)])
cv2.imwrite(OUT, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
print(grid.shape, os.path.getsize(OUT))
