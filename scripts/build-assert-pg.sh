#!/usr/bin/env bash
# scripts/build-assert-pg.sh: build PostgreSQL 15 with --enable-cassert
# --enable-debug from Debian's source package, with Debian's pg_cron module copied in, and
# cache the install tree so later runs on the same machine reuse it.
#
#   bash scripts/build-assert-pg.sh          # prints the install prefix
#
# Sources come through a private APT configuration (its own sources list
# and state directories under the cache); the machine's own APT sources are
# not changed.  Versions are pinned; a failed download fails loudly.
set -euo pipefail

PG_SRC_VERSION=${CL_ASSERT_PG_VERSION:-15.18-0+deb12u1}
CACHE=${CL_CACHE:-/var/cache/callogs_fdw}
PREFIX="$CACHE/pg-${PG_SRC_VERSION%%-*}-assert"
log() { printf '== %s\n' "$*" >&2; }

if [ -f "$PREFIX/.complete" ]; then
  echo "$PREFIX"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
need=()
for p in build-essential dpkg-dev bison flex libssl-dev zlib1g-dev libxml2-dev \
         libreadline-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing build dependencies: ${need[*]}"
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# private APT configuration: deb-src of bookworm, own state and cache dirs
APTDIR="$CACHE/apt-src"
mkdir -p "$APTDIR/lists/partial" "$APTDIR/archives/partial" "$APTDIR/etc"
cat >"$APTDIR/etc/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
SRC
APT_OPTS=(-o "Dir::Etc::SourceList=$APTDIR/etc/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache::Archives=$APTDIR/archives"
          -o "Dir::State::status=/var/lib/dpkg/status" -o "APT::Sandbox::User=root")

SRCDIR="$CACHE/src"
mkdir -p "$SRCDIR"
fetch_source() {   # package version
  local pkg=$1 ver=$2
  if ! ls "$SRCDIR/${pkg}_${ver%%-*}"*.dsc >/dev/null 2>&1 && \
     ! ls "$SRCDIR/${pkg}_${ver#*:}"*.dsc >/dev/null 2>&1; then
    log "downloading source $pkg=$ver"
    apt-get "${APT_OPTS[@]}" update -qq >/dev/null \
      || { echo "ERROR: apt-get update of the private deb-src list failed" >&2; exit 1; }
    (cd "$SRCDIR" && apt-get "${APT_OPTS[@]}" source --download-only -qq "$pkg=$ver" >/dev/null) \
      || { echo "ERROR: could not download source package $pkg=$ver" >&2; exit 1; }
  fi
}
fetch_source postgresql-15 "$PG_SRC_VERSION"

BUILD="$CACHE/build"
rm -rf "$BUILD"; mkdir -p "$BUILD"
(cd "$BUILD" && dpkg-source -x --skip-patches "$SRCDIR"/postgresql-15_*.dsc pg >/dev/null)
log "building PostgreSQL ${PG_SRC_VERSION} with assertions into $PREFIX (several minutes)"
rm -rf "$PREFIX"
(cd "$BUILD/pg" && ./configure --prefix="$PREFIX" --enable-cassert --enable-debug \
    --with-openssl --without-icu --without-llvm CFLAGS="-O1 -g" >"$BUILD/configure.log" 2>&1) \
  || { tail -30 "$BUILD/configure.log" >&2; exit 1; }
(cd "$BUILD/pg" && make -s -j"$(nproc)" world-bin >"$BUILD/make.log" 2>&1 \
   && make -s install-world-bin >>"$BUILD/make.log" 2>&1) \
  || { tail -40 "$BUILD/make.log" >&2; exit 1; }

# pg_cron: no source is served for it here, so Debian's build for 15 is
# copied in (same major version, so its module magic matches; the
# assertions checked are PostgreSQL's and ours, not pg_cron's own).
if [ -f /usr/lib/postgresql/15/lib/pg_cron.so ]; then
  cp /usr/lib/postgresql/15/lib/pg_cron.so "$("$PREFIX/bin/pg_config" --pkglibdir)/"
  cp /usr/share/postgresql/15/extension/pg_cron* "$("$PREFIX/bin/pg_config" --sharedir)/extension/"
else
  log "postgresql-15-cron is not installed: the assert-enabled server has no pg_cron"
fi
rm -rf "$BUILD"
touch "$PREFIX/.complete"
echo "$PREFIX"
