#!/usr/bin/env bash
# The project's test environment: real control planes as local processes on loopback.
#
#   testenv.sh up      build what is missing (cached by version), start everything, print exports
#   testenv.sh down    stop everything `up` started
#   testenv.sh status  what runs, and the exports
#   testenv.sh build   only build what is missing (CI starts it early, in the background)
#
# Components: etcd + kube-apiserver (with the project's pinned CRDs installed), istiod
# (pilot-discovery, out of cluster) as the API server's validating webhook for Istio's groups, a
# Consul CE agent in dev mode with ACLs on, istioctl when it could be built, and a Zipkin server
# (the jar from Maven Central, run by the machine's Java) as the real trace backend.
# `eval "$(testenv.sh up)"` then `cargo test --workspace --all-features -- --ignored` runs the
# live suites by hand.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${MESH_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mesh-testenv}
run=${MESH_TESTENV_RUN:-$cache/run}
mkdir -p "$cache/logs"

log() { echo "testenv: $*" >&2; }
die() { echo "testenv: error: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# built NAME VERSION: path of the cached binary, building it first when missing.
built() {
  local name=$1 version=$2 dir="$cache/$1-$2"
  # One build per component at a time: `build` may run in the background while `up` waits here.
  exec {lock}>"$cache/$name-$version.lock"
  flock "$lock"
  if [ ! -x "$dir/$name" ]; then
    log "building $name $version (once; log: $cache/logs/$name-$version.log)"
    local started=$SECONDS
    if ! CONSUL_SUBMODULE_PINS="${CONSUL_SUBMODULE_PINS:-}" "$here/build-go.sh" "$name" "$version" "$dir" >"$cache/logs/$name-$version.log" 2>&1; then
      tail -20 "$cache/logs/$name-$version.log" >&2
      die "building $name $version failed (full log: $cache/logs/$name-$version.log)"
    fi
    log "built $name $version in $((SECONDS - started)) s"
  fi
  flock -u "$lock"
  echo "$dir/$name"
}

# zipkin_jar: path of the cached Zipkin server jar, fetched from Maven Central first when missing.
zipkin_jar() {
  local dir="$cache/zipkin-$ZIPKIN_VERSION"
  exec {lock}>"$cache/zipkin-$ZIPKIN_VERSION.lock"
  flock "$lock"
  if [ ! -f "$dir/zipkin-server.jar" ]; then
    command -v mvn >/dev/null 2>&1 || die "Maven (mvn) is missing; it fetches the Zipkin server jar"
    log "fetching zipkin-server $ZIPKIN_VERSION from Maven Central (once; log: $cache/logs/zipkin-$ZIPKIN_VERSION.log)"
    mkdir -p "$dir"
    if ! mvn -B -q dependency:copy "-Dartifact=io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec" \
      "-DoutputDirectory=$dir" >"$cache/logs/zipkin-$ZIPKIN_VERSION.log" 2>&1; then
      tail -20 "$cache/logs/zipkin-$ZIPKIN_VERSION.log" >&2
      die "fetching zipkin-server $ZIPKIN_VERSION failed"
    fi
    mv "$dir/zipkin-server-$ZIPKIN_VERSION-exec.jar" "$dir/zipkin-server.jar"
  fi
  flock -u "$lock"
  echo "$dir/zipkin-server.jar"
}

etcd_binary() {
  if command -v etcd >/dev/null 2>&1; then command -v etcd; else built etcd "$ETCD_VERSION"; fi
}

alive() { [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

start() { # start NAME CMD...: a detached process with its log and pid under $run
  local name=$1; shift
  setsid "$@" >"$run/$name.log" 2>&1 </dev/null &
  echo $! >"$run/$name.pid"
}

wait_until() { # wait_until SECONDS WHAT CMD...
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then die "$what did not come up in ${limit}s"; fi
    sleep 0.5
  done
}

certs() {
  local d="$run/pki"
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mesh-testenv-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
  # The tests' identity: a member of system:masters.
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=mesh-e2e" \
    -keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
  # Extensions make it an X.509 v3 certificate: rustls refuses v1.
  printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' >"$d/client.ext"
  openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/client.ext" -out "$d/client.crt" 2>/dev/null
  # istiod's: its webhook's serving certificate on loopback, and its client identity towards the
  # API server (a user of its own, not system:masters: it may only read, see up_istiod).
  openssl req -newkey rsa:2048 -nodes -subj "/CN=mesh-istiod" \
    -keyout "$d/istiod.key" -out "$d/istiod.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' >"$d/istiod.ext"
  openssl x509 -req -in "$d/istiod.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/istiod.ext" -out "$d/istiod.crt" 2>/dev/null
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

kube_get() { # kube_get PATH: GET against the API server with the tests' identity
  curl -sf --cacert "$run/pki/ca.crt" --cert "$run/pki/client.crt" --key "$run/pki/client.key" \
    "https://127.0.0.1:$(cat "$run/kube-apiserver.port")$1"
}

# kube_send METHOD PATH JSON: the HTTP status of a request with the tests' identity; the answer's
# body is in $run/answer.json.
kube_send() {
  curl -s -o "$run/answer.json" -w '%{http_code}' --cacert "$run/pki/ca.crt" \
    --cert "$run/pki/client.crt" --key "$run/pki/client.key" -H 'Content-Type: application/json' \
    -X "$1" --data-binary "$3" "https://127.0.0.1:$(cat "$run/kube-apiserver.port")$2"
}

kube_create() { # kube_create COLLECTION JSON: created, or already there
  local code; code=$(kube_send POST "$1" "$2")
  case "$code" in
    201 | 409) ;;
    *) cat "$run/answer.json" >&2; die "creating in $1 answered $code" ;;
  esac
}

install_crds() {
  local port; port=$(cat "$run/kube-apiserver.port")
  local n=0
  for f in "$root"/crates/mesh-kube/schemas/*.json; do
    case "$(basename "$f")" in
      gateway.networking.k8s.io_httproutes.*) [ "$(basename "$f")" = "$GATEWAY_API_HTTPROUTE" ] || continue ;;
    esac
    local code
    code=$(curl -s -o "$run/crd-answer.json" -w '%{http_code}' --cacert "$run/pki/ca.crt" \
      --cert "$run/pki/client.crt" --key "$run/pki/client.key" -H 'Content-Type: application/json' \
      -X POST --data-binary "@$f" "https://127.0.0.1:$port/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    case "$code" in
      201 | 409) n=$((n + 1)) ;;
      *) cat "$run/crd-answer.json" >&2; die "installing $(basename "$f") answered $code" ;;
    esac
  done
  # Wait until every CRD is Established.
  local deadline=$((SECONDS + 60))
  until [ "$(kube_get /apis/apiextensions.k8s.io/v1/customresourcedefinitions | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
print(sum(1 for i in items if any(c["type"] == "Established" and c["status"] == "True"
                                   for c in (i.get("status") or {}).get("conditions") or [])))')" = "$n" ]; do
    [ $SECONDS -lt $deadline ] || die "CRDs were not Established within 60s"
    sleep 0.5
  done
  log "installed $n CRDs"
}

write_kubeconfig() {
  local port; port=$(cat "$run/kube-apiserver.port")
  cat >"$run/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mesh-testenv
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority: $run/pki/ca.crt
users:
- name: mesh-e2e
  user:
    client-certificate: $run/pki/client.crt
    client-key: $run/pki/client.key
contexts:
- name: mesh-testenv
  context: {cluster: mesh-testenv, user: mesh-e2e, namespace: default}
current-context: mesh-testenv
EOF
}

up_kube() {
  local etcd kas
  etcd=$(etcd_binary)
  kas=$(built kube-apiserver "$KUBERNETES_VERSION")
  local ep pp kp
  ep=$(free_port) pp=$(free_port) kp=$(free_port)
  start etcd "$etcd" --name testenv --data-dir "$run/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$ep" --advertise-client-urls "http://127.0.0.1:$ep" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "testenv=http://127.0.0.1:$pp" --quota-backend-bytes 2147483648
  wait_until 60 etcd curl -sf "http://127.0.0.1:$ep/health"
  echo "$kp" >"$run/kube-apiserver.port"
  # Every write that reaches the server, for the live contract harness's write counts.
  cat >"$run/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
# istiod's own (refused) leader-election writes are not the tests'.
- level: None
  users: [mesh-istiod]
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
EOF
  start kube-apiserver "$kas" --etcd-servers "http://127.0.0.1:$ep" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$kp" \
    --tls-cert-file "$run/pki/server.crt" --tls-private-key-file "$run/pki/server.key" \
    --client-ca-file "$run/pki/ca.crt" --cert-dir "$run/pki" \
    --service-account-key-file "$run/pki/sa.pub" --service-account-signing-key-file "$run/pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-cluster-ip-range 10.96.0.0/16 --authorization-mode RBAC --allow-privileged=true \
    --disable-admission-plugins ServiceAccount --enable-priority-and-fairness=false \
    --endpoint-reconciler-type none \
    --audit-policy-file "$run/audit-policy.yaml" --audit-log-path "$run/audit.log" \
    --audit-log-mode blocking --audit-log-format json
  wait_until 120 kube-apiserver kube_get /readyz
  write_kubeconfig
  install_crds
}

write_istiod_kubeconfig() {
  cat >"$run/istiod/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mesh-testenv
  cluster:
    server: https://127.0.0.1:$(cat "$run/kube-apiserver.port")
    certificate-authority: $run/pki/ca.crt
users:
- name: mesh-istiod
  user:
    client-certificate: $run/pki/istiod.crt
    client-key: $run/pki/istiod.key
contexts:
- name: mesh-testenv
  context: {cluster: mesh-testenv, user: mesh-istiod}
current-context: mesh-testenv
EOF
}

# A VirtualService that only Istio's own validation refuses (its CRD schema accepts it): no
# http, tcp or tls route. The API server refuses it once istiod's webhook is in the path.
ISTIOD_PROBE='{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"mesh-testenv-istiod-probe","namespace":"default"},"spec":{"hosts":["probe"]}}'

istiod_refuses_the_probe() {
  [ "$(kube_send POST '/apis/networking.istio.io/v1/namespaces/default/virtualservices?dryRun=All' "$ISTIOD_PROBE")" = 400 ] &&
    grep -q 'denied the request' "$run/answer.json"
}

# istiod (pilot-discovery) out of cluster, as the API server's validating webhook for Istio's
# groups: the objects the tests write, and their dry runs (the webhook has no side effects), go
# through Istio's real admission. It reads the cluster as a user of its own that may only read
# (so its leader-elected controllers never run: no status writes, no ConfigMaps in the tests'
# namespaces), serves its webhook on loopback with a certificate of the test CA, and runs no CA.
up_istiod() {
  local bin; bin=$(built pilot-discovery "$ISTIO_MODULE_VERSION")
  mkdir -p "$run/istiod"
  write_istiod_kubeconfig
  kube_create /apis/rbac.authorization.k8s.io/v1/clusterroles \
    '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"mesh-testenv-istiod"},"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["get","list","watch"]}]}'
  kube_create /apis/rbac.authorization.k8s.io/v1/clusterrolebindings \
    '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"mesh-testenv-istiod"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"mesh-testenv-istiod"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"mesh-istiod"}]}'
  local https http grpc sgrpc mon ctrlz
  https=$(free_port) http=$(free_port) grpc=$(free_port) sgrpc=$(free_port) mon=$(free_port) ctrlz=$(free_port)
  echo "$https" >"$run/istiod.port"
  echo '{}' >"$run/istiod/mesh.yaml"
  echo '{}' >"$run/istiod/meshNetworks.yaml"
  # Empty webhook configuration names: istiod patches no webhook configuration (ours included).
  (cd "$run/istiod" && POD_NAMESPACE=istio-system ENABLE_CA_SERVER=false \
    VALIDATION_WEBHOOK_CONFIG_NAME='' INJECTION_WEBHOOK_CONFIG_NAME='' \
    PILOT_ENABLE_GATEWAY_API_STATUS=false PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER=false \
    start istiod "$bin" discovery --kubeconfig "$run/istiod/kubeconfig" \
    --tlsCertFile "$run/pki/istiod.crt" --tlsKeyFile "$run/pki/istiod.key" --caCertFile "$run/pki/ca.crt" \
    --httpsAddr "127.0.0.1:$https" --httpAddr "127.0.0.1:$http" --grpcAddr "127.0.0.1:$grpc" \
    --secureGRPCAddr "127.0.0.1:$sgrpc" --monitoringAddr "127.0.0.1:$mon" \
    --ctrlz_address 127.0.0.1 --ctrlz_port "$ctrlz" --profile=false \
    --meshConfig "$run/istiod/mesh.yaml" --networksConfig "$run/istiod/meshNetworks.yaml")
  wait_until 120 istiod curl -sf --cacert "$run/pki/ca.crt" "https://127.0.0.1:$https/ready"
  local ca; ca=$(base64 -w0 <"$run/pki/ca.crt")
  # Our own name (istiod manages `istio-validator-*`), the path istiod serves its validation on
  # (pkg/webhooks/validation/server), Istio's groups as Istio's chart registers them.
  kube_create /apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations "$(cat <<EOF
{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
 "metadata": {"name": "mesh-testenv-istiod"},
 "webhooks": [{"name": "validation.istio.mesh-testenv.local",
   "clientConfig": {"url": "https://127.0.0.1:$https/validate", "caBundle": "$ca"},
   "rules": [{"operations": ["CREATE", "UPDATE"],
     "apiGroups": ["networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io"],
     "apiVersions": ["*"], "resources": ["*"], "scope": "*"}],
   "failurePolicy": "Fail", "sideEffects": "None", "admissionReviewVersions": ["v1"],
   "timeoutSeconds": 10}]}
EOF
)"
  # The configuration takes effect once the API server has seen it.
  wait_until 30 "istiod's webhook (refusing a VirtualService without routes)" istiod_refuses_the_probe
  log "istiod validates Istio's groups (https://127.0.0.1:$https/validate)"
}

up_consul() {
  local consul
  consul=$(built consul "$CONSUL_VERSION")
  echo "$consul" >"$run/consul.path"
  local token
  token=$(python3 -c 'import uuid; print(uuid.uuid4())')
  echo "$token" >"$run/consul.token"
  local http server lan wan
  http=$(free_port) server=$(free_port) lan=$(free_port) wan=$(free_port)
  echo "$http" >"$run/consul.port"
  cat >"$run/consul.hcl" <<EOF
bind_addr = "127.0.0.1"
client_addr = "127.0.0.1"
ports {
  http = $http
  https = -1
  grpc = -1
  grpc_tls = -1
  dns = -1
  server = $server
  serf_lan = $lan
  serf_wan = $wan
}
acl {
  enabled = true
  default_policy = "deny"
  tokens { initial_management = "$token" }
}
connect { enabled = true }
EOF
  start consul "$consul" agent -dev -config-file "$run/consul.hcl"
  wait_until 60 consul curl -sf -H "X-Consul-Token: $token" "http://127.0.0.1:$http/v1/status/leader"
  # A leader and the CA must be ready before config entries are written.
  wait_until 60 "consul's Connect CA" curl -sf -H "X-Consul-Token: $token" \
    "http://127.0.0.1:$http/v1/connect/ca/roots"
}

# Starts Zipkin (in-memory storage) without waiting: the JVM takes a while, so `up` waits for it
# last (wait_zipkin).
start_zipkin() {
  command -v java >/dev/null 2>&1 || die "Java is missing; it runs the Zipkin server"
  local jar port
  jar=$(zipkin_jar)
  port=$(free_port)
  echo "$port" >"$run/zipkin.port"
  QUERY_PORT=$port start zipkin java -Xmx512m -XX:TieredStopAtLevel=1 -jar "$jar"
}

wait_zipkin() {
  wait_until 180 zipkin curl -sf "http://127.0.0.1:$(cat "$run/zipkin.port")/health"
}

exports() {
  echo "export MESH_TESTENV=1"
  echo "export MESH_E2E_KUBECONFIG='$run/kubeconfig'"
  echo "export MESH_TESTENV_AUDIT_LOG='$run/audit.log'"
  echo "export CONSUL_HTTP_ADDR='http://127.0.0.1:$(cat "$run/consul.port")'"
  echo "export CONSUL_HTTP_TOKEN='$(cat "$run/consul.token")'"
  echo "export MESH_CONSUL_BIN='$(cat "$run/consul.path")'"
  echo "export MESH_E2E_ZIPKIN_URL='http://127.0.0.1:$(cat "$run/zipkin.port")'"
  if [ -f "$run/istioctl.path" ]; then echo "export MESH_ISTIOCTL='$(cat "$run/istioctl.path")'"; fi
  if [ -f "$run/istiod.pid" ]; then
    echo "export MESH_E2E_ISTIOD='https://127.0.0.1:$(cat "$run/istiod.port")/validate'"
  fi
}

# Whether every component `up` started still runs (istiod only when it was started).
running() {
  alive kube-apiserver && alive consul && alive zipkin && { [ ! -f "$run/istiod.pid" ] || alive istiod; }
}

up() {
  if running; then exports; return; fi
  down >/dev/null 2>&1 || true
  mkdir -p "$run"
  start_zipkin
  certs
  up_kube
  # MESH_TESTENV_ISTIOD=0: no webhook (Istio objects then meet only their CRD schemas).
  if [ "${MESH_TESTENV_ISTIOD:-1}" != 0 ]; then up_istiod; fi
  up_consul
  wait_zipkin
  if [ "${MESH_TESTENV_ISTIOCTL:-1}" != 0 ]; then
    if istioctl=$(built istioctl "$ISTIO_MODULE_VERSION"); then echo "$istioctl" >"$run/istioctl.path"; fi
  fi
  exports
}

down() {
  [ -d "$run" ] || { log "nothing runs"; return 0; }
  for pidfile in "$run"/*.pid; do
    [ -f "$pidfile" ] || continue
    local pid; pid=$(cat "$pidfile")
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
  sleep 0.5
  for pidfile in "$run"/*.pid; do
    [ -f "$pidfile" ] || continue
    kill -9 -- "-$(cat "$pidfile")" 2>/dev/null || true
  done
  rm -rf "$run"
  log "stopped"
}

status() {
  for c in etcd kube-apiserver istiod consul zipkin; do
    if alive "$c"; then echo "# $c: running (pid $(cat "$run/$c.pid"))"; else echo "# $c: not running"; fi
  done
  if running; then exports; fi
}

# Builds every component that is not cached yet, and starts nothing.
build_all() {
  etcd_binary >/dev/null
  built kube-apiserver "$KUBERNETES_VERSION" >/dev/null
  built consul "$CONSUL_VERSION" >/dev/null
  built istioctl "$ISTIO_MODULE_VERSION" >/dev/null
  # After istioctl: most of its packages are istioctl's, already in the Go build cache.
  built pilot-discovery "$ISTIO_MODULE_VERSION" >/dev/null
  zipkin_jar >/dev/null
  log "every component is built ($cache)"
}

case "${1:-}" in
  up) up ;;
  build) build_all ;;
  # GET a path of the running API server (for `cargo xtask core-schemas`).
  openapi) kube_get "${2:?a path such as /openapi/v3/api/v1}" ;;
  down) down ;;
  status) status ;;
  # One component at a time, for debugging the environment itself.
  up-kube) mkdir -p "$run" && certs && up_kube ;;
  up-istiod) up_istiod ;;
  up-consul) mkdir -p "$run" && up_consul ;;
  up-zipkin) mkdir -p "$run" && start_zipkin && wait_zipkin ;;
  *) echo "usage: testenv.sh up|down|status|build" >&2; exit 2 ;;
esac
