# Two commands on a fresh Linux machine with Python >= 3.10:
#   make course   set up .venv, then run every lesson on the bundled sample images
#   make test     set up .venv, then run every test (TensorFlow, JAX, then the lessons)
#   make site     the course website from the latest course run (runs/course-*) into runs/site
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KERNEL := srgan-course

.PHONY: setup course student site test lint clean colab-check mutation

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[tf-cpu,dev,classroom]"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (srgan-course)" >/dev/null
	touch $@

course: setup
	$(VENV)/bin/srgan course run

# dist/student/ (hand out) and dist/autograder/ (keep: hidden tests); see docs/teaching.md.
# Needs only the classroom extra (nbgrader), not TensorFlow or JAX.
student: $(VENV)/.classroom
	$(VENV)/bin/srgan course student --overwrite

$(VENV)/.classroom: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	test -f $(VENV)/.installed || $(PY) -m pip install -q -e ".[classroom]"
	touch $@

# The course website (srgan_course/site.py): Sphinx + myst-nb, from the executed lessons of
# RUN (default: the latest `make course` run) into SITE; works offline from a plain folder.
RUN ?= $(lastword $(sort $(wildcard runs/course-*)))
SITE ?= runs/site
site: setup $(VENV)/.site
	@test -n "$(RUN)" || { echo "no course run in runs/: run make course first (or RUN=DIR)"; exit 2; }
	$(VENV)/bin/srgan course site $(RUN) --out $(SITE) --overwrite

$(VENV)/.site: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e ".[site]"
	touch $@

# tests/test_site.py builds the site from lessons 00-01 and opens it in chromium (screenshots
# in runs/site-screenshots/), so the test run installs the site extra too.
test: setup $(VENV)/.site lint
	$(PY) -m pytest
	KERAS_BACKEND=jax $(PY) -m pytest -m backend
	SRGAN_VGG_WEIGHTS=$${SRGAN_VGG_WEIGHTS:-none} $(PY) -m pytest --nbval-lax --nbval-current-env notebooks

lint: setup
	$(PY) -m ruff check srgan_lib srgan_course tests $(wildcard bench)
	$(PY) -m ruff format --check srgan_lib srgan_course tests $(wildcard bench)

# Colab's preinstalled stack (.ci/colab/constraints.txt) in a Python 3.13 venv, .venv-colab:
# installing srgan-course changes none of it, and every lesson runs there. See .ci/colab/check.sh
colab-check:
	bash .ci/colab/check.sh

# Mutation testing (slow, not in CI): which mutants of layers, the adversarial and pixel
# losses, metrics and the GAN step (objectives, TensorFlow half-steps) the tests miss.
# Configured in pyproject.toml [tool.mutmut]; `$(VENV)/bin/mutmut browse` shows survivors.
MUTANTS := "srgan_lib.metrics.*" "srgan_lib.layers.*" \
	"srgan_lib.losses.x_generator_adversarial_loss*" "srgan_lib.losses.x_discriminator_loss*" \
	"srgan_lib.losses.x_perceptual_loss*" "srgan_lib.losses.x__binary_crossentropy*" \
	"srgan_lib.losses.x_pixel_mse*" "srgan_lib.training*xǁSRGANǁ_discriminator_objective*" \
	"srgan_lib.training*xǁSRGANǁ_generator_objective*" "srgan_lib.training*xǁSRGANǁ_tf_*"
mutation: setup
	$(PY) -m pip install -q -e ".[mutation]"
	SRGAN_VGG_WEIGHTS=none SRGAN_SHARED_DATA=$${SRGAN_SHARED_DATA:-$(abspath ../shared/data)} \
		KERAS_BACKEND=tensorflow $(VENV)/bin/mutmut run --max-children 2 $(MUTANTS)
	$(VENV)/bin/mutmut results --all true | $(PY) -c "$$MUTATION_SUMMARY" $(MUTANTS)

define MUTATION_SUMMARY
import collections, fnmatch, sys
status = collections.Counter()
for line in sys.stdin:
    name, _, result = line.strip().rpartition(": ")
    if any(fnmatch.fnmatch(name, p) for p in sys.argv[1:]):
        status[result] += 1
tried = sum(status.values()) - status["not checked"]
missed = status["survived"] + status["no tests"]
print(dict(status))
print(f"surviving mutants: {missed} of {tried} ({100 * missed / max(tried, 1):.1f}%)")
endef
export MUTATION_SUMMARY

clean:
	rm -rf $(VENV) .venv-colab runs dist mutants
