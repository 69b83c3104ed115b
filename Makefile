# callogs_fdw: foreign data wrapper for a Call Logs REST API
MODULE_big = callogs_fdw
OBJS = \
	$(WIN32RES) \
	src/callogs_fdw.o \
	src/convert.o \
	src/deparse.o \
	src/http.o \
	src/jsonpage.o \
	src/netcheck.o \
	src/option.o \
	src/orgtables.o \
	src/probe.o \
	src/scan.o \
	src/shmem.o \
	src/url.o
PGFILEDESC = "callogs_fdw - foreign data wrapper for a Call Logs REST API"

EXTENSION = callogs_fdw
DATA = callogs_fdw--1.0.sql callogs_fdw--1.0--1.1.sql

REGRESS = setup options scan types errors pushdown import multiorg ordering counts
REGRESS_OPTS = --load-extension=callogs_fdw

# libcurl and json-c through pkg-config (Debian: libcurl4-openssl-dev, libjson-c-dev)
PG_CPPFLAGS = -I$(srcdir)/src $(shell pkg-config --cflags libcurl json-c) \
	-Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = $(shell pkg-config --libs libcurl json-c) -lm

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track header dependencies: every object uses both headers
$(filter src/%.o,$(OBJS)): src/callogs_fdw.h src/jsonpage.h

# The regression tests talk to the bundled Call Logs API emulator.
installcheck: emulator-check
.PHONY: emulator-check
emulator-check:
	@if [ -z "$$EMU_PORT" ] || ! curl -sf "http://127.0.0.1:$$EMU_PORT/_health" >/dev/null; then \
	  echo "make installcheck needs the Call Logs API emulator:"; \
	  echo "  /usr/bin/python3 emulator/callogs_emulator.py --port 18181 &  then  EMU_PORT=18181 make installcheck"; \
	  echo "(or run the whole suite with: bash scripts/test.sh)"; \
	  exit 1; \
	fi
