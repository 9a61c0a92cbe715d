#!/usr/bin/env bash
# The core library stands alone: the consumer program linked with libvecscale_core.a loads no
# network library (ldd), and the archive itself calls none (its undefined names include no
# curl_, xml, EVP_/SHA or MHD_ function). Prints what it found; exit 1 on any.
#   check_core_deps.sh CONSUMER_BINARY LIBVECSCALE_CORE.a
set -eu
[ $# -eq 2 ] || { echo "usage: check_core_deps.sh CONSUMER_BINARY LIBVECSCALE_CORE.a" >&2; exit 2; }
bin=$1 lib=$2
bad=0
libs=$(ldd "$bin") || { echo "ldd failed on $bin"; exit 1; }
net=$(printf '%s\n' "$libs" | grep -E 'lib(curl|xml2|ssl|crypto|microhttpd)[.-]' || true)
if [ -n "$net" ]; then
  echo "$bin loads network libraries:"
  printf '%s\n' "$net"
  bad=1
fi
undef=$(nm -u "$lib" | awk '{ print $NF }' | grep -E '^(curl_|xml|EVP_|SHA[0-9]|MHD_)' | sort -u || true)
if [ -n "$undef" ]; then
  echo "$lib calls into network libraries:"
  printf '  %s\n' $undef
  bad=1
fi
[ "$bad" -eq 0 ] && echo "core alone: $(printf '%s\n' "$libs" | wc -l) shared libraries, none of curl/libxml2/OpenSSL/libmicrohttpd"
exit $bad
