#!/usr/bin/env bash
# The full test suite: installs what the tests need, then typecheck, lint, build and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests drive for real: redis-server/redis-cli, promtool/prometheus, openssl, and
# Debian's chromium, which playwright-core drives to load the status page.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v promtool >/dev/null || missing+=(prometheus)
command -v openssl >/dev/null || missing+=(openssl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages)"
  as_root=""
  [ "$(id -u)" -eq 0 ] || as_root="sudo"
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's prometheus package starts a server on :9090 at install; the tests start their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then systemctl stop prometheus || true; fi

# Node 24 from the `node` devDependency, whatever node is on the machine.
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
export PATH="$PWD/node_modules/.bin:$PATH"
echo "node $(node --version), redis $(redis-server --version | grep -o 'v=[0-9.]*'), $(promtool --version 2>&1 | head -1)"

tsc -p tsconfig.test.json
# ESLint (type-aware) and the Prettier check, as `npm run lint` runs them.
npm run -s lint
# The same build step the Dockerfile runs; the tests spawn its output (dist/cli.js) like the image does.
npm run build --silent

# Each file runs in its own process (msal caches per process); two at a time on a 2-core machine.
node --test --test-concurrency=2 --test-timeout=180000 ${TEST_FILES:-'test/**/*.test.ts'}
