#!/usr/bin/env bash
# Builds one Go component of the test environment from the Go module proxy into a
# versioned cache directory outside the repository.
#
#   build-go.sh kube-apiserver|etcd|consul|istioctl|pilot-discovery VERSION OUT_DIR
#
# A wrapper module requires the upstream module at VERSION; `replace` lines that point
# upstream's own submodules at local paths are rewritten to those submodules' published
# versions, so the build needs nothing but the module proxy.
set -euo pipefail
component=$1 version=$2 out=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/mesh-testenv-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local

upstream_gomod() { # module@version -> path of its go.mod in the module cache
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p'
}

# Upstream's replace directives that point at other modules (not local paths) are carried over.
carry_replaces() {
  python3 - "$1" >replaces.txt <<'PY'
import re, sys
text = open(sys.argv[1]).read()
lines = []
for block in re.findall(r'^replace \((.*?)^\)', text, re.S | re.M):
    lines += block.splitlines()
lines += re.findall(r'^replace ([^(].*)$', text, re.M)
for line in lines:
    line = line.split('//')[0].strip()
    m = re.match(r'(\S+)(?: (\S+))? => (\S+) (\S+)$', line)
    if m and not m.group(3).startswith('.'):
        old = m.group(1) + ('@' + m.group(2) if m.group(2) else '')
        print(f"{old}={m.group(3)}@{m.group(4)}")
PY
  while read -r r; do go mod edit -replace "$r"; done <replaces.txt
}

case "$component" in
  kube-apiserver)
    go mod init mesh-testenv/kube-apiserver >/dev/null 2>&1
    staging="v0.${version#v1.}"
    gomod=$(upstream_gomod "k8s.io/kubernetes@$version")
    # Upstream replaces every k8s.io staging module with ./staging/src/k8s.io/NAME.
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/[a-z0-9-]*$#\1#p' "$gomod" | sort -u > staging.txt
    [ -s staging.txt ] || { echo "no staging replaces found in $gomod" >&2; exit 1; }
    while read -r m; do go mod edit -replace "$m=$m@$staging"; done < staging.txt
    go mod edit -require "k8s.io/kubernetes@$version"
    pkg=k8s.io/kubernetes/cmd/kube-apiserver ;;
  etcd)
    go mod init mesh-testenv/etcd >/dev/null 2>&1
    go mod edit -require "go.etcd.io/etcd/server/v3@$version"
    pkg=go.etcd.io/etcd/server/v3 ;;
  consul)
    go mod init mesh-testenv/consul >/dev/null 2>&1
    gomod=$(upstream_gomod "github.com/hashicorp/consul@$version")
    # Upstream replaces its submodules (api, sdk, proto-public, ...) with local paths.
    sed -n 's#^[[:space:]]*\(github.com/hashicorp/consul/[a-z0-9/-]*\) => \./.*$#\1#p' "$gomod" | sort -u > subs.txt
    carry_replaces "$gomod"
    go mod edit -require "github.com/hashicorp/consul@$version"
    # Each local-path submodule is required at the version upstream's go.mod asks for.
    while read -r m; do
      want=$(sed -n "s#^[[:space:]]*$m \(v[^ ]*\).*#\1#p" "$gomod" | head -1)
      [ -n "$want" ] && go mod edit -require "$m@$want"
    done < subs.txt
    # Where upstream's tree is ahead of the submodule version its go.mod names (versions.env).
    for pin in ${CONSUL_SUBMODULE_PINS:-}; do go mod edit -require "github.com/hashicorp/consul/$pin"; done
    pkg=github.com/hashicorp/consul ;;
  istioctl | pilot-discovery)
    # One wrapper module for both: same requirements, so pilot-discovery (istiod) reuses the Go
    # build cache istioctl's build filled (most of its packages are istioctl's).
    go mod init mesh-testenv/istio >/dev/null 2>&1
    gomod=$(upstream_gomod "istio.io/istio@$version")
    carry_replaces "$gomod"
    go mod edit -require "istio.io/istio@$version"
    case "$component" in
      istioctl) pkg=istio.io/istio/istioctl/cmd/istioctl ;;
      pilot-discovery) pkg=istio.io/istio/pilot/cmd/pilot-discovery ;;
    esac ;;
  *) echo "unknown component $component" >&2; exit 2 ;;
esac
mkdir -p "$out"
go build -trimpath -ldflags='-s -w' -o "$out/$component" "$pkg"
echo "built $out/$component"
