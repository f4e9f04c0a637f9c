#!/usr/bin/env bash
# Installs the Debian packages the tests run as real services, when they are missing:
#   docker-registry  the CNCF distribution registry (a real OCI registry for the model-artifact tests)
#   mosquitto        Eclipse Mosquitto (a real MQTT 5 broker with shared subscriptions)
#   mosquitto-clients mosquitto_pub/sub (the README's raw-MQTT example against `edgeml hub` is run by a test)
# The tests start their own instances on loopback ports; the packages' system services are not
# started (policy-rc.d refuses them during the install). Run by `npm test` before anything else.
set -uo pipefail

declare -A binary=( [docker-registry]=/usr/bin/docker-registry [mosquitto]=/usr/sbin/mosquitto [mosquitto-clients]=/usr/bin/mosquitto_sub )
missing=()
for pkg in docker-registry mosquitto mosquitto-clients; do
  [ -x "${binary[$pkg]}" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

fail() {
  echo "ensure-test-services: cannot install ${missing[*]}: $1" >&2
  echo "ensure-test-services: install them by hand (Debian/Ubuntu: sudo apt-get install -y ${missing[*]}) and run the tests again." >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available on this machine"
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else fail "not root and sudo needs a password"; fi

echo "ensure-test-services: installing ${missing[*]} (apt-get update first)"
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  # Exit code 101 tells invoke-rc.d not to start the packages' services.
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null && "${sudo[@]}" chmod +x "$policy" && made_policy=1
fi
cleanup() { [ "$made_policy" -eq 1 ] && "${sudo[@]}" rm -f "$policy"; }
trap cleanup EXIT

"${sudo[@]}" apt-get update -q >/dev/null || fail "apt-get update failed (is a Debian mirror reachable?)"
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
  || fail "apt-get install failed"
for pkg in "${missing[@]}"; do
  [ -x "${binary[$pkg]}" ] || fail "$pkg installed but ${binary[$pkg]} is not there"
done
echo "ensure-test-services: installed ${missing[*]}"
