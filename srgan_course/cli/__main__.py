"""`python -m srgan_course.cli ...` is `srgan ...`."""

import sys

from srgan_course.cli import main

sys.exit(main())
