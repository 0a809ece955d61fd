# pyhm: `make rpm` builds the source RPM and the noarch RPM from this checkout into dist/.
VERSION := $(shell sed -n 's/^Version: *//p' packaging/rpm/pyhm.spec)
TOP := $(CURDIR)/build/rpm
# Where the packages go, and an optional %{dist} tag (e.g. `make rpm DIST=.2 OUT=build/next`
# makes a later release, for an upgrade test).
OUT ?= dist
DIST ?=
# Off Fedora (no pyproject macros), build with the test macros and without dependency checks.
# The checks then run with an interpreter that has the runtime dependencies: the project's
# .venv (scripts/dev makes it), or, in a fresh clone, one made here in build/venv.
FEDORA := $(shell rpm --eval '%{?pyproject_wheel}' 2>/dev/null | grep -q . && echo yes)
CHECK_PY := $(if $(wildcard .venv/bin/python),$(CURDIR)/.venv/bin/python,$(CURDIR)/build/venv/bin/python)
COMPAT := $(if $(FEDORA),,--load=$(CURDIR)/packaging/rpm/macros.test --nodeps --define "pyhm_test_python $(CHECK_PY)")

.PHONY: rpm clean
rpm: $(if $(FEDORA),,$(CHECK_PY))
	rm -rf $(TOP) && mkdir -p $(TOP)/SOURCES $(OUT)
	git ls-files -z | tar --null -T - --transform 's,^,pyhm-$(VERSION)/,' -czf $(TOP)/SOURCES/pyhm-$(VERSION).tar.gz
	cp packaging/rpm/pyhm.sysusers $(TOP)/SOURCES/
	rpmbuild -ba $(COMPAT) --define '_topdir $(TOP)' $(if $(DIST),--define 'dist $(DIST)') packaging/rpm/pyhm.spec
	cp $(TOP)/SRPMS/*.src.rpm $(TOP)/RPMS/noarch/*.noarch.rpm $(OUT)/

$(CURDIR)/build/venv/bin/python:
	python3 -m venv --system-site-packages build/venv
	build/venv/bin/python -m pip install -q '.[test]'

clean:
	rm -rf build dist
