"""Talking-video output: streamed rendering (render_stream.py) and the streaming MP4 writer
(talking_video.py), for speech of any length at flat memory."""
