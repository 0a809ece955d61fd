# pyhm: `make rpm` builds the source RPM and the noarch RPM from this checkout into dist/.
VERSION := $(shell sed -n 's/^Version: *//p' packaging/rpm/pyhm.spec)
TOP := $(CURDIR)/build/rpm
# Off Fedora (no pyproject macros), build with the test macros and without dependency checks.
# The checks then run with the project's .venv, which has the runtime dependencies.
FEDORA := $(shell rpm --eval '%{?pyproject_wheel}' 2>/dev/null | grep -q . && echo yes)
COMPAT := $(if $(FEDORA),,--load=$(CURDIR)/packaging/rpm/macros.test --nodeps \
            $(if $(wildcard .venv/bin/python),--define "pyhm_test_python $(CURDIR)/.venv/bin/python"))

.PHONY: rpm clean
rpm:
	rm -rf $(TOP) && mkdir -p $(TOP)/SOURCES dist
	git ls-files -z | tar --null -T - --transform 's,^,pyhm-$(VERSION)/,' -czf $(TOP)/SOURCES/pyhm-$(VERSION).tar.gz
	cp packaging/rpm/pyhm.sysusers $(TOP)/SOURCES/
	rpmbuild -ba $(COMPAT) --define '_topdir $(TOP)' packaging/rpm/pyhm.spec
	cp $(TOP)/SRPMS/*.src.rpm $(TOP)/RPMS/noarch/*.noarch.rpm dist/

clean:
	rm -rf build dist
