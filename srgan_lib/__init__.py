"""srgan_lib: the library the SRGAN course builds, lesson by lesson.

Modules, in the order the lessons meet them: `data` (00), `layers` (01, 02), `models`
(02, 03), `losses` (04), `training` (05), `metrics`, `evaluation`, `inference`,
`plots` and `widgets` (06). Beside them: `shipped` (the trained models and their cards),
`recipe` (how those were trained), `downloads` and `archives` (the data sets), and the
plumbing every part uses (`files`, `validation`, `runlock`, `checkpoint_file`, `runtime`).
The `srgan` command and the teacher's tools live in the sibling package `srgan_course`,
which imports this library; this library never imports it.
"""

__version__ = "0.1.0"
