# callogs_fdw: foreign data wrapper for a Call Logs REST API
MODULE_big = callogs_fdw
OBJS = \
	$(WIN32RES) \
	src/callogs_fdw.o \
	src/convert.o \
	src/deparse.o \
	src/http.o \
	src/jsonpage.o \
	src/option.o \
	src/scan.o
PGFILEDESC = "callogs_fdw - foreign data wrapper for a Call Logs REST API"

EXTENSION = callogs_fdw
DATA = callogs_fdw--1.0.sql

REGRESS = setup options scan types errors pushdown import multiorg
REGRESS_OPTS = --load-extension=callogs_fdw

PG_CPPFLAGS = -I$(srcdir)/src $(shell pkg-config --cflags json-c libcurl) \
	-Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = $(shell pkg-config --libs json-c libcurl) -lm

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track header dependencies: every object uses both headers
$(filter src/%.o,$(OBJS)): src/callogs_fdw.h src/jsonpage.h
