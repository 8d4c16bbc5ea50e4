"""srgan_course: the course's toolkit, built on the library `srgan_lib` and never imported
by it.

`cli` is the `srgan` command (one module per command group); the teacher's tools are
`runner` (execute the lessons), `classroom` (student, autograder and solution copies,
sweeps), `grading` and `gradebook`, and `publish` (point the lessons at a fork).
"""
