#!/usr/bin/env bash
# Figures for `gwsim serve --api` (release build): start to ready, kubectl apply of 1,000
# routes (client-side and server-side) and the time until the last route is Accepted, memory
# at 10,000 routes, watch fan-out to 100 watchers. A benchmark: it prints figures, it never
# fails on them. Usage: apiserver/figures.sh [path/to/gwsim]   (default: target/release/gwsim)
# or `cargo xtask bench-api` (builds the release binary first).
set -euo pipefail
cd "$(dirname "$0")/.."
gwsim=${1:-target/release/gwsim}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

routes() { # N FILE: N HTTPRoutes on one Gateway, 2,000 hostnames, 50 Services
  python3 - "$1" >"$2" <<'PY'
import sys
n = int(sys.argv[1])
print("""apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gwsim}
spec: {controllerName: gateway.gwsim.dev/controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: gwsim
  listeners: [{name: http, protocol: HTTP, port: 80}]""")
for i in range(n):
    print(f"""---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: r{i}, namespace: default}}
spec:
  parentRefs: [{{name: gw}}]
  hostnames: [h{i % 2000}.example]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /p{i}}}}}]
    backendRefs: [{{name: svc{i % 50}, port: 80}}]""")
PY
}
ms() { date +%s%3N; }
start() { # PORT [ARGS...]: starts an insecure server (its pid in $pid), waits until /readyz answers
  local port=$1; shift
  GWSIM_LOG=error,gwsim::controller=debug \
    "$gwsim" serve --api "127.0.0.1:$port" --api-insecure "$@" >/dev/null 2>"$work/log.$port" &
  pid=$!
  pids+=("$pid")
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.001; done
}
kc() { printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: g\n  cluster: {server: "http://127.0.0.1:%s"}\nusers:\n- name: g\n  user: {}\ncontexts:\n- name: g\n  context: {cluster: g, user: g}\ncurrent-context: g\n' "$1" >"$work/kc.$1"; echo "$work/kc.$1"; }

t0=$(ms); start 17001; t1=$(ms)
echo "start to ready (process start to /readyz answering): $((t1 - t0)) ms"

routes 1000 "$work/r1k.yaml"
export KUBECACHEDIR="$work/cache"
start 17002
KUBECONFIG=$(kc 17002) kubectl get ns >/dev/null   # discovery cached, as in a session
t0=$(ms); KUBECONFIG=$(kc 17002) kubectl apply -f "$work/r1k.yaml" >/dev/null; t1=$(ms)
echo "kubectl apply -f 1,000 HTTPRoutes (client-side): $((t1 - t0)) ms"
KUBECONFIG=$(kc 17002) kubectl wait httproute/r999 --timeout=60s \
  --for=jsonpath='{.status.parents[0].conditions[?(@.type=="Accepted")].status}'=True >/dev/null; t2=$(ms)
echo "  ... and until the last route is Accepted: $((t2 - t0)) ms"
echo "  controller runs: $(grep -c 'controller run' "$work/log.17002" || true), for 1,002 writes"
echo "  server RSS after: $(awk '/VmRSS/ {print $2 / 1024 " MiB"}' /proc/"$pid"/status)"
start 17003
KUBECONFIG=$(kc 17003) kubectl get ns >/dev/null
t0=$(ms); KUBECONFIG=$(kc 17003) kubectl apply --server-side -f "$work/r1k.yaml" >/dev/null; t1=$(ms)
echo "kubectl apply --server-side -f 1,000 HTTPRoutes: $((t1 - t0)) ms"

routes 10000 "$work/r10k.yaml"
start 17004
KUBECONFIG=$(kc 17004) kubectl get ns >/dev/null
t0=$(ms); KUBECONFIG=$(kc 17004) kubectl apply --server-side -f "$work/r10k.yaml" >/dev/null; t1=$(ms)
echo "kubectl apply --server-side -f 10,000 HTTPRoutes: $((t1 - t0)) ms"
KUBECONFIG=$(kc 17004) kubectl wait httproute/r9999 --timeout=120s \
  --for=jsonpath='{.status.parents[0].conditions[?(@.type=="Accepted")].status}'=True >/dev/null
echo "memory at 10,000 routes (applied through the API; change log full): $(awk '/VmRSS/ {print $2 / 1024 " MiB"}' /proc/"$pid"/status) RSS, $(awk '/VmHWM/ {print $2 / 1024 " MiB"}' /proc/"$pid"/status) max RSS"

# Watch fan-out: 100 watchers, one change; time until every watcher has the event.
start 17005 -f "$work/r1k.yaml"
rv=$(curl -s http://127.0.0.1:17005/api/v1/namespaces | sed -n 's/.*"resourceVersion":"\([0-9]*\)".*/\1/p' | head -n 1)
for i in $(seq 1 100); do
  curl -sN "http://127.0.0.1:17005/apis/gateway.networking.k8s.io/v1/httproutes?watch=true&resourceVersion=$rv" >"$work/w.$i" &
  pids+=($!)
done
sleep 1
t0=$(ms)
curl -s -X POST -H 'Content-Type: application/json' \
  "http://127.0.0.1:17005/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes" \
  -d '{"metadata":{"name":"fanout"},"spec":{"parentRefs":[{"name":"gw"}]}}' >/dev/null
until [[ $(grep -l '"name":"fanout"' "$work"/w.* 2>/dev/null | wc -l) -ge 100 ]]; do sleep 0.002; done
t1=$(ms)
echo "watch fan-out: 100 watchers all received the ADDED event within $((t1 - t0)) ms of the POST"
