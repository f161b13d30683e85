# Dockyard: `make run` brings the whole hub up on this machine, `make test` runs every test.
VENV      := .venv
PYTHON    := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages: the registry and its front, and what automated builds run (git, buildah),
# for `make run`; the clients and the browser that the tests drive for real.
RUN_PACKAGES  := docker-registry nginx git buildah
TEST_PACKAGES := $(RUN_PACKAGES) chromium skopeo podman busybox-static curl redis-server
export HUB_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test lint format system-packages clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

system-packages:
	@missing=""; for pkg in $(PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

run: $(STAMP)
	@$(MAKE) --no-print-directory system-packages PACKAGES="$(RUN_PACKAGES)"
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py collectstatic --noinput -v0
	$(PYTHON) manage.py runstack

test: $(STAMP)
	@$(MAKE) --no-print-directory system-packages PACKAGES="$(TEST_PACKAGES)"
	HUB_DATA_DIR=$(CURDIR)/var/test $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var test-artifacts
