#!/usr/bin/env python3
"""Two states of 10,000 HTTPRoutes that differ in one route's path, for timing the whole
`gwsim diff` command (README, Benchmarks): 3 Gateways, 5 rules per route, 2,000 hostnames,
10 namespaces, 100 Services; about 7.2 MB of YAML each.

    python3 testdata/scale/diff-states.py DIR
    /usr/bin/time -v target/release/gwsim diff --before DIR/before.yaml --after DIR/after.yaml
"""
import os
import sys


def state(changed):
    out = [
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: gwsim}\n"
        "spec: {controllerName: gateway.gwsim.dev/controller}\n"
    ]
    for ns in ["infra"] + [f"team{i}" for i in range(10)]:
        out.append(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n")
    for g in range(3):
        out.append(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
            f"metadata: {{name: gw{g}, namespace: infra}}\nspec:\n  gatewayClassName: gwsim\n"
            "  listeners:\n  - {name: http, port: 80, protocol: HTTP, "
            "allowedRoutes: {namespaces: {from: All}}}\n"
        )
    for i in range(100):
        out.append(
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: svc{i}, namespace: team{i % 10}}}\n"
            "spec: {ports: [{port: 80}]}\n"
        )
    for r in range(10000):
        rules = []
        for k in range(5):
            path = "/r1234/changed" if changed and r == 1234 and k == 0 else f"/r{r}/p{k}"
            # A Service of the route's own namespace.
            service = ((r + k) % 100) // 10 * 10 + r % 10
            rules.append(
                f"  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n"
                f"    backendRefs: [{{name: svc{service}, port: 80}}]\n"
            )
        out.append(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"
            f"metadata: {{name: route{r}, namespace: team{r % 10}}}\nspec:\n"
            f"  parentRefs: [{{name: gw{r % 3}, namespace: infra}}]\n"
            f"  hostnames: [host{r % 2000}.example.com]\n  rules:\n" + "".join(rules)
        )
    return "---\n".join(out)


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "target/diff-states"
    os.makedirs(directory, exist_ok=True)
    for name, changed in [("before.yaml", False), ("after.yaml", True)]:
        with open(os.path.join(directory, name), "w") as f:
            f.write(state(changed))


if __name__ == "__main__":
    main()
