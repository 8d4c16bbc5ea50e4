"""srgan_lib: the library the SRGAN course builds, lesson by lesson.

Modules, in the order the lessons meet them: `data` (00), `layers` (01, 02), `models`
(02, 03), `losses` (04), `training` (05), `metrics`, `evaluation`, `inference`,
`plots` and `widgets` (06), and `cli` (the `srgan` command).
"""

__version__ = "0.1.0"
