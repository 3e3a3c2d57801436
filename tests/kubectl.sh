#!/usr/bin/env bash
# kubectl against `gwsim serve --api`: the real kubectl, over TLS with the generated
# kubeconfig, through apply, wait, get (columns, pages), describe, explain, server-side apply
# and conflicts, server dry run, an invalid route, patches, logs, watch and delete, with curl through
# the data plane after each change. Every check compares exact text; the first failure stops
# the script with what was expected and what came back.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v kubectl >/dev/null 2>&1; then
  echo "kubectl is missing: install it (Debian: apt-get install kubernetes-client)" >&2
  exit 1
fi

gwsim=${GWSIM:-}
if [[ -z "$gwsim" ]]; then
  cargo build --quiet --bin gwsim
  gwsim=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/gwsim
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
checks=0
expect_eq() { # NAME EXPECTED ACTUAL
  checks=$((checks + 1))
  if [[ "$2" != "$3" ]]; then
    fail "$1"$'\n'"--- expected"$'\n'"$2"$'\n'"--- got"$'\n'"$3"
  fi
}
expect_contains() { # NAME NEEDLE HAYSTACK
  checks=$((checks + 1))
  if [[ "$3" != *"$2"* ]]; then
    fail "$1: expected to contain"$'\n'"$2"$'\n'"--- got"$'\n'"$3"
  fi
}
# The header and the columns that do not depend on time (AGE dropped).
columns() { awk '{ $NF=""; print }' | sed 's/ *$//'; }

# Start the API on a free port; it writes the kubeconfig once it listens.
# The data plane serves listener port P on P + 21000 of each Gateway's own 127.x.y.z address.
"$gwsim" serve --api 127.0.0.1:0 --kubeconfig-out "$work/kubeconfig" --port-offset 21000 \
  --explain-header >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do [[ -s "$work/kubeconfig" ]] && break; sleep 0.05; done
[[ -s "$work/kubeconfig" ]] || fail "no kubeconfig written; server log: $(cat "$work/server.log")"
export KUBECONFIG="$work/kubeconfig"
export KUBECACHEDIR="$work/cache"
expect_eq "readyz" "ok" "$(kubectl get --raw /readyz)"

# The data plane: the URL of a Gateway's listener as the server last printed it (a line
# each time it starts serving a listener), and requests through it. The controller and the data
# plane follow writes in the background, so a probe retries for up to 10 s until the answer
# is the expected one, then checks it (the last answer is what a failure shows).
listener_url() { # NAMESPACE/GATEWAY LISTENER
  sed -n "s|^gateway $1 listener $2 ([A-Z]*) at ||p" "$work/server.out" | tail -n 1
}
request() { # NAMESPACE/GATEWAY HOST PATH: prints the status code, then headers and body
  local url
  url=$(listener_url "$1" http)
  if [[ -z "$url" ]]; then echo "no listener"; return; fi
  curl -s --max-time 2 -D "$work/headers" -o "$work/body" -w '%{http_code}\n' -H "Host: $2" "$url$3" || true
  cat "$work/headers" "$work/body" 2>/dev/null || true
  rm -f "$work/headers" "$work/body"
}
probe() { # NAME NAMESPACE/GATEWAY HOST PATH STATUS NEEDLE...
  local name=$1 gateway=$2 host=$3 path=$4 want=$5 answer=""
  shift 5
  for _ in $(seq 1 100); do
    answer=$(request "$gateway" "$host" "$path")
    local ok=1
    [[ "$(head -n 1 <<<"$answer")" == "$want" ]] || ok=0
    for needle in "$@"; do [[ "$answer" == *"$needle"* ]] || ok=0; done
    ((ok)) && break
    sleep 0.1
  done
  expect_eq "$name: status" "$want" "$(head -n 1 <<<"$answer")"
  for needle in "$@"; do expect_contains "$name" "$needle" "$answer"; done
}

# A wrong token is refused (negative test of the bearer token).
out=$(kubectl --token=wrong get namespaces 2>&1 || true)
expect_contains "wrong token refused" "error: You must be logged in to the server" "$out"

# Apply the examples.
out=$(kubectl apply -f testdata/apiserver/examples)
expect_eq "apply examples" "namespace/shop created
namespace/payments created
gatewayclass.gateway.networking.k8s.io/gwsim created
gateway.gateway.networking.k8s.io/web created
gateway.gateway.networking.k8s.io/internal created
deployment.apps/storefront created
service/storefront created
deployment.apps/checkout created
service/checkout created
configmap/storefront-settings created
secret/storefront-token created
httproute.gateway.networking.k8s.io/storefront created
httproute.gateway.networking.k8s.io/checkout created
grpcroute.gateway.networking.k8s.io/checkout-grpc created
referencegrant.gateway.networking.k8s.io/shop-to-checkout created" "$out"

# Wait for conditions.
out=$(kubectl wait --for=condition=Accepted gatewayclass/gwsim --timeout=10s)
expect_eq "wait gatewayclass" "gatewayclass.gateway.networking.k8s.io/gwsim condition met" "$out"
out=$(kubectl wait -n shop --for=condition=Programmed gateway --all --timeout=10s)
expect_eq "wait gateways" "gateway.gateway.networking.k8s.io/internal condition met
gateway.gateway.networking.k8s.io/web condition met" "$out"
for route in httproute/storefront httproute/checkout grpcroute/checkout-grpc; do
  out=$(kubectl wait -n shop "$route" --timeout=10s \
    --for=jsonpath='{.status.parents[0].conditions[?(@.type=="Accepted")].status}'=True)
  expect_contains "wait $route Accepted" "condition met" "$out"
done
# The ReferenceGrant, applied last, lets checkout reach payments: once that shows, the
# controller has run over every write of the examples.
out=$(kubectl wait -n shop httproute/checkout --timeout=10s \
  --for=jsonpath='{.status.parents[0].conditions[?(@.type=="ResolvedRefs")].status}'=True)
expect_contains "wait checkout ResolvedRefs" "condition met" "$out"

# Re-applying changes nothing on the server. (kubectl still sends, and reports "configured",
# a patch for routes whose lists the server defaulted, as against a real cluster.)
rv=$(kubectl get httproute -n shop storefront -o jsonpath='{.metadata.resourceVersion}')
out=$(kubectl apply -f testdata/apiserver/examples)
expect_contains "re-apply" "deployment.apps/storefront unchanged" "$out"
expect_eq "re-apply keeps the resourceVersion" "$rv" "$(kubectl get httproute -n shop storefront -o jsonpath='{.metadata.resourceVersion}')"

# Through the data plane: each route to its echo backend, and a host no route serves.
probe "curl storefront" shop/web shop.example /cart 200 "x-gwsim-decision: route=shop/storefront" '"service":"storefront"' '"namespace":"shop"'
probe "curl checkout" shop/web shop.example /checkout/pay 200 "x-gwsim-decision: route=shop/checkout" '"service":"checkout"' '"namespace":"payments"'
probe "curl unknown host" shop/web nobody.example / 404 "x-gwsim-decision: no route"

# Columns of every kind.
expect_eq "get gatewayclass" "NAME CONTROLLER ACCEPTED
gwsim gateway.gwsim.dev/controller True" "$(kubectl get gc | columns | tr -s ' ')"
expect_eq "get gateways" "NAMESPACE NAME CLASS ADDRESS PROGRAMMED
shop internal gwsim $(kubectl get gtw -n shop internal -o jsonpath='{.status.addresses[0].value}') True
shop web gwsim $(kubectl get gtw -n shop web -o jsonpath='{.status.addresses[0].value}') True" "$(kubectl get gtw -A | columns | tr -s ' ')"
expect_eq "get httproutes" 'NAME HOSTNAMES
checkout ["shop.example"]
storefront ["shop.example"]' "$(kubectl get httproutes -n shop | columns | tr -s ' ')"
expect_eq "get httproutes by label" 'NAME HOSTNAMES
checkout ["shop.example"]' "$(kubectl get httproutes -n shop -l team=payments | columns | tr -s ' ')"
expect_eq "get grpcroutes" 'NAME HOSTNAMES
checkout-grpc ["checkout.internal.example"]' "$(kubectl get grpcroutes -n shop | columns | tr -s ' ')"
expect_eq "get referencegrants" "NAME
shop-to-checkout" "$(kubectl get refgrant -n payments | columns | tr -s ' ')"
# Each Gateway's generated Deployment (docs/behaviour.md, Provisioning) is listed with the user's.
expect_eq "get deployments" "NAME READY UP-TO-DATE AVAILABLE
internal-gwsim 1/1 1 1
storefront 2/2 2 2
web-gwsim 1/1 1 1" "$(kubectl get deploy -n shop | columns | tr -s ' ')"
expect_eq "get pods" "4" "$(kubectl get pods -n shop -o name | wc -l | tr -d ' ')"
expect_eq "generated for web" "deployment.apps/web-gwsim
pod/$(kubectl get pods -n shop -l gateway.networking.k8s.io/gateway-name=web -o jsonpath='{.items[0].metadata.name}')
service/web-gwsim" "$(kubectl get deploy,pods,svc -n shop -l gateway.networking.k8s.io/gateway-name=web -o name)"
expect_eq "generated objects are the Gateway's" "Gateway/web" \
  "$(kubectl get svc -n shop web-gwsim -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')"
expect_eq "the generated Service shows the Gateway's address" \
  "$(kubectl get gtw -n shop web -o jsonpath='{.status.addresses[0].value}')" \
  "$(kubectl get svc -n shop web-gwsim -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
expect_contains "get services" "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S)" "$(kubectl get svc -n shop | columns | tr -s ' ')"
expect_contains "service ports" "80/TCP" "$(kubectl get svc -n shop storefront)"
expect_contains "get endpointslices" "NAME ADDRESSTYPE PORTS ENDPOINTS" "$(kubectl get endpointslices -n shop | columns | tr -s ' ')"
expect_eq "endpoints follow the deployment" "2" \
  "$(kubectl get endpointslices -n shop -l kubernetes.io/service-name=storefront -o jsonpath='{range .items[*].endpoints[*]}{.addresses[0]}{"\n"}{end}' | wc -l | tr -d ' ')"
expect_eq "get configmaps" "NAME DATA
storefront-settings 2" "$(kubectl get cm -n shop | columns | tr -s ' ')"
expect_contains "get secrets" "storefront-token Opaque" "$(kubectl get secrets -n shop | tr -s ' ')"
expect_eq "get namespaces" "NAME STATUS
default Active
payments Active
shop Active" "$(kubectl get ns | columns | tr -s ' ')"
expect_contains "get by category" "httproute.gateway.networking.k8s.io/storefront" "$(kubectl get gateway-api -n shop)"
expect_contains "explain" "FIELD: hostnames <[]string>" "$(kubectl explain httproute.spec.hostnames)"
expect_contains "describe gateway" "Reason:                Programmed" "$(kubectl describe gateway -n shop web)"

# Server-side apply, then a second manager that conflicts, then forces.
out=$(kubectl apply --server-side -f testdata/apiserver/server-side.yaml)
expect_eq "server-side apply" "httproute.gateway.networking.k8s.io/promo serverside-applied" "$out"
sed 's/promo.example/sale.example/' testdata/apiserver/server-side.yaml >"$work/promo2.yaml"
out=$(kubectl apply --server-side --field-manager=marketing -f "$work/promo2.yaml" 2>&1 || true)
expect_eq "conflicting manager" 'error: Apply failed with 1 conflict: conflict with "kubectl": .spec.hostnames' "$(head -n 1 <<<"$out")"
kubectl apply --server-side --field-manager=marketing --force-conflicts -f "$work/promo2.yaml" >/dev/null
expect_eq "forced apply" '["sale.example"]' "$(kubectl get httproute -n shop promo -o jsonpath='{.spec.hostnames}')"
expect_eq "managers" "kubectl marketing" \
  "$(kubectl get httproute -n shop promo --show-managed-fields -o jsonpath='{.metadata.managedFields[*].manager}')"
probe "curl the forced host" shop/web sale.example / 200 "x-gwsim-decision: route=shop/promo"
probe "curl the host given up" shop/web promo.example / 404 "x-gwsim-decision: no route"

# Server dry run: the answer, and nothing stored.
sed 's/name: promo/name: dry/' testdata/apiserver/server-side.yaml >"$work/dry.yaml"
expect_eq "dry run" "httproute.gateway.networking.k8s.io/dry created (server dry run)" \
  "$(kubectl apply --dry-run=server -f "$work/dry.yaml")"
out=$(kubectl get httproute -n shop dry 2>&1 || true)
expect_eq "dry run stored nothing" 'Error from server (NotFound): httproutes.gateway.networking.k8s.io "dry" not found' "$out"
probe "dry run serves nothing" shop/web promo.example / 404 "x-gwsim-decision: no route"

# An invalid route: the API server's message, exactly.
out=$(kubectl apply -f testdata/apiserver/invalid-route.yaml 2>&1 || true)
expect_eq "invalid route" "The HTTPRoute \"broken\" is invalid: spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']" "$out"
# An unknown field, under strict field validation.
sed 's/hostnames:/hostnamez:/' testdata/apiserver/server-side.yaml | sed 's/name: promo/name: typo/' >"$work/typo.yaml"
out=$(kubectl apply -f "$work/typo.yaml" 2>&1 || true)
expect_contains "unknown field" 'strict decoding error: unknown field "spec.hostnamez"' "$out"

# Patches: merge, JSON, strategic (core kind), and the resourceVersion conflict.
kubectl patch httproute -n shop storefront --type=merge -p '{"spec":{"hostnames":["shop.example","www.shop.example"]}}' >/dev/null
expect_eq "merge patch" '["shop.example","www.shop.example"]' "$(kubectl get httproute -n shop storefront -o jsonpath='{.spec.hostnames}')"
expect_eq "generation moved" "2" "$(kubectl get httproute -n shop storefront -o jsonpath='{.metadata.generation}')"
probe "curl the added host" shop/web www.shop.example / 200 "x-gwsim-decision: route=shop/storefront"
kubectl patch httproute -n shop storefront --type=json -p '[{"op":"remove","path":"/spec/hostnames/1"}]' >/dev/null
expect_eq "json patch" '["shop.example"]' "$(kubectl get httproute -n shop storefront -o jsonpath='{.spec.hostnames}')"
probe "curl the removed host" shop/web www.shop.example / 404 "x-gwsim-decision: no route"
kubectl patch deployment -n shop storefront -p '{"spec":{"replicas":3}}' >/dev/null
out=$(kubectl wait -n shop deploy/storefront --timeout=10s --for=jsonpath='{.status.readyReplicas}'=3)
expect_contains "strategic patch scales" "condition met" "$out"
# The echo servers follow the Deployment: three pods answer.
pods=""
for _ in $(seq 1 300); do
  pod=$(request shop/web shop.example / | sed -n 's/.*"pod":"\([^"]*\)".*/\1/p')
  [[ -n "$pod" && "$pods" != *"$pod;"* ]] && pods="$pods$pod;"
  [[ $(tr -cd ';' <<<"$pods" | wc -c) -ge 3 ]] && break
done
expect_eq "three pods answer" "3" "$(tr -cd ';' <<<"$pods" | wc -c | tr -d ' ')"
# kubectl logs: the echo pod that answered printed upstream's echo server's line for the
# request (the line upstream's suite reads to see mirrored requests), in its own log only.
answer=$(request shop/web shop.example "/logged?n=$$")
pod=$(sed -n 's/.*"pod":"\([^"]*\)".*/\1/p' <<<"$answer")
[[ -n "$pod" ]] || fail "no pod answered: $answer"
logs=$(kubectl logs -n shop "$pod")
expect_contains "kubectl logs: the echo line" "Echoing back request made to /logged?n=$$ to client (127.0.0.1:" "$logs"
expect_contains "kubectl logs: the start lines" "Starting server, listening on port 3000 (http)" "$logs"
other=$(tr ';' '\n' <<<"$pods" | grep -v "^$pod\$" | grep -v '^$' | head -n 1)
expect_eq "another pod did not print it" "" "$(kubectl logs -n shop "$other" | grep "/logged?n=$$" || true)"
expect_eq "kubectl logs --tail=1" "Echoing back request made to /logged?n=$$" \
  "$(kubectl logs -n shop "$pod" --tail=1 | sed 's/ to client.*//')"
expect_contains "kubectl logs --timestamps" "Z Echoing back request made to /logged?n=$$" \
  "$(kubectl logs -n shop "$pod" --timestamps --since=1m | tail -n 1)"
out=$(kubectl logs -n shop "$pod" -c nope 2>&1 || true)
expect_contains "kubectl logs -c of another container" "container nope is not valid for pod $pod" "$out"
out=$(kubectl logs -n shop "$pod" -f 2>&1 || true)
expect_contains "kubectl logs -f is refused" "follow is not supported by gwsim serve --api" "$out"
out=$(kubectl logs -n shop nobody 2>&1 || true)
expect_contains "kubectl logs of no pod" 'pods "nobody" not found' "$out"
old=$(kubectl get httproute -n shop storefront -o json | sed 's/"resourceVersion": "[0-9]*"/"resourceVersion": "1"/')
out=$(kubectl replace -f - <<<"$old" 2>&1 || true)
expect_contains "stale update conflicts" "the object has been modified; please apply your changes to the latest version and try again" "$out"

# Watch: events of a route created and deleted.
kubectl get httproutes -n shop -w --output-watch-events >"$work/watch.out" 2>&1 &
watch_pid=$!
sleep 1
sed 's/name: promo/name: watched/; s/promo.example/watched.example/' testdata/apiserver/server-side.yaml | kubectl apply -f - >/dev/null
kubectl delete httproute -n shop watched >/dev/null
for _ in $(seq 1 50); do grep -q DELETED "$work/watch.out" && break; sleep 0.1; done
kill "$watch_pid" 2>/dev/null || true
events=$(tr -s ' ' <"$work/watch.out" | cut -d' ' -f1-3)
expect_contains "watch sees ADDED" 'ADDED watched ["watched.example"]' "$events"
expect_contains "watch sees DELETED" 'DELETED watched ["watched.example"]' "$events"

# Deleting a route: its path falls back to the other route; deleting that one too: 404.
kubectl delete httproute -n shop checkout >/dev/null
probe "curl after deleting checkout" shop/web shop.example /checkout/pay 200 "x-gwsim-decision: route=shop/storefront"
kubectl delete httproute -n shop storefront >/dev/null
probe "curl after deleting storefront" shop/web shop.example /cart 404 "x-gwsim-decision: no route"

# Lists in pages, as kubectl asks for them (--chunk-size), and a continue token kubectl
# did not make.
for i in 1 2 3 4 5; do
  sed "s/name: promo/name: page$i/; s/promo.example/page$i.example/" testdata/apiserver/server-side.yaml
  echo "---"
done | kubectl apply -f - >/dev/null
expect_eq "chunked list" "page1 page2 page3 page4 page5 promo" \
  "$(kubectl get httproutes -n shop --chunk-size=2 -o name | sed 's|.*/||' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "chunked table" "6" "$(kubectl get httproutes -n shop --chunk-size=4 --no-headers | wc -l | tr -d ' ')"
out=$(kubectl get --raw "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes?limit=2" )
token=$(sed -n 's/.*"continue":"\([^"]*\)".*/\1/p' <<<"$out")
expect_contains "a first page" '"remainingItemCount":4' "$out"
out=$(kubectl get --raw "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes?limit=2&continue=$token")
expect_contains "the next page" '"name":"page3"' "$out"
out=$(kubectl get --raw "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes?limit=2&continue=garbage" 2>&1 || true)
expect_contains "a bad continue token" 'Error from server (BadRequest): invalid continue token: continue key is not valid' "$out"

# Core kinds have schemas: explain, and client-side validation of a misspelt field.
expect_contains "explain service.spec" "FIELD: spec <Object>" "$(kubectl explain service.spec)"
expect_contains "explain deployment replicas" "FIELD: replicas <integer>" "$(kubectl explain deployment.spec.replicas)"
out=$(kubectl apply -f - 2>&1 <<'YAML' || true
apiVersion: v1
kind: ConfigMap
metadata: {name: typo, namespace: shop}
dataa: {a: b}
YAML
)
expect_contains "core kind: unknown field" 'unknown field "dataa"' "$out"

# The deprecated v1alpha2 of TCPRoute (as upstream's conformance manifests still write it):
# applied at its own version and read at both.
out=$(kubectl apply -f - 2>&1 <<'YAML'
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: legacy-tcp, namespace: shop}
spec:
  parentRefs: [{name: web}]
  rules: [{backendRefs: [{name: web, port: 3000}]}]
YAML
)
expect_eq "v1alpha2 TCPRoute applied" "tcproute.gateway.networking.k8s.io/legacy-tcp created" "$out"
expect_eq "read at v1alpha2" "gateway.networking.k8s.io/v1alpha2" \
  "$(kubectl get tcproutes.v1alpha2.gateway.networking.k8s.io legacy-tcp -n shop -o jsonpath='{.apiVersion}')"
expect_eq "read at v1" "gateway.networking.k8s.io/v1" \
  "$(kubectl get tcproutes.v1.gateway.networking.k8s.io legacy-tcp -n shop -o jsonpath='{.apiVersion}')"
kubectl delete tcproute legacy-tcp -n shop >/dev/null

# Delete everything the examples created; the namespaces take their contents with them.
out=$(kubectl delete -f testdata/apiserver/examples --wait=true --ignore-not-found)
expect_contains "delete -f" 'namespace "shop" deleted' "$out"
expect_eq "nothing left in shop" "" "$(kubectl get httproutes,gateways,services,deployments,pods -n shop -o name 2>&1)"
expect_eq "nothing left anywhere" "" "$(kubectl get httproutes,gateways -A -o name)"
# No Gateway: the data plane binds nothing; curl cannot connect.
for _ in $(seq 1 100); do
  [[ "$(request shop/web shop.example / | head -n 1)" == "000" ]] && break
  sleep 0.1
done
expect_eq "no Gateway, no listener" "000" "$(request shop/web shop.example / | head -n 1)"

echo "kubectl.sh: $checks checks passed"
